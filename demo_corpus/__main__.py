"""Write a demo corpus, from the repository root.

Usage:
    python -m demo_corpus english data/demo      # rewrite and validate (--check: validate only)
    python -m demo_corpus chinese data/demo_zh
"""

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from . import chinese, english


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments and write (or check) the corpus asked for.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m demo_corpus", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    generators = {"english": english, "chinese": chinese}
    for name, module in generators.items():
        command = commands.add_parser(name, help=module.__doc__.split("\n")[0])
        command.add_argument("output", type=Path, help="the corpus folder, e.g. data/demo")
        command.add_argument("--check", action="store_true", help="validate only, write nothing")
    args = parser.parse_args(argv)
    return generators[args.command].make(args.output, check_only=args.check)


if __name__ == "__main__":
    sys.exit(main())
