"""Entity confidence on ATIS and SNIPS (issue 23): calibration, precision against share kept, cost.

For each corpus and seed:

- convert the joint corpus with `python -m spacy_mtl convert joint` and train
  configs/cnn.cfg with `python -m spacy train` for a modest step budget;
- on test, every predicted entity is right (exact start, end and label in the gold data)
  or wrong; its confidence is `Span._.confidence`;
- calibrate on valid with each method (`fit_entity_calibration`: a temperature on the
  CRF's scores, Platt scaling of the span logit) and report span-level ECE on test
  before and after, in the equal-width bins of spacy_mtl/calibrate/metrics.py;
- precision (and recall) of the entities whose calibrated confidence reaches a
  threshold, against the share of predicted entities kept (the curve);
- the cost: `nlp.pipe` words per second on the test texts with confidences on and off
  (`mtl_ner`'s `confidences` setting), interleaved rounds in one run;
- the intents too: `calibrate`'s intent fit on valid (`fit_intent_calibration`), and the
  top-label ECE of the intent probabilities on test before and after.

    nice -n 15 python benchmarks/bench_entity_confidence.py --seeds 0 --steps 1000
    # the cost alone, of a trained pipeline, on ATIS test
    nice -n 15 python benchmarks/bench_entity_confidence.py --corpora atis --cost-only PIPELINE

Writes benchmarks/reports/entity_confidence/entity_confidence.json and .png (the
PNG needs matplotlib: pip install "spacy-mtl[plot]"), and prints a table. The data
are read from /work/shared/data/{atis,snips}.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy
from suite.helpers import mean_spread, pyplot

REPO = Path(__file__).resolve().parent.parent
DATA = Path("/work/shared/data")
REPORTS = REPO / "benchmarks" / "reports" / "entity_confidence"
CONFIG = REPO / "configs" / "cnn.cfg"
METHODS = ("temperature", "platt")
THRESHOLDS = [round(t, 2) for t in numpy.linspace(0.0, 0.99, 100)]


def run(command: List[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def convert(corpus: str, folder: Path) -> Dict[str, Path]:
    paths = {}
    for split in ("train", "valid", "test"):
        paths[split] = folder / f"{corpus}-{split}.spacy"
        source = DATA / corpus / split
        run([sys.executable, "-m", "spacy_mtl", "convert", "joint", str(source), str(paths[split])])
    return paths


def train(paths: Dict[str, Path], output: Path, seed: int, steps: int) -> float:
    started = time.time()
    run(
        [
            sys.executable, "-m", "spacy", "train", str(CONFIG), "--output", str(output),
            "--paths.train", str(paths["train"]), "--paths.dev", str(paths["valid"]),
            "--system.seed", str(seed), "--training.max_steps", str(steps),
            "--training.eval_frequency", str(max(100, steps // 3)),
            "--training.patience", "0",
        ]
    )  # fmt: skip
    return time.time() - started


def gold_examples(nlp, path: Path):
    from spacy.tokens import DocBin
    from spacy.training import Example

    docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def outcomes(nlp, examples) -> Dict[str, Any]:
    """Each predicted entity's confidence and whether it is exactly right; the gold count."""
    from spacy_mtl.pipeline.entity_confidence import entity_confidence

    confidences, correct, n_gold = [], [], 0
    for eg, doc in zip(examples, nlp.pipe(eg.reference.text for eg in examples)):
        gold = {(e.start_char, e.end_char, e.label_) for e in eg.reference.ents}
        n_gold += len(gold)
        for ent in doc.ents:
            confidences.append(entity_confidence(ent))
            correct.append((ent.start_char, ent.end_char, ent.label_) in gold)
    return {
        "confidence": numpy.array(confidences, dtype="f8"),
        "correct": numpy.array(correct, dtype=bool),
        "n_gold": n_gold,
    }


def curve(found: Dict[str, Any]) -> List[Dict[str, float]]:
    """Precision, recall and the share of predicted entities kept, at each threshold."""
    confidence, correct, n_gold = found["confidence"], found["correct"], found["n_gold"]
    points = []
    for threshold in THRESHOLDS:
        kept = confidence >= threshold
        n_kept = int(kept.sum())
        points.append(
            {
                "threshold": threshold,
                "kept": n_kept / max(1, len(confidence)),
                "precision": float(correct[kept].mean()) if n_kept else 1.0,
                "recall": float(correct[kept].sum() / max(1, n_gold)),
            }
        )
    return points


