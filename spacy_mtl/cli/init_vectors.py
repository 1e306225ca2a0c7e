"""`init vectors`: distill static word vectors from a transformer, written as spaCy vectors.

`python -m spacy mtl init vectors OUTPUT_DIR`, in an `init` group as spaCy's own
`spacy init vectors`, whose output it also takes as a positional argument.
"""

from pathlib import Path
from typing import List, Literal, Optional

import typer

from ._app import app, fail

DEFAULT_MODELS_DIR = "models"
INIT_HELP = """Make what a multi-task pipeline starts from."""

init_cli = typer.Typer(name="init", help=INIT_HELP, no_args_is_help=True)
app.add_typer(init_cli, name="init")


# allow_extra_args: an option takes one value, so in `--corpus A B` B is left over.
@init_cli.command("vectors", context_settings={"allow_extra_args": True})
def init_vectors_cli(
    # fmt: off
    ctx: typer.Context,
    output: Path = typer.Argument(
        ...,
        metavar="OUTPUT_DIR",
        help="Folder to write (an earlier init vectors table there is replaced).",
    ),
    transformer: Optional[Path] = typer.Option(
        None,
        "--transformer",
        exists=True,
        file_okay=False,
        help=f"A local Hugging Face model folder; without it, the shipped all-MiniLM-L6-v2, unpacked into {DEFAULT_MODELS_DIR}/ as configs/transformer.cfg expects.",
    ),
    corpus: Optional[List[Path]] = typer.Option(
        None,
        "--corpus",
        exists=True,
        dir_okay=False,
        help=".spacy corpora whose words get rows: --corpus A B, or --corpus A --corpus B.",
    ),
    method: Literal["pooled", "model2vec"] = typer.Option(
        "pooled",
        "--method",
        help="pooled: each word through the transformer, mean-pooled (no extra dependency); model2vec: model2vec's distillation (pip install 'spacy-mtl[vectors]').",
    ),
    dims: int = typer.Option(
        256, "--dims", min=0, help="PCA width, at most the transformer's; 0 for none."
    ),
    sif: float = typer.Option(
        1e-4, "--sif", help="SIF weighting coefficient in [0, 1); 0 for none."
    ),
    lang: str = typer.Option("en", "--lang", help="The pipelines' language."),
    transformer_words: bool = typer.Option(
        True,
        "--transformer-words/--no-transformer-words",
        help="Also give rows to the transformer's whole-word pieces, or only to the corpora's words.",
    ),
    # fmt: on
) -> None:
    """Distill static word vectors from a transformer.

    Give each word of the training corpora and of the transformer's vocabulary a
    static vector distilled from the transformer, and write them as spaCy vectors (the
    layout of `spacy init vectors`). Train with them: --paths.vectors OUTPUT_DIR and
    configs/cnn_vectors.cfg; they are then saved inside the pipeline.
    """
    corpora = list(corpus or [])
    if ctx.args:
        if not corpora:
            raise typer.BadParameter(
                f"got {ctx.args[0]!r} after OUTPUT_DIR; a corpus goes after --corpus.",
                param_hint="'--corpus'",
            )
        corpora += [Path(arg) for arg in ctx.args]
    import os

    # Everything is local: a hub lookup would hang or fail on a machine without network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from ..vectors.api import VectorsSettings, init_vectors
    from ..vectors.errors import VectorsError

    try:
        settings = VectorsSettings(
            transformer=transformer or _shipped_transformer(),
            corpora=corpora,
            method=method,
            dims=dims,
            sif=sif,
            lang=lang,
            transformer_words=transformer_words,
        )
        summary = init_vectors(output, settings)
    except (VectorsError, ImportError) as err:
        fail("init vectors", str(err))
    except OSError as err:
        fail("init vectors", f"cannot write {output}: {err.strerror or err}.")
    typer.echo(
        f"Wrote {summary.n_rows} vectors of width {summary.width} ({summary.case}, "
        f"name {summary.name}) to {output}. Train with --paths.vectors {output}."
    )


def _shipped_transformer() -> Path:
    from ..pretrained import extract_minilm

    return extract_minilm(DEFAULT_MODELS_DIR)
