# The commands the README promises: `make demo` runs the sample job, `make test` runs the tests,
# `make docs` builds the documentation (not part of `make test`).
SWIFT ?= swift
RELEASE = -c release

# The library products with a DocC catalog (Sources/<Module>/<Module>.docc).
DOC_TARGETS = StrataTensor StrataImage StrataText StrataModels StrataCache StrataData StrataPipeline \
	StrataAutodiff StrataTrain StrataSchema

.PHONY: setup build demo test docs clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build $(RELEASE)

demo: build
	$(SWIFT) run $(RELEASE) strata demo

test: setup
	$(SWIFT) test $(RELEASE) -Xswiftc -enable-testing

# One archive per module in .build/docs/<Module>.doccarchive, ready for static hosting; an unresolved
# symbol link or a malformed doc comment is an error.
docs: setup
	$(SWIFT) package --disable-sandbox generate-documentation $(DOC_TARGETS:%=--target %) \
		--output-path .build/docs --warnings-as-errors

clean:
	rm -rf .build
