"""`distill-targets`: store a teacher pipeline's soft outputs on a training corpus."""

import warnings
from pathlib import Path

import typer

from ._app import app, fail


@app.command("distill-targets")
def distill_targets_cli(
    # fmt: off
    teacher: str = typer.Argument(
        ..., metavar="TEACHER", help="Trained teacher pipeline: a folder or an installed package."
    ),
    input_path: Path = typer.Argument(..., metavar="INPUT", help=".spacy training corpus."),
    output_path: Path = typer.Argument(..., metavar="OUTPUT", help=".spacy file to write."),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1, help="Documents per batch."),
    # fmt: on
) -> None:
    """Run a trained teacher pipeline (mtl_textcat, mtl_ner) over a .spacy corpus and
    write a copy whose documents also carry its category probabilities and CRF tag
    marginals. A student trained on the copy with distill_weight > 0 on its heads
    learns from them; the gold annotation is kept as it is.
    """
    from ..distill import DistillWarning, distill_corpus

    # The teacher's warnings are printed as plain messages, not with the code line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DistillWarning)
        try:
            n_docs = distill_corpus(teacher, input_path, output_path, batch_size=batch_size)
        except ValueError as err:
            fail("distill-targets", str(err))
        except OSError as err:
            fail("distill-targets", f"cannot write {output_path}: {err.strerror or err}.")
        finally:
            for warning in caught:
                if issubclass(warning.category, DistillWarning):
                    typer.echo(f"Warning: {warning.message}", err=True)
                else:
                    warnings.showwarning(
                        warning.message, warning.category, warning.filename, warning.lineno
                    )
    typer.echo(f"Wrote {n_docs} documents with teacher targets to {output_path}.")
