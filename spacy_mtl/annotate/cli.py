"""The `annotate` command: ``python -m spacy_mtl annotate PIPELINE INPUT OUTPUT``."""

import argparse
import contextlib
import signal
import sys
import warnings
from typing import Iterator, List

from .api import annotate
from .engines import ENGINES
from .export import EXPORT_FORMATS, SORT_KEYS
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
        "--format",
        dest="output_format",
        choices=OUTPUT_FORMATS + tuple(EXPORT_FORMATS),
        default=None,
        help="jsonl or parquet records (default: OUTPUT's suffix, jsonl for a directory); or "
        "one file of tasks to correct: prodigy (.jsonl), labelstudio (.json, pre-annotations)",
    )
    parser.add_argument(
        "--sort-by", choices=SORT_KEYS, help="prodigy, labelstudio: least confident first"
    )
    parser.add_argument("--overwrite", action="store_true", help="start again instead of resuming")
    parser.set_defaults(func=run_annotate)


# Exit statuses: besides 0 (done; some rows may be error records) and 1 (could not start or
# finish), a run whose every row is an error record, and an interrupted run (128 + signal).
EXIT_ALL_ROWS_FAILED = 3
_RESUME_HINT = "the finished parts are kept: rerun the same command to resume."


def run_annotate(args: argparse.Namespace) -> int:
    """Run `annotate` and print its summary.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status: 0 when done, also with some rows recorded
        as errors; 1 if the run could not start or finish; 3 if every row is
        an error record; 130 (Ctrl-C) or 143 (SIGTERM) if interrupted, after
        one line saying that a rerun resumes.
    """
    stopped: List[int] = []
    try:
        with _interruptible(stopped), _plain_warnings():
            summary = _annotate(args)
    except AnnotateError as err:
        print(f"Annotation failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        name = signal.Signals(stopped[0]).name if stopped else "SIGINT"
        print(f"Interrupted ({name}): {_RESUME_HINT}", file=sys.stderr)
        return 128 + (stopped[0] if stopped else signal.SIGINT)
    for line in summary.lines():
        print(line)
    for note in summary.notes():
        print(note, file=sys.stderr)
    return EXIT_ALL_ROWS_FAILED if summary.all_failed else 0


def _annotate(args: argparse.Namespace):
    return annotate(
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
        sort_by=args.sort_by,
        overwrite=args.overwrite,
    )


@contextlib.contextmanager
def _interruptible(stopped: List[int]) -> Iterator[None]:
    """SIGTERM stops the run as Ctrl-C does: cleanly, workers stopped, the lock released.

    stopped (List[int]): Receives the signal that stopped the run.
    """

    def stop(signum, frame):
        stopped.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave SIGTERM as it is
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _plain_warnings() -> Iterator[None]:
    """Warnings as one line each on stderr, "Warning: ...", without a file and line number."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"Warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield
