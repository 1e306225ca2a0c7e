"""The `calibrate` command: fit a trained pipeline's confidences on dev data and save a copy.

``python -m spacy_mtl calibrate PIPELINE DEV.spacy --output OUT`` fits the
intent calibration and out-of-scope threshold (fitting.py), and the entity
calibration when the pipeline has `mtl_ner` and the dev data has enough right and
wrong entities (entities.py; otherwise a note says why not), writes the calibrated
pipeline to OUT with calibration.json and a reliability diagram, and prints ECE
before and after and the threshold.
"""

import argparse
import sys
from pathlib import Path
from typing import Any, Dict

SCORE_CHOICES = ("auto", "max_prob", "energy", "mahalanobis")


def add_calibrate_command(subparsers: argparse._SubParsersAction) -> None:
    """Add the `calibrate` command.

    subparsers (argparse._SubParsersAction): The parser's subcommands.
    """
    parser = subparsers.add_parser(
        "calibrate",
        help="calibrate a trained pipeline's confidences and out-of-scope threshold on dev data",
        description=(
            "Fit temperature (or vector) scaling of mtl_textcat's probabilities, choose an "
            "out-of-scope score and its threshold on DEV, calibrate mtl_ner's entity "
            "confidences where available, and write the calibrated pipeline to --output with "
            "calibration.json and reliability.png."
        ),
    )
    parser.add_argument("pipeline", metavar="PIPELINE", help="trained pipeline: folder or package")
    parser.add_argument("dev", metavar="DEV", help=".spacy dev corpus with categories")
    parser.add_argument("--output", "-o", required=True, help="folder for the calibrated pipeline")
    parser.add_argument(
        "--target-recall",
        type=_share,
        default=0.95,
        help="without out-of-scope dev documents: share of in-scope ones kept (default: 0.95)",
    )
    parser.add_argument(
        "--target-precision",
        type=_share,
        default=None,
        help="with out-of-scope dev documents: out-of-scope precision to reach (default: best F1)",
    )
    parser.add_argument(
        "--out-of-scope-label",
        default=None,
        help=(
            "the gold category that marks out-of-scope DEV documents; it must occur in DEV and "
            "must not be a trained class (default: the head's out_of_scope_label)"
        ),
    )
    parser.add_argument(
        "--score",
        choices=SCORE_CHOICES,
        default="auto",
        help="out-of-scope score (default: auto, chosen on dev)",
    )
    parser.add_argument(
        "--train",
        default=None,
        help=".spacy training corpus for the Mahalanobis class means (default: DEV)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    parser.set_defaults(func=run_calibrate)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} must lie in (0, 1]")
    return value


def run_calibrate(args: argparse.Namespace) -> int:
    """Run `calibrate`: print the summary, or one paragraph on failure. RETURNS the exit status."""
    # Here, not at the top: `python -m spacy_mtl --help` must not import spaCy and torch.
    from .fitting import CalibrateError

    try:
        report = calibrate(args)
    except (CalibrateError, ValueError, OSError) as err:
        print(f"calibrate failed: {err}", file=sys.stderr)
        return 1
    from .report import summary_lines

    print("\n".join(summary_lines(report)))
    for note in report.get("notes", []):
        print(f"note: {note}")
    print(f"Calibrated pipeline written to {args.output}")
    return 0


def calibrate(args: argparse.Namespace) -> Dict[str, Any]:
    """Check the inputs, fit, and write the output folder. RETURNS the report.

    The output is checked before any work and locked for the whole run: a second run on the
    same --output is refused at once (OutputError) instead of both reporting success.
    """
    from ..atomic import check_output_folder, output_lock, replace_folder
    from .pipeline_io import fit_all, load_inputs

    out = Path(args.output)
    inputs = [Path(path) for path in (args.pipeline, args.dev, args.train) if path]
    refusal = "Give --overwrite to replace it, or another --output folder."
    check_output_folder(out, inputs, replace=args.overwrite, refusal=refusal)
    with output_lock(out, "calibrate"):
        # Again under the lock: a run that finished meanwhile may have written OUT.
        check_output_folder(out, inputs, replace=args.overwrite, refusal=refusal)
        nlp, dev_docs, train_docs = load_inputs(args.pipeline, args.dev, args.train)
        report = fit_all(nlp, dev_docs, train_docs, args)
        notes = report.setdefault("notes", [])

        def fill(folder: Path) -> None:
            from .report import write_report

            nlp.to_disk(folder)
            notes.extend(write_report(folder, report))

        replace_folder(out, fill)
    return report
