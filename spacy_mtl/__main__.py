"""The command line: ``python -m spacy_mtl COMMAND ...``.

Each command is a function that adds its subparser and sets ``func``, the
function that runs it and returns the exit status; COMMANDS lists them, so a
new command (a benchmark, say) is one more function in that list.
"""

import argparse
import sys
import warnings
from typing import Callable, List, Optional

from .annotate.cli import add_annotate_command
from .augment.cli import add_augment_command
from .calibrate.cli import add_calibrate_command
from .convert.cli import add_convert_command, run_convert  # noqa: F401 (run_convert: as before)
from .debug_data.cli import add_debug_data_command
from .evaluate.cli import add_evaluate_command
from .serve.cli import add_serve_command
from .update.cli import add_update_command
from .vectors.cli import add_init_vectors_command

PROG = "python -m spacy_mtl"


def add_distill_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `distill-targets` command, which stores a teacher's outputs on a corpus.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "distill-targets",
        help="store a teacher pipeline's soft outputs on a training corpus",
        description=(
            "Run a trained teacher pipeline (mtl_textcat, mtl_ner) over a .spacy corpus and "
            "write a copy whose documents also carry its category probabilities and CRF tag "
            "marginals. A student trained on the copy with distill_weight > 0 on its heads "
            "learns from them; the gold annotation is kept as it is."
        ),
    )
    parser.add_argument("teacher", metavar="TEACHER", help="trained pipeline: folder or package")
    parser.add_argument("input", metavar="INPUT", help=".spacy training corpus")
    parser.add_argument("output", metavar="OUTPUT", help=".spacy file to write")
    parser.add_argument(
        "--batch-size", type=int, default=64, help="documents per batch (default: 64)"
    )
    parser.set_defaults(func=run_distill)


def run_distill(args: argparse.Namespace) -> int:
    """Run `distill-targets`: print one line on success, one paragraph on failure.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status, 0 or 1.
    """
    from .distill import DistillWarning, distill_corpus

    # The teacher's warnings are printed as plain messages, not with the code line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DistillWarning)
        try:
            n_docs = distill_corpus(
                args.teacher, args.input, args.output, batch_size=args.batch_size
            )
        except ValueError as err:
            print(f"distill-targets failed: {err}", file=sys.stderr)
            return 1
        except OSError as err:
            print(
                f"distill-targets failed: cannot write {args.output}: {err.strerror or err}.",
                file=sys.stderr,
            )
            return 1
        finally:
            for warning in caught:
                if issubclass(warning.category, DistillWarning):
                    print(f"Warning: {warning.message}", file=sys.stderr)
                else:
                    warnings.showwarning(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )
    print(f"Wrote {n_docs} documents with teacher targets to {args.output}.")
    return 0


COMMANDS: List[Callable[[argparse._SubParsersAction], None]] = [add_convert_command]
COMMANDS.append(add_annotate_command)
COMMANDS.append(add_distill_command)
COMMANDS.append(add_serve_command)
COMMANDS.append(add_evaluate_command)
COMMANDS.append(add_debug_data_command)
COMMANDS.append(add_update_command)
COMMANDS.append(add_calibrate_command)
COMMANDS.append(add_init_vectors_command)
COMMANDS.append(add_augment_command)


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
