"""Check that a pipeline wheel declares the distributions its components come from.

`spacy package` lists a third-party distribution in the wheel's requirements
when the pipeline's factories, architectures, readers or scorers come from its
entry points. A wheel without `spacy-mtl` in its Requires-Dist installs without
error and then fails at `spacy.load` with an unknown factory; this check stops
the project there instead.

Usage:
    python scripts/check_wheel.py packages/en_mtl_demo-0.1.0/dist/en_mtl_demo-0.1.0-py3-none-any.whl
"""

import argparse
import re
import sys
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import List, Optional

from wasabi import msg

DEFAULT_REQUIRED = ["spacy-mtl"]


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments and check the wheel.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status: 0 if every required distribution is listed.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="the pipeline's .whl file")
    parser.add_argument(
        "--requires",
        action="append",
        help="a distribution that must be in Requires-Dist (repeatable; default: spacy-mtl)",
    )
    args = parser.parse_args(argv)
    if not args.wheel.is_file():
        msg.fail(f"No wheel at {args.wheel}. Did `spacy package` run with --build wheel?", exits=1)
    requirements = read_requirements(args.wheel)
    listed = {requirement_name(requirement) for requirement in requirements}
    missing = [name for name in args.requires or DEFAULT_REQUIRED if normalize(name) not in listed]
    if missing:
        msg.fail(
            f"{args.wheel.name} does not require {', '.join(missing)}.",
            "Installing it would not install the components the pipeline needs, and "
            "spacy.load would fail with an unknown factory. spaCy adds a distribution "
            "when the pipeline's registered functions come from its entry points: check "
            "that spacy-mtl is installed in this environment (pip install -e .) and that "
            "setup.cfg lists every factory, architecture, reader and scorer under "
            f"[options.entry_points]. Requires-Dist: {requirements or 'none'}",
            exits=1,
        )
    for requirement in requirements:
        msg.text(f"Requires-Dist: {requirement}")
    msg.good(f"{args.wheel.name} requires {', '.join(args.requires or DEFAULT_REQUIRED)}")
    return 0


def read_requirements(wheel: Path) -> List[str]:
    """The Requires-Dist entries of a wheel's METADATA.

    wheel (Path): The .whl file.
    RETURNS (List[str]): The requirements, as written.
    """
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        if len(names) != 1:
            msg.fail(f"{wheel} has {len(names)} .dist-info/METADATA files, not one.", exits=1)
        metadata = Parser().parsestr(archive.read(names[0]).decode("utf-8"))
    return metadata.get_all("Requires-Dist") or []


def requirement_name(requirement: str) -> str:
    """The normalized distribution name of a requirement such as 'spacy-mtl<0.2.0,>=0.1.0'."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return normalize(match.group(1)) if match else ""


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


if __name__ == "__main__":
    sys.exit(main())
