"""The `update` command: ``python -m spacy_mtl update PIPELINE NEW.spacy --output OUT``."""

import argparse
import sys

# The defaults live in api.py; repeated here so that --help does not import torch.
DEFAULTS = {"steps": 400, "replay_share": 0.5, "distill_weight": 0.5}


def add_update_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `update` command, which continues training a pipeline on new documents.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "update",
        help="continue training a pipeline on new documents (new intents and slots allowed)",
        description=(
            "Continue training a trained pipeline on NEW documents. New intents and slot types "
            "grow the heads, keeping every weight; the old pipeline's own predictions are soft "
            "targets on the new documents and on a replayed sample of old ones, so that it "
            "does not forget. Writes the updated pipeline to OUT (never over PIPELINE)."
        ),
    )
    parser.add_argument("pipeline", metavar="PIPELINE", help="trained pipeline: folder or package")
    parser.add_argument("new", metavar="NEW", help=".spacy corpus of new documents")
    parser.add_argument("--output", "-o", required=True, metavar="OUT", help="folder to write")
    parser.add_argument("--dev", metavar="DEV", help=".spacy corpus scored before and after")
    parser.add_argument("--replay", metavar="OLD", help=".spacy corpus of old training documents")
    parser.add_argument(
        "--replay-share",
        type=float,
        default=None,
        help="replayed documents' share of the training documents, in [0, 1); needs --replay "
        f"(default: {DEFAULTS['replay_share']})",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=DEFAULTS["distill_weight"],
        help="share of the loss from the old pipeline's predictions; 0: plain fine-tuning "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULTS["steps"],
        help="training steps, 1 to 1,000,000 (default: %(default)s)",
    )
    parser.add_argument(
        "--learn-rate", type=float, default=None, help="in (0, 1]; default: half the pipeline's own"
    )
    parser.add_argument("--seed", type=int, default=0, help="0 to 2**32 - 1 (default: 0)")
    parser.add_argument(
        "--no-prior-correction",
        dest="prior_correction",
        action="store_false",
        help="keep the intent prior of the update's sampling (by default it is moved to that "
        "of the replay corpus and NEW together)",
    )
    parser.add_argument("--verbose", action="store_true", help="print spaCy's training table")
    parser.set_defaults(func=run_update)


def run_update(args: argparse.Namespace) -> int:
    """Run `update`: a summary on success, one paragraph on failure.

    RETURNS (int): The exit status, 0 or 1.
    """
    import torch

    from .api import UpdateSettings, update_pipeline

    # The CRF's soft loss runs torch: one thread, as annotate and serve run it (loader.py);
    # torch's spinning pool costs more than it gains beside other busy processes.
    torch.set_num_threads(1)
    settings = UpdateSettings(
        steps=args.steps,
        replay_share=args.replay_share,
        distill_weight=args.distill_weight,
        learn_rate=args.learn_rate,
        seed=args.seed,
        prior_correction=args.prior_correction,
    )
    try:
        summary = update_pipeline(
            args.pipeline,
            args.new,
            args.output,
            dev_path=args.dev,
            replay_path=args.replay,
            settings=settings,
            log=sys.stdout if args.verbose else None,
        )
    except ValueError as err:
        print(f"update failed: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"update failed: {err.filename or ''}: {err.strerror or err}.", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


def format_summary(summary) -> str:
    """The lines printed after an update."""
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
