"""`python -m spacy_mtl evaluate PIPELINE DATA.spacy [--output DIR] [--compare OTHER ...]`.

Only argparse here: spaCy and torch are imported when the command runs, so
`python -m spacy_mtl --help` stays fast.
"""

import argparse
import sys
from pathlib import Path


def add_evaluate_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` command.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "evaluate",
        help="score a pipeline per task, with an error analysis and an HTML report",
        description=(
            "Score a spacy-mtl pipeline on a gold .spacy corpus with its heads' own scorers "
            "(intents on documents with categories, slots on documents with entity "
            "annotation): per-intent and per-slot P/R/F, the confused intents, slot errors "
            "by kind, sentence accuracy. With --output, write scores.json, report.html (one "
            "offline page: confusion matrix, error browser) and scores.png (with matplotlib)."
        ),
    )
    parser.add_argument("pipeline", metavar="PIPELINE", help="trained pipeline: folder or package")
    parser.add_argument("data", metavar="DATA", type=Path, help="gold .spacy corpus")
    parser.add_argument("--output", type=Path, help="folder for scores.json and report.html")
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="OTHER",
        default=[],
        help="another pipeline to score side by side; two pipelines (intents, slots) are "
        "one system, e.g. the single-task baselines",
    )
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument(
        "--gold-preproc",
        dest="gold_tokens",
        action="store_true",
        default=True,
        help="predict on the corpus's own tokens (the default: pre-tokenized corpora)",
    )
    tokens.add_argument(
        "--retokenize",
        dest="gold_tokens",
        action="store_false",
        help="let the pipeline's tokenizer split the text again (entities align by characters)",
    )
    parser.add_argument("--gpu-id", type=int, default=-1, help="GPU id, -1 for the CPU")
    parser.add_argument("--batch-size", type=int, default=256, help="documents per batch")
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Run `evaluate`; a bad input prints one message and exits 1.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status.
    """
    from .inputs import EvaluateError
    from .run import run

    if len(args.compare) > 2:
        print("evaluate: --compare takes one pipeline, or two (intents, slots).", file=sys.stderr)
        return 1
    if args.batch_size < 1:
        print("evaluate: --batch-size must be at least 1.", file=sys.stderr)
        return 1
    try:
        if args.gpu_id >= 0:
            import spacy

            spacy.require_gpu(args.gpu_id)
        return run(
            args.pipeline, args.data, args.output, args.compare, args.gold_tokens, args.batch_size
        )
    except EvaluateError as err:
        print(f"evaluate failed: {err}", file=sys.stderr)
        return 1
