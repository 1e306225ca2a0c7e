"""`calibrate`: fit a trained pipeline's confidences on dev data and save a calibrated copy."""

from pathlib import Path
from typing import Literal, Optional

import typer

from ._app import app, fail

# "auto" and spacy_mtl.pipeline.intent_confidence.SCORES (not imported: --help stays fast).
Score = Literal["auto", "max_prob", "energy", "mahalanobis"]


@app.command("calibrate")
def calibrate_cli(
    # fmt: off
    pipeline: str = typer.Argument(
        ..., metavar="PIPELINE", help="Trained pipeline: a folder or an installed package."
    ),
    dev_path: Path = typer.Argument(
        ..., metavar="DEV", exists=True, dir_okay=False, help=".spacy dev corpus with categories."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="OUT",
        help="Folder for the calibrated pipeline, with calibration.json and reliability.png.",
    ),
    target_recall: float = typer.Option(
        0.95,
        "--target-recall",
        min=0,
        max=1,
        help="Without out-of-scope dev documents: the share of in-scope ones kept, above 0.",
    ),
    target_precision: Optional[float] = typer.Option(
        None,
        "--target-precision",
        min=0,
        max=1,
        help="With out-of-scope dev documents: the out-of-scope precision to reach, above 0; unset: the best F1.",
    ),
    out_of_scope_label: Optional[str] = typer.Option(
        None,
        "--out-of-scope-label",
        metavar="LABEL",
        help="The gold category that marks out-of-scope DEV documents; it must occur in DEV and must not be a trained class. Unset: the head's out_of_scope_label.",
    ),
    score: Score = typer.Option(
        "auto", "--score", help="Out-of-scope score; auto: the best one on DEV."
    ),
    train_path: Optional[Path] = typer.Option(
        None,
        "--train",
        metavar="TRAIN",
        exists=True,
        dir_okay=False,
        help=".spacy training corpus for the Mahalanobis class means; unset: DEV.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --output."),
    # fmt: on
) -> None:
    """Fit temperature (or vector) scaling of mtl_textcat's probabilities, choose an
    out-of-scope score and its threshold on DEV, calibrate mtl_ner's entity confidences
    where DEV has enough right and wrong entities (a note says why not otherwise), and
    write the calibrated pipeline to --output with calibration.json and reliability.png.
    Prints the ECE before and after and the threshold.
    """
    # The ranges' open ends: a share of 0 keeps nothing (Typer's min= includes its bound).
    for option, value in (
        ("--target-recall", target_recall),
        ("--target-precision", target_precision),
    ):
        if value == 0:
            raise typer.BadParameter("must lie in (0, 1], not 0.", param_hint=f"'{option}'")
    from ..calibrate.fitting import CalibrateError
    from ..calibrate.pipeline_io import CalibrateSettings, calibrate_pipeline
    from ..calibrate.report import summary_lines

    settings = CalibrateSettings(
        pipeline=pipeline,
        dev=str(dev_path),
        train=str(train_path) if train_path is not None else None,
        target_recall=target_recall,
        target_precision=target_precision,
        out_of_scope_label=out_of_scope_label,
        score=score,
    )
    try:
        report = calibrate_pipeline(settings, output, overwrite=overwrite)
    except (CalibrateError, ValueError, OSError) as err:
        fail("calibrate", str(err))
    typer.echo("\n".join(summary_lines(report)))
    for note in report.get("notes", []):
        typer.echo(f"note: {note}")
    typer.echo(f"Calibrated pipeline written to {output}")
