"""`evaluate`: score a pipeline per task, with an error analysis and an offline HTML report."""

from pathlib import Path
from typing import List, Optional

import typer

from ._app import app, fail


# allow_extra_args: an option takes one value, so in `--compare TEXTCAT NER` NER is left over.
@app.command("evaluate", context_settings={"allow_extra_args": True})
def evaluate_cli(
    # fmt: off
    ctx: typer.Context,
    pipeline: str = typer.Argument(
        ..., metavar="PIPELINE", help="Trained pipeline: a folder or an installed package."
    ),
    data_path: Path = typer.Argument(
        ..., metavar="DATA", exists=True, dir_okay=False, help="Gold .spacy corpus."
    ),
    output: Optional[Path] = typer.Option(
        None,
        "--output",
        "-o",
        metavar="DIR",
        help="Folder to write scores.json, report.html and scores.png to (an earlier evaluate output there is replaced).",
    ),
    compare: Optional[List[str]] = typer.Option(
        None,
        "--compare",
        metavar="OTHER",
        help="Another pipeline to score side by side; two pipelines (intents, slots) are one system, e.g. the single-task baselines: --compare TEXTCAT NER.",
    ),
    gold_tokens: bool = typer.Option(
        True,
        "--gold-preproc/--retokenize",
        help="Predict on the corpus's own tokens (pre-tokenized corpora), or let the pipeline's tokenizer split the text again (entities align by characters).",
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", min=-1, help="GPU id, or -1 for the CPU."),
    batch_size: int = typer.Option(256, "--batch-size", "-b", min=1, help="Documents per batch."),
    # fmt: on
) -> None:
    """Score a spacy-mtl pipeline on a gold .spacy corpus with its heads' own scorers
    (intents on documents with categories, slots on documents with entity annotation):
    per-intent and per-slot P/R/F, the confused intents, slot errors by kind, sentence
    accuracy. With --output, write scores.json, report.html (one offline page: confusion
    matrix, error browser) and scores.png (with matplotlib) to that folder.
    """
    compare = list(compare or [])
    if ctx.args:
        if not compare:
            raise typer.BadParameter(
                f"got {ctx.args[0]!r} after DATA; a pipeline to score beside PIPELINE goes "
                "after --compare.",
                param_hint="'--compare'",
            )
        compare += ctx.args
    if len(compare) > 2:
        raise typer.BadParameter(
            f"takes one pipeline, or two (intents, slots), not {len(compare)}.",
            param_hint="'--compare'",
        )
    from ..evaluate.inputs import EvaluateError
    from ..evaluate.run import run

    if gpu_id >= 0:
        import spacy

        try:
            spacy.require_gpu(gpu_id)
        except ValueError as err:
            fail("evaluate", f"--gpu-id {gpu_id}: {err}")
    try:
        run(pipeline, data_path, output, compare, gold_tokens, batch_size)
    except EvaluateError as err:
        fail("evaluate", str(err))
