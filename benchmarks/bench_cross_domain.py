"""Out of scope across domains: a pipeline given another corpus's sentences as out of scope.

The pipeline is calibrated with `python -m spacy_mtl calibrate` on its own dev set alone (no
out-of-scope examples: the threshold keeps 95% of in-scope dev, or --target-recall), then run
on its own test set (in scope) and on another corpus's test sentences (out of scope). Prints
and writes (JSON) the AUROC of the confidence and of the top probability, the out-of-scope
recall at the chosen threshold, and the in-scope accuracy without and with rejection; given
several pipelines (one per seed), each one's and their mean and standard deviation.

    python benchmarks/bench_cross_domain.py IN_DEV.spacy IN_TEST.spacy OUT_TEST.spacy \
        --pipelines SEED0 [SEED1 ...] --output benchmarks/reports/cross_domain.json
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite.helpers import mean_spread  # noqa: E402


def scores(nlp, path):
    """Gold intents, predicted top intents, confidences, top probabilities, rejections."""
    from spacy.tokens import DocBin

    gold = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    docs = list(nlp.pipe([doc.text for doc in gold], batch_size=256))
    return {
        "gold": [max(g.cats, key=g.cats.get) if g.cats else None for g in gold],
        "top": [max(d.cats, key=d.cats.get) for d in docs],
        "confidence": numpy.array([d._.intent_confidence for d in docs]),
        "max_prob": numpy.array([max(d.cats.values()) for d in docs]),
        "rejected": numpy.array([d._.out_of_scope for d in docs]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("in_dev", "in_test", "out_test"):
        parser.add_argument(name, type=Path)
    parser.add_argument("--pipelines", type=Path, nargs="+", required=True)
    parser.add_argument(
        "--target-recall",
        type=float,
        default=0.95,
        help="calibrate's share of in-scope dev documents kept (0.99: an accuracy loss near 1)",
    )
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    results = [measure(pipeline, args) for pipeline in args.pipelines]
    print("| measure | " + " | ".join(p.parent.name for p in args.pipelines) + " | mean ± sd |")
    print("| --- |" + " --- |" * (len(results) + 1))
    for key in results[0]:
        if key == "pipeline":
            continue
        values = [r[key] for r in results]
        cells = [f"{v:.4f}" for v in values] if isinstance(values[0], float) else values
        summary = mean_spread(values, digits=4) if isinstance(values[0], float) else ""
        print(f"| {key} | " + " | ".join(cells) + f" | {summary} |")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=1) + "\n")


def measure(pipeline: Path, args: argparse.Namespace) -> dict:
    """Calibrate a copy of the pipeline on the in-scope dev set, then score both test sets."""
    import spacy

    from spacy_mtl.calibrate.metrics import auroc

    with tempfile.TemporaryDirectory() as tmp:
        calibrated = Path(tmp) / "calibrated"
        command = [sys.executable, "-m", "spacy_mtl", "calibrate", str(pipeline)]
        command += [str(args.in_dev), "--output", str(calibrated)]
        subprocess.run([*command, "--target-recall", str(args.target_recall)], check=True)
        nlp = spacy.load(calibrated)
        inside, outside = scores(nlp, args.in_test), scores(nlp, args.out_test)
    right = numpy.array([t == g for t, g in zip(inside["top"], inside["gold"])])
    return {
        "pipeline": str(pipeline),
        "in_scope": str(args.in_test),
        "out_of_scope": str(args.out_test),
        "target_recall": args.target_recall,
        "in_scope_accuracy": float(right.mean()),
        "accuracy_with_rejection": float((right & ~inside["rejected"]).mean()),
        "in_scope_rejected": float(inside["rejected"].mean()),
        "out_of_scope_recall": float(outside["rejected"].mean()),
        "auroc_confidence": auroc(inside["confidence"], outside["confidence"]),
        "auroc_max_prob": auroc(inside["max_prob"], outside["max_prob"]),
    }


if __name__ == "__main__":
    main()
