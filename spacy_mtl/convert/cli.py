"""The `convert` command: ``python -m spacy_mtl convert FORMAT INPUT OUTPUT``."""

import argparse
import sys
import warnings
from typing import List

from ..annotation import TASKS, annotated_tasks
from . import (
    FORMAT_TASKS,
    FORMATS,
    ConversionError,
    check_convert_output,
    input_files,
    read_corpus,
    write_docbin,
)


def add_convert_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `convert` command, which writes a corpus to a .spacy file.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    formats = "; ".join(f"{name}: {', '.join(tasks)}" for name, tasks in FORMAT_TASKS.items())
    parser = subparsers.add_parser(
        "convert",
        help="convert a corpus to a .spacy file",
        description=(
            "Convert a corpus to spaCy's .spacy format, keeping its tokens. A task the "
            f"input does not annotate stays missing. Formats and their tasks: {formats}."
        ),
    )
    parser.add_argument(
        "format", choices=FORMATS, metavar="FORMAT", help=f"one of {', '.join(FORMATS)}"
    )
    parser.add_argument("input", metavar="INPUT", help="file; folder: joint, prodigy sessions")
    parser.add_argument("output", metavar="OUTPUT", help=".spacy file to write")
    parser.add_argument("--lang", default="en", help="language code (default: en)")
    parser.add_argument(
        "--tasks",
        default=None,
        help=f"comma-separated tasks to keep, from {','.join(TASKS)} (default: all the format has)",
    )
    parser.add_argument(
        "--intents",
        default=None,
        metavar="FILE",
        help="columns: the intents file of the slots file INPUT, one line per sentence",
    )
    parser.add_argument(
        "--text-key",
        default=None,
        metavar="KEY",
        help="labelstudio: the data key of the text, the $KEY of the labeling config's <Text "
        'value="$KEY"/> (default: found from the results, or "text")',
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at what is otherwise repaired or warned about: joint, iob, columns: an I- tag "
        "that begins an entity, a BIOES/BILUO entity without its end tag; jsonl, csv: a "
        "document without exactly one category in exclusive mode; prodigy, labelstudio, rasa: "
        "conflicting answers for a text, an entity whose edges fall inside a token, a Rasa role, "
        "a Rasa example line without '- '",
    )
    cats_mode = parser.add_mutually_exclusive_group()
    cats_mode.add_argument(
        "--exclusive",
        dest="exclusive",
        action="store_const",
        const=True,
        default=None,
        help="jsonl, csv, prodigy, labelstudio: the categories are exclusive, one per document "
        "(default: when the file gives one class a document)",
    )
    cats_mode.add_argument(
        "--multilabel",
        dest="exclusive",
        action="store_const",
        const=False,
        help="jsonl, csv, prodigy, labelstudio: the categories are multi-label: any number per "
        "document (prodigy: a rejected binary label is then a 0.0)",
    )
    parser.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    """Run `convert`: print one line on success, one paragraph on failure.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status, 0 or 1.
    """
    tasks = args.tasks.split(",") if args.tasks is not None else None
    # Warnings are printed as plain messages: the code line that raised one
    # means nothing to a user fixing a data file.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            check_convert_output(args.format, args.input, args.output, args.intents)
            docs = read_corpus(
                args.format,
                args.input,
                lang=args.lang,
                tasks=tasks,
                strict=args.strict,
                exclusive=args.exclusive,
                intents=args.intents,
                text_key=args.text_key,
            )
            inputs = input_files(args.format, args.input, args.intents)
            n_docs = write_docbin(docs, args.output, inputs=inputs)
        except ConversionError as err:
            _print_warnings(caught)
            print(f"Conversion failed: {err}", file=sys.stderr)
            return 1
        except OSError as err:
            _print_warnings(caught)
            print(
                f"Conversion failed: cannot write {args.output}: {err.strerror or err}.",
                file=sys.stderr,
            )
            return 1
    _print_warnings(caught)
    carried = set().union(*(annotated_tasks(doc) for doc in docs))
    present = [task for task in TASKS if task in carried]
    missing = [task for task in TASKS if task not in carried]
    summary = f"tasks: {', '.join(present) or 'none'}"
    if missing:
        summary += f" ({', '.join(missing)} missing)"
    noun = "document" if n_docs == 1 else "documents"
    print(f"Wrote {n_docs} {noun} to {args.output}; {summary}.")
    return 0


def _print_warnings(caught: List[warnings.WarningMessage]) -> None:
    for warning in caught:
        print(f"Warning: {warning.message}", file=sys.stderr)
