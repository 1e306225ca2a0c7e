"""The init-vectors command: `python -m spacy_mtl init-vectors OUTPUT_DIR [options]`."""

import argparse
import sys
from pathlib import Path

DEFAULT_MODELS_DIR = "models"


def add_init_vectors_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `init-vectors`, which distills static vectors from a transformer.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "init-vectors",
        help="distill static word vectors from a transformer, as spaCy vectors",
        description=(
            "Give each word of the training corpora and of the transformer's vocabulary a "
            "static vector distilled from the transformer, and write them as spaCy vectors "
            "(the layout of `spacy init vectors`). Train with them: --paths.vectors OUTPUT_DIR "
            "and configs/cnn_vectors.cfg; they are then saved inside the pipeline."
        ),
    )
    parser.add_argument("output", metavar="OUTPUT_DIR", type=Path, help="folder to write")
    parser.add_argument(
        "--transformer",
        type=Path,
        default=None,
        help="a local Hugging Face model folder (default: the shipped all-MiniLM-L6-v2, "
        f"unpacked into {DEFAULT_MODELS_DIR}/ as configs/transformer.cfg expects)",
    )
    parser.add_argument(
        "--corpus", type=Path, nargs="+", default=[], help=".spacy corpora whose words get rows"
    )
    parser.add_argument(
        "--method",
        choices=["pooled", "model2vec"],
        default="pooled",
        help="pooled: each word through the transformer, mean-pooled (no extra dependency); "
        "model2vec: model2vec's distillation (pip install 'spacy-mtl[vectors]')",
    )
    parser.add_argument(
        "--dims",
        type=int,
        default=256,
        help="PCA width, at most the transformer's; 0 for none (256)",
    )
    parser.add_argument(
        "--sif", type=float, default=1e-4, help="SIF weighting coefficient; 0 for none (1e-4)"
    )
    parser.add_argument("--lang", default="en", help="the pipelines' language (default: en)")
    parser.add_argument(
        "--no-transformer-words",
        dest="transformer_words",
        action="store_false",
        help="only the corpora's words, not the transformer's whole-word pieces",
    )
    parser.set_defaults(func=run_init_vectors)


def run_init_vectors(args: argparse.Namespace) -> int:
    """Run `init-vectors`: one line on success, one paragraph on failure.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status, 0 or 1.
    """
    import os

    # Everything is local: a hub lookup would hang or fail on a machine without network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from .api import VectorsSettings, init_vectors
    from .errors import VectorsError

    try:
        transformer = args.transformer or _shipped_transformer()
        settings = VectorsSettings(
            transformer=transformer,
            corpora=list(args.corpus),
            method=args.method,
            dims=args.dims,
            sif=args.sif,
            lang=args.lang,
            transformer_words=args.transformer_words,
        )
        summary = init_vectors(args.output, settings)
    except (VectorsError, ImportError) as err:
        print(f"init-vectors failed: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"init-vectors failed: cannot write {args.output}: {err.strerror or err}.",
            file=sys.stderr,
        )
        return 1
    print(
        f"Wrote {summary.n_rows} vectors of width {summary.width} ({summary.case}, "
        f"name {summary.name}) to {args.output}. Train with --paths.vectors {args.output}."
    )
    return 0


def _shipped_transformer() -> Path:
    from ..pretrained import extract_minilm

    return extract_minilm(DEFAULT_MODELS_DIR)