def inference_cost(nlp, texts: List[str], rounds: int = 7) -> Dict[str, float]:
    """Words per second of nlp.pipe with confidences on and off, in interleaved rounds.

    CPU time of this process (time.process_time), not wall time: on a shared machine other
    processes' load moves wall time by more than the difference measured. The cost is the
    median over rounds of on / off - 1.
    """
    ner = nlp.get_pipe("ner")
    n_words = sum(len(doc) for doc in nlp.tokenizer.pipe(texts))
    seconds = {True: [], False: []}
    list(nlp.pipe(texts[:100]))  # warm up
    for _ in range(rounds):
        for on in (False, True):
            ner.confidences = on
            started = time.process_time()
            for _ in nlp.pipe(texts, batch_size=256):
                pass
            seconds[on].append(time.process_time() - started)
    ner.confidences = True
    ratios = numpy.array(seconds[True]) / numpy.array(seconds[False])
    return {
        "words_per_s_off": n_words / float(numpy.median(seconds[False])),
        "words_per_s_on": n_words / float(numpy.median(seconds[True])),
        "cost": float(numpy.median(ratios) - 1),
        "rounds": rounds,
    }


def cost_only(pipeline: Path, corpus: str, work: Path) -> None:
    """The cost alone, for a trained pipeline, on a corpus's test texts."""
    import spacy

    nlp = spacy.load(pipeline)
    path = work / f"{corpus}-test.spacy"
    source = DATA / corpus / "test"
    run([sys.executable, "-m", "spacy_mtl", "convert", "joint", str(source), str(path)])
    texts = [eg.reference.text for eg in gold_examples(nlp, path)]
    cost = inference_cost(nlp, texts)
    print(
        f"{corpus} test, {pipeline}: {cost['words_per_s_off']:.0f} words/s without entity "
        f"confidences, {cost['words_per_s_on']:.0f} with: {100 * cost['cost']:+.1f}% "
        f"(median of {cost['rounds']} interleaved rounds, CPU time)"
    )
    (REPORTS / f"cost_{corpus}.json").write_text(json.dumps({"pipeline": str(pipeline), **cost}))


def run_one(corpus: str, seed: int, steps: int, work: Path) -> Dict[str, Any]:
    import spacy

    from spacy_mtl.calibrate.entities import fit_entity_calibration
    from spacy_mtl.calibrate.metrics import ece

    paths = convert(corpus, work)
    model = work / f"{corpus}-{seed}"
    train_seconds = train(paths, model, seed, steps)
    nlp = spacy.load(model / "model-last")
    test, valid = gold_examples(nlp, paths["test"]), gold_examples(nlp, paths["valid"])
    raw = outcomes(nlp, test)
    result = {
        "corpus": corpus,
        "seed": seed,
        "steps": steps,
        "train_seconds": train_seconds,
        "n_spans": int(len(raw["correct"])),
        "precision": float(raw["correct"].mean()),
        "recall": float(raw["correct"].sum() / raw["n_gold"]),
        "ece_raw": ece(raw["confidence"], raw["correct"]),
        "curve_raw": curve(raw),
        "methods": {},
    }
    for method in METHODS:
        calibrated_nlp = spacy.load(model / "model-last")
        fitted = fit_entity_calibration(calibrated_nlp, "ner", valid, method)
        found = outcomes(calibrated_nlp, test)
        result["methods"][method] = {
            "calibration": fitted["calibration"],
            "valid_ece_before": fitted["ece_before"],
            "valid_ece_after": fitted["ece_after"],
            "test_ece": ece(found["confidence"], found["correct"]),
            "curve": curve(found),
        }
    result["intents"] = intent_calibration(model / "model-last", valid, test)
    result["cost"] = inference_cost(nlp, [eg.reference.text for eg in test])
    return result


def intent_calibration(model: Path, valid, test) -> Dict[str, Any]:
    """Top-label ECE of the intents on test, before and after calibrate's fit on valid."""
    import spacy

    from spacy_mtl.calibrate.fitting import fit_intent_calibration
    from spacy_mtl.calibrate.metrics import exclusive_ece

    nlp = spacy.load(model)
    labels = list(nlp.get_pipe("textcat").labels)
    # Test intents never seen in training (four on ATIS) cannot be right: left out.
    intents = [max(eg.reference.cats, key=eg.reference.cats.get) for eg in test]
    known = [i for i, intent in enumerate(intents) if intent in labels]
    gold = numpy.array([labels.index(intents[i]) for i in known])
    texts = [test[i].reference.text for i in known]

    def probabilities():
        return numpy.array([[doc.cats[label] for label in labels] for doc in nlp.pipe(texts)])

    before = probabilities()
    fitted = fit_intent_calibration(nlp, "textcat", [eg.reference for eg in valid])
    after = probabilities()
    return {
        "method": fitted["calibration"]["method"],
        "temperature": fitted["calibration"].get("temperature"),
        "accuracy": float((before.argmax(axis=1) == gold).mean()),
        "test_ece_before": exclusive_ece(before, gold),
        "test_ece_after": exclusive_ece(after, gold),
    }


