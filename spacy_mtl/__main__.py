"""The command line: ``python -m spacy_mtl COMMAND ...``.

Each command is a function that adds its subparser and sets ``func``, the
function that runs it and returns the exit status; COMMANDS lists them, so a
new command (a benchmark, say) is one more function in that list.
"""

import argparse
import sys
from typing import Callable, List, Optional

PROG = "python -m spacy_mtl"


COMMANDS: List[Callable[[argparse._SubParsersAction], None]] = []


def make_parser() -> argparse.ArgumentParser:
    """Build the parser with every command in COMMANDS.

    RETURNS (argparse.ArgumentParser): The parser.
    """
    parser = argparse.ArgumentParser(prog=PROG, description="spacy-mtl command line tools.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the arguments and run the command.

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status.
    """
    from .cli import app
    from .cli import main as typer_main

    typer_commands = {command.name for command in app.registered_commands}
    typer_commands |= {group.name for group in app.registered_groups}
    given = sys.argv[1:] if argv is None else argv
    if not given or given[0] in typer_commands or given[0] in ("--help", "-h", "--version"):
        return typer_main(given)
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        # Every output is written whole or not at all: an interrupted run leaves none of its own.
        print(
            f"{args.command}: interrupted; no output was written (an existing one is as it was).",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
