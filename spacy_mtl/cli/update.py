"""`update`: continue training a trained pipeline on new documents, without forgetting."""

import sys
from pathlib import Path
from typing import Optional

import typer

from ..update.settings import (
    DEFAULT_DISTILL_WEIGHT,
    DEFAULT_REPLAY_SHARE,
    DEFAULT_STEPS,
    MAX_LEARN_RATE,
    MAX_SEED,
    MAX_STEPS,
)
from ._app import app, fail


@app.command("update")
def update_cli(
    # fmt: off
    ctx: typer.Context,
    pipeline: str = typer.Argument(
        ..., metavar="PIPELINE", help="Trained pipeline: a folder or an installed package."
    ),
    new_path: Path = typer.Argument(
        ..., metavar="NEW", exists=True, dir_okay=False, help=".spacy corpus of new documents."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        metavar="OUT",
        help="Folder to write the updated pipeline to: absent, empty or a pipeline (replaced); never PIPELINE.",
    ),
    dev_path: Optional[Path] = typer.Option(
        None,
        "--dev",
        metavar="DEV",
        exists=True,
        dir_okay=False,
        help=".spacy corpus scored before and after.",
    ),
    replay_path: Optional[Path] = typer.Option(
        None,
        "--replay",
        metavar="OLD",
        exists=True,
        dir_okay=False,
        help=".spacy corpus of old training documents.",
    ),
    replay_share: float = typer.Option(
        DEFAULT_REPLAY_SHARE,
        "--replay-share",
        min=0,
        max=1,
        help="Replayed documents' share of the training documents, below 1; needs --replay.",
    ),
    distill_weight: float = typer.Option(
        DEFAULT_DISTILL_WEIGHT,
        "--distill-weight",
        min=0,
        max=1,
        help="Share of the loss from the old pipeline's predictions; 0: plain fine-tuning.",
    ),
    steps: int = typer.Option(
        DEFAULT_STEPS, "--steps", min=1, max=MAX_STEPS, help="Training steps."
    ),
    learn_rate: Optional[float] = typer.Option(
        None,
        "--learn-rate",
        min=0,
        max=MAX_LEARN_RATE,
        help="Learning rate, above 0; unset: half the pipeline's own.",
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, max=MAX_SEED, help="Seeds the replay sample and training."
    ),
    prior_correction: bool = typer.Option(
        True,
        "--prior-correction/--no-prior-correction",
        help="Move the intent prior of the update's sampling to that of the replay corpus and NEW together (with --replay), or keep it.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-V", help="Print spaCy's training table."),
    # fmt: on
) -> None:
    """Continue training a trained pipeline on NEW documents. New intents and slot types
    grow the heads, keeping every weight; the old pipeline's own predictions are soft
    targets on the new documents and on a replayed sample of old ones, so that it does
    not forget. Writes the updated pipeline to OUT (never over PIPELINE).
    """
    import torch

    from ..update.api import UpdateSettings, update_pipeline

    # The CRF's soft loss runs torch: one thread, as annotate and serve run it (loader.py);
    # torch's spinning pool costs more than it gains beside other busy processes.
    torch.set_num_threads(1)
    # The default share is shown, but only a share given needs --replay (UpdateSettings.check).
    given_share = ctx.get_parameter_source("replay_share").name != "DEFAULT"
    settings = UpdateSettings(
        steps=steps,
        replay_share=replay_share if given_share else None,
        distill_weight=distill_weight,
        learn_rate=learn_rate,
        seed=seed,
        prior_correction=prior_correction,
    )
    try:
        summary = update_pipeline(
            pipeline,
            new_path,
            output,
            dev_path=dev_path,
            replay_path=replay_path,
            settings=settings,
            log=sys.stdout if verbose else None,
        )
    except ValueError as err:
        fail("update", str(err))
    except OSError as err:
        fail("update", f"{err.filename or ''}: {err.strerror or err}.")
    typer.echo(format_summary(summary))


def format_summary(summary) -> str:
    """The lines printed after an update.

    summary (UpdateSummary): What the update did.
    RETURNS (str): The lines, joined.
    """
    lines = [f"Trained on {summary.n_new} new and {summary.n_replay} replayed documents."]
    for name, added in summary.added.items():
        lines.append(
            f"  {name}: {len(added)} new labels {added}" if added else f"  {name}: none new"
        )
    lines.append(
        f"  soft targets from the old pipeline: {summary.targets['cats']} documents' "
        f"categories, {summary.targets['tags']} documents' tags"
    )
    if summary.prior_shift:
        shifts = sorted(summary.prior_shift.values())
        lines.append(
            f"  intent prior moved to the old and new data's: logit shifts {shifts[0]:+.2f} "
            f"to {shifts[-1]:+.2f}"
        )
    if summary.scores_before is not None:
        for key in ("cats_score", "ents_f"):
            before, after = summary.scores_before.get(key), summary.scores_after.get(key)
            if before is not None and after is not None:
                lines.append(f"  dev {key}: {before:.4f} -> {after:.4f}")
    lines.append(f"Wrote {summary.output} ({summary.seconds:.0f} CPU s).")
    return "\n".join(lines)
