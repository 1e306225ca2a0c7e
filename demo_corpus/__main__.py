"""Write a demo corpus, from the repository root.

Usage:
    python -m demo_corpus english data/demo      # rewrite and validate (--check: validate only)
    python -m demo_corpus chinese data/demo_zh
    python -m demo_corpus draw jsonl 100000 corpus.jsonl   # any size, from the English templates
"""

import argparse
import sys
from pathlib import Path
from typing import Any, List, Optional

from . import chinese, draw, english


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
    add_draw_command(commands)
    args = parser.parse_args(argv)
    if args.command == "draw":
        return run_draw(args)
    return generators[args.command].make(args.output, check_only=args.check)


def add_draw_command(commands: Any) -> None:
    """`draw KIND N OUTPUT`: N documents as JSONL texts, task shards or a joint dev set."""
    command = commands.add_parser("draw", help=draw.__doc__.split("\n")[0])
    command.add_argument("kind", choices=["jsonl", "shards", "dev"])
    command.add_argument("n", type=int)
    command.add_argument("output", type=Path)
    command.add_argument("--seed", type=int, default=0)


def run_draw(args: argparse.Namespace) -> int:
    """Write what `draw` asked for; for JSONL, print the number of words."""
    if args.kind == "jsonl":
        print(f"{draw.write_jsonl(args.n, args.output, args.seed)} words")
    elif args.kind == "shards":
        draw.write_shards(args.n, args.output, args.seed)
    else:
        draw.write_joint_docbin(args.n, args.output, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
