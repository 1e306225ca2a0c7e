"""Check, in seconds, that everything a workflow needs is installed, before it trains for minutes.

The first step of the project's `all` workflow. Each NEED names what a later
step uses; a missing one is reported with the step that needs it and the command
that installs it, and the workflow stops before any training.

Usage:
    python scripts/check_requirements.py spacy-mtl plot build venv
"""

import argparse
import importlib
import importlib.metadata
import sys
from typing import Callable, Dict, List, Optional, Tuple

from wasabi import msg

FACTORIES = ("mtl_tok2vec", "mtl_textcat", "mtl_ner")


def check_spacy_mtl() -> Optional[str]:
    """Whether spacy-mtl's factories are registered as entry points; None if so, else why not."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="spacy_factories")}
    missing = [name for name in FACTORIES if name not in names]
    if missing:
        return f"the spaCy factories {', '.join(missing)} are not registered"
    return None


def check_module(module: str) -> Callable[[], Optional[str]]:
    """A check that imports a module; it returns None if the import works, else why not."""

    def check() -> Optional[str]:
        try:
            importlib.import_module(module)
        except ImportError as err:
            return f"cannot import {module} ({err})"
        return None

    return check


def check_venv() -> Optional[str]:
    """Whether `python -m venv` can make an environment with pip; None if so, else why not."""
    for module in ("venv", "ensurepip"):
        problem = check_module(module)()
        if problem:
            return problem
    return None


# need -> (what checks it, the step that uses it, how to install it)
NEEDS: Dict[str, Tuple[Callable[[], Optional[str]], str, str]] = {
    "spacy-mtl": (check_spacy_mtl, "every step", "pip install -e ."),
    "plot": (check_module("matplotlib"), "evaluate (the chart)", "pip install 'spacy-mtl[plot]'"),
    "build": (
        check_module("build"),
        "package (spacy package --build wheel)",
        "pip install build",
    ),
    "venv": (
        check_venv,
        "install-check (a fresh virtual environment)",
        "apt-get install python3-venv",
    ),
}


def main(argv: Optional[List[str]] = None) -> int:
    """Check each need; print what is missing and how to install it.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status: 0 if nothing is missing.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("needs", nargs="+", choices=sorted(NEEDS), metavar="NEED")
    args = parser.parse_args(argv)
    problems = []
    for need in args.needs:
        check, step, install = NEEDS[need]
        problem = check()
        if problem is None:
            msg.good(f"{need}: found (used by {step})")
        else:
            problems.append(f"{need}: {problem}; needed by {step}. Install it with: {install}")
    if problems:
        msg.fail(
            f"{len(problems)} requirement(s) missing: the workflow stops before it trains.",
            "\n".join(problems),
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