def at_share(points: List[Dict[str, float]], share: float) -> Dict[str, float]:
    """The point of the curve with the highest threshold that keeps at least `share`."""
    return [p for p in points if p["kept"] >= share][-1]


def table(results: List[Dict[str, Any]]) -> str:
    rows = [
        "| corpus | seed | steps | entities | P | R | ECE raw | ECE temperature | ECE Platt "
        "| P at 90% kept (temp.) | P at 80% kept | words/s off | on | cost "
        "| intent ECE before / after (method) |",
        "|" + " --- |" * 15,
    ]
    for r in results:
        temp, platt, cost = r["methods"]["temperature"], r["methods"]["platt"], r["cost"]
        rows.append(
            f"| {r['corpus']} | {r['seed']} | {r['steps']} | {r['n_spans']} "
            f"| {100 * r['precision']:.1f} | {100 * r['recall']:.1f} | {r['ece_raw']:.4f} "
            f"| {temp['test_ece']:.4f} | {platt['test_ece']:.4f} "
            f"| {100 * at_share(temp['curve'], 0.9)['precision']:.1f} "
            f"| {100 * at_share(temp['curve'], 0.8)['precision']:.1f} "
            f"| {cost['words_per_s_off']:.0f} | {cost['words_per_s_on']:.0f} "
            f"| {100 * cost['cost']:+.1f}% "
            f"| {r['intents']['test_ece_before']:.4f} / {r['intents']['test_ece_after']:.4f} "
            f"({r['intents']['method']}) |"
        )
    return "\n".join(rows)


def summary(results: List[Dict[str, Any]]) -> str:
    """Mean ± standard deviation over seeds, per corpus."""
    rows = [
        "| corpus | seeds | span ECE raw | span ECE temperature | P at 90% kept | P at 80% kept "
        "| intent acc | intent ECE before | intent ECE after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    for corpus in dict.fromkeys(r["corpus"] for r in results):
        group = [r for r in results if r["corpus"] == corpus]
        temp = [r["methods"]["temperature"] for r in group]
        rows.append(
            f"| {corpus} | {len(group)} | {mean_spread([r['ece_raw'] for r in group], 1.0, 4)} "
            f"| {mean_spread([t['test_ece'] for t in temp], 1.0, 4)} "
            f"| {mean_spread([at_share(t['curve'], 0.9)['precision'] for t in temp], 100, 1)} "
            f"| {mean_spread([at_share(t['curve'], 0.8)['precision'] for t in temp], 100, 1)} "
            f"| {mean_spread([r['intents']['accuracy'] for r in group], 100, 2)} "
            f"| {mean_spread([r['intents']['test_ece_before'] for r in group], 1.0, 4)} "
            f"| {mean_spread([r['intents']['test_ece_after'] for r in group], 1.0, 4)} |"
        )
    return "\n".join(rows)


def chart(results: List[Dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in results:
        points = r["methods"]["temperature"]["curve"]
        ax.plot(
            [p["kept"] for p in points],
            [p["precision"] for p in points],
            label=f"{r['corpus']} seed {r['seed']}",
        )
    ax.set_xlabel("share of predicted entities kept (calibrated confidence >= threshold)")
    ax.set_ylabel("precision of the kept entities")
    ax.set_title("Entity confidence: precision against share kept (test)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="+", default=["atis", "snips"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--cost-only", type=Path, help="measure only the cost, of this pipeline")
    args = parser.parse_args()
    REPORTS.mkdir(parents=True, exist_ok=True)
    if args.cost_only:
        with tempfile.TemporaryDirectory() as tmp:
            for corpus in args.corpora:
                cost_only(args.cost_only, corpus, Path(tmp))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in args.corpora:
            for seed in args.seeds:
                results.append(run_one(corpus, seed, args.steps, Path(tmp)))
                print(table(results[-1:]), flush=True)
    text = f"{table(results)}\n\n{summary(results)}\n"
    print(text)
    (REPORTS / "entity_confidence.json").write_text(json.dumps(results, indent=1))
    (REPORTS / "entity_confidence.md").write_text(text)
    chart(results, REPORTS / "entity_confidence.png")


if __name__ == "__main__":
    main()
