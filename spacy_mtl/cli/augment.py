"""`augment`: new in-domain sentences, slot values swapped within an intent and slot type."""

from pathlib import Path

import typer

from ._app import app, fail


@app.command("augment")
def augment_cli(
    # fmt: off
    input_path: Path = typer.Argument(
        ..., metavar="TRAIN", exists=True, dir_okay=False, help=".spacy training corpus."
    ),
    output_path: Path = typer.Argument(
        ..., metavar="OUTPUT", help=".spacy file to write (only the new sentences)."
    ),
    factor: float = typer.Option(
        1.0, "--factor", help="New sentences per training document (above 0)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed, the same output."),
    # fmt: on
) -> None:
    """Make new in-domain sentences from a training corpus.

    Fill the slots of each training sentence with other values of the same slot type
    seen in sentences of the same intent, and write the new sentences (never a training
    sentence, never one twice) with their intents and slots. Label them with a teacher
    (distill-targets) and train on the gold corpus plus them.
    """
    from ..augment.api import AugmentError, augment_corpus, describe_refused, shown

    def say(line: str) -> None:
        typer.echo(line, err=True)

    try:
        summary = augment_corpus(input_path, output_path, factor=factor, seed=seed, say=say)
    except AugmentError as err:
        fail("augment", str(err))
    except OSError as err:
        fail("augment", f"cannot write {output_path}: {err.strerror or err}.")
    if summary.refused:
        typer.echo(f"Warning: {describe_refused(input_path, summary.refused)}", err=True)
    if summary.n_made < summary.n_asked:
        typer.echo(
            f"Warning: {shown(summary.n_asked)} new sentences asked, {summary.n_made:,} made: the "
            f"{summary.n_templates} templates and their slot values give no more.",
            err=True,
        )
    typer.echo(
        f"Wrote {summary.n_made} new sentences from {summary.n_templates} of "
        f"{summary.n_docs} documents to {output_path}."
    )
