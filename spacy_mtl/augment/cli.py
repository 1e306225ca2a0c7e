"""The augment command: `python -m spacy_mtl augment TRAIN.spacy OUTPUT.spacy`."""

import argparse
import sys
from pathlib import Path


def add_augment_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `augment`, which makes new in-domain sentences from a training corpus.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "augment",
        help="new in-domain sentences: slot values swapped within an intent and slot type",
        description=(
            "Fill the slots of each training sentence with other values of the same slot "
            "type seen in sentences of the same intent, and write the new sentences (never "
            "a training sentence, never one twice) with their intents and slots. Label them "
            "with a teacher (distill-targets) and train on the gold corpus plus them."
        ),
    )
    parser.add_argument("input", metavar="TRAIN", type=Path, help=".spacy training corpus")
    parser.add_argument("output", metavar="OUTPUT", type=Path, help=".spacy file to write")
    parser.add_argument(
        "--factor", type=float, default=1.0, help="new sentences per training document (1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.set_defaults(func=run_augment)


def run_augment(args: argparse.Namespace) -> int:
    """Run `augment`: one line on success (and one when fewer were made), one on failure.

    args (argparse.Namespace): The parsed arguments.
    RETURNS (int): The exit status, 0 or 1.
    """
    from .api import AugmentError, augment_corpus, describe_refused, shown

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        summary = augment_corpus(
            args.input, args.output, factor=args.factor, seed=args.seed, say=say
        )
    except AugmentError as err:
        print(f"augment failed: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(
            f"augment failed: cannot write {args.output}: {err.strerror or err}.", file=sys.stderr
        )
        return 1
    if summary.refused:
        print(f"Warning: {describe_refused(args.input, summary.refused)}", file=sys.stderr)
    if summary.n_made < summary.n_asked:
        print(
            f"Warning: {shown(summary.n_asked)} new sentences asked, {summary.n_made:,} made: the "
            f"{summary.n_templates} templates and their slot values give no more.",
            file=sys.stderr,
        )
    print(
        f"Wrote {summary.n_made} new sentences from {summary.n_templates} of "
        f"{summary.n_docs} documents to {args.output}."
    )
    return 0
