import sys

from .cache import main

sys.exit(main(sys.argv))
