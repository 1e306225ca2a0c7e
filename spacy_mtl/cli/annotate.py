"""`annotate`: run a trained pipeline over a corpus and write one record per row."""

import contextlib
import signal
import sys
import warnings
from pathlib import Path
from typing import Iterator, List, Literal, NoReturn, Optional

import typer

from ..annotate.io import DEFAULT_PART_SIZE
from ..annotate.rows import DEFAULT_MAX_ROW_CHARS
from ._app import app, fail

# The library's choices (annotate.engines.ENGINES, annotate.io.OUTPUT_FORMATS and
# annotate.export.EXPORT_FORMATS, SORT_KEYS), spelled out for Typer; a test keeps them equal.
Engine = Literal["local", "ray"]
OutputFormat = Literal["jsonl", "parquet", "prodigy", "labelstudio"]
SortKey = Literal["confidence"]

# Exit statuses: besides 0 (done; some rows may be error records) and 1 (could not start or
# finish), a run whose every row is an error record, and an interrupted run (128 + signal).
EXIT_ALL_ROWS_FAILED = 3
RESUME_HINT = "the finished parts are kept: rerun the same command to resume."


@app.command("annotate")
def annotate_cli(
    # fmt: off
    pipeline: str = typer.Argument(
        ..., metavar="PIPELINE", help="Trained pipeline: a folder or an installed package."
    ),
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        exists=True,
        help="A .jsonl, .csv, .parquet or .txt file (one document per line), or a directory of them.",
    ),
    output_path: Path = typer.Argument(
        ...,
        metavar="OUTPUT",
        help=".jsonl or .parquet file; a directory of part files for a directory INPUT.",
    ),
    engine: Engine = typer.Option("local", "--engine", help="local: nlp.pipe; ray: Ray Data."),
    workers: int = typer.Option(
        1, "--workers", "-n", min=1, help="Processes (local) or actors (ray)."
    ),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1, help="Documents per batch."),
    text_field: str = typer.Option("text", "--text-field", help="Field or column with the text."),
    id_field: str = typer.Option(
        "id",
        "--id-field",
        help="Field or column with the id; a row without one gets its row number.",
    ),
    address: Optional[str] = typer.Option(
        None, "--address", help="Address of a Ray cluster (with --engine ray)."
    ),
    part_size: int = typer.Option(
        DEFAULT_PART_SIZE,
        "--part-size",
        min=1,
        help="Rows per part file, the unit a rerun resumes from.",
    ),
    max_chars: int = typer.Option(
        DEFAULT_MAX_ROW_CHARS, "--max-chars", min=1, help="Longer texts get an error record."
    ),
    output_format: Optional[OutputFormat] = typer.Option(
        None,
        "--output-format",
        "--format",
        help="jsonl or parquet records (unset: OUTPUT's suffix, jsonl for a directory); or one file of tasks to correct: prodigy (.jsonl), labelstudio (.json, pre-annotations).",
    ),
    sort_by: Optional[SortKey] = typer.Option(
        None, "--sort-by", help="Order of a prodigy or labelstudio export: least confident first."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start again instead of resuming."),
    # fmt: on
) -> None:
    """Run a pipeline over every row of INPUT and write one record per row to OUTPUT:
    id, text, intent, cats, entities, error. Rows that cannot be annotated get an error
    record and do not stop the run. The output is written in part files; a rerun resumes.
    Exits with 3 when every row is an error record, with 128 + the signal (130 for Ctrl-C,
    143 for SIGTERM) when interrupted.
    """
    from ..annotate import annotate
    from ..annotate.io import AnnotateError

    stopped: List[int] = []
    try:
        with _interruptible(stopped), _plain_warnings():
            summary = annotate(
                pipeline,
                input_path,
                output_path,
                engine=engine,
                workers=workers,
                batch_size=batch_size,
                text_field=text_field,
                id_field=id_field,
                address=address,
                part_size=part_size,
                max_chars=max_chars,
                output_format=output_format,
                sort_by=sort_by,
                overwrite=overwrite,
            )
    except AnnotateError as err:
        fail("annotate", str(err))
    except KeyboardInterrupt:
        _interrupted(stopped[0] if stopped else signal.SIGINT)
    for line in summary.lines():
        typer.echo(line)
    for note in summary.notes():
        typer.echo(note, err=True)
    if summary.all_failed:
        raise typer.Exit(EXIT_ALL_ROWS_FAILED)


def _interrupted(signum: int) -> NoReturn:
    """Say that the run stopped and that a rerun resumes; exit with 128 + the signal."""
    typer.echo(f"Interrupted ({signal.Signals(signum).name}): {RESUME_HINT}", err=True)
    # SystemExit, not typer.Exit: cli.main() adds its own line to an exit status of 130 (no
    # output was written), which is not so here: the finished parts are kept.
    sys.exit(128 + signum)


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
        typer.echo(f"Warning: {message}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield
