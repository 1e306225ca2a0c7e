"""The `annotate` command: ``python -m spacy_mtl annotate PIPELINE INPUT OUTPUT``."""

import argparse
import sys

from .api import annotate
from .engines import ENGINES
from .io import DEFAULT_PART_SIZE, OUTPUT_FORMATS, AnnotateError
from .rows import DEFAULT_MAX_ROW_CHARS


def add_annotate_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `annotate` command, which runs a pipeline over a corpus.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "annotate",
        help="annotate a corpus with a trained pipeline (local or Ray)",
        description=(
            "Run a pipeline over every row of INPUT and write one record per row to OUTPUT: "
            "id, text, intent, cats, entities, error. Rows that cannot be annotated get an "
            "error and do not stop the run. Output is written in part files; a rerun resumes."
        ),
    )
    parser.add_argument("pipeline", metavar="PIPELINE", help="installed package name or path")
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="a .jsonl, .csv, .parquet or .txt file (one document per line), or a directory",
    )
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        help=".jsonl or .parquet file; a directory of part files for a directory INPUT",
    )
    parser.add_argument("--engine", choices=ENGINES, default="local", help="default: local")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes (local) or actors (ray); default: 1"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="documents per batch")
    parser.add_argument("--text-field", default="text", help="field with the text")
    parser.add_argument("--id-field", default="id", help="field with the id (default: row number)")
    parser.add_argument("--address", default=None, help="address of a Ray cluster (engine ray)")
    parser.add_argument(
        "--part-size",
        type=int,
        default=DEFAULT_PART_SIZE,
        help=f"rows per part file, the unit a rerun resumes from (default: {DEFAULT_PART_SIZE})",
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_ROW_CHARS,
        help=f"longer texts get an error (default: {DEFAULT_MAX_ROW_CHARS})",
    )
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        default=None,
        help="default: the suffix of OUTPUT (jsonl for a directory without one)",
    )
    parser.add_argument("--overwrite", action="store_true", help="start again instead of resuming")
    parser.set_defaults(func=run_annotate)


def run_annotate(args: argparse.Namespace) -> int:
    """Run `annotate` and print its summary.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status: 0, also with rows recorded as errors; 1 if
        the run could not start or finish.
    """
    try:
        summary = annotate(
            args.pipeline,
            args.input,
            args.output,
            engine=args.engine,
            workers=args.workers,
            batch_size=args.batch_size,
            text_field=args.text_field,
            id_field=args.id_field,
            address=args.address,
            part_size=args.part_size,
            max_chars=args.max_chars,
            output_format=args.output_format,
            overwrite=args.overwrite,
        )
    except AnnotateError as err:
        print(f"Annotation failed: {err}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return 0
