"""Build the shared Lambda layer into build/layer (`make layer`).

    python infra/build_layer.py            # runtime dependencies (Linux x86_64 wheels, cp312) + the runtime package
    python infra/build_layer.py --no-deps  # the runtime package only: offline, ~1 s

Layout (what Lambda mounts under /opt):

    build/layer/python/<dependencies>      pip --platform manylinux2014_x86_64 --python-version 3.12
    build/layer/python/marketing/          layers/marketing/python/marketing, its data files (catalog,
                                           contact policy, touchpoints, tags) copied in as regular files

Only the runtime distribution goes in: the tools package (CLI, emulator, demo) is never in the layer.
The dependencies are the runtime distribution's (layers/marketing/pyproject.toml), less boto3/botocore/
s3transfer, which the Lambda Python runtime provides (a copy would add ~80 MB to the layer), at the
versions constraints.txt pins, the ones the test suite ran against.
`build/layer.json` records whether the dependencies are in; the CDK app warns when they are not,
because such a layer synthesizes fine but fails at import time once deployed.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "layer"
PACKAGE = ROOT / "layers" / "marketing" / "python" / "marketing"
RUNTIME_PYPROJECT = ROOT / "layers" / "marketing" / "pyproject.toml"
CONSTRAINTS = ROOT / "constraints.txt"

PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.12"
# Provided by the Lambda runtime; pulled in transitively (aws-xray-sdk -> botocore) and removed.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def runtime_requirements(pyproject: Path = RUNTIME_PYPROJECT) -> list[str]:
    """The runtime distribution's [project].dependencies, less what the Lambda runtime already has."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if _dist_name(d) not in RUNTIME_PROVIDED]


def marker(out: Path) -> Path:
    return out.parent / f"{out.name}.json"


def has_dependencies(out: Path = DEFAULT_OUT) -> bool:
    try:
        return bool(json.loads(marker(out).read_text()).get("dependencies"))
    except (OSError, ValueError):
        return False


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}


def copy_package(out: Path = DEFAULT_OUT) -> None:
    """(Re)place the runtime package in the layer; cheap, so the app runs it every synth.

    The package's data files are links into events/ in the source tree; the copy holds their content."""
    site = out / "python"
    site.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".marketing-", dir=site))
    try:
        shutil.copytree(PACKAGE, staged / "marketing", ignore=_ignore)
        target = site / "marketing"
        if target.exists():
            shutil.rmtree(target)
        (staged / "marketing").rename(target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def install_dependencies(out: Path, requirements: list[str]) -> None:
    site = out / "python"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
           "--only-binary=:all:", "--upgrade", "--target", str(site), "--constraint", str(CONSTRAINTS),
           *requirements]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    for name in RUNTIME_PROVIDED:
        for path in site.glob(f"{name}"):
            shutil.rmtree(path)
        for path in site.glob(f"{name}-*.dist-info"):
            shutil.rmtree(path)
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def build(out: Path = DEFAULT_OUT, *, dependencies: bool = True) -> Path:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    requirements = runtime_requirements() if dependencies else []
    if dependencies:
        install_dependencies(out, requirements)
    copy_package(out)
    marker(out).write_text(json.dumps({"dependencies": dependencies, "requirements": requirements,
                                       "platform": PLATFORM, "python": PYTHON_VERSION}, indent=2) + "\n")
    return out


def ensure(out: Path = DEFAULT_OUT) -> bool:
    """What the CDK app calls: a minimal layer when none was built, and always a fresh package copy.

    Returns whether the layer carries the runtime dependencies (i.e. `make layer` was run).
    """
    if not (out / "python").is_dir():
        build(out, dependencies=False)
    else:
        copy_package(out)
    return has_dependencies(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-deps", action="store_true",
                        help="only the runtime package (offline; enough to synthesize)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    out = build(args.out.resolve(), dependencies=not args.no_deps)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"layer: {out} ({size / 1e6:.1f} MB{'' if not args.no_deps else ', no dependencies'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
