"""Calibrated confidence and out-of-scope detection on CLINC150 "full" (issue 23).

For the CPU intent config (configs/single_textcat.cfg; --encoder bilstm puts
configs/bilstm.cfg's encoder in it; --encoder minilm is configs/transformer.cfg
without its recogniser; --vectors adds static vectors that
`python -m spacy_mtl init vectors` distils from MiniLM for the training words),
trained without and with the 100 `oos_train` queries (`out_of_scope_label = "oos"`),
per seed:

- train with `python -m spacy train` (dev: the in-scope val split);
- calibrate on val (spacy_mtl.calibrate.fitting): without out-of-scope training
  data on the in-scope val queries alone (threshold for 95% in-scope recall),
  with it on val and oos_val (threshold for the best out-of-scope F1); the
  Mahalanobis class means come from the training split;
- report on test and oos_test: in-scope accuracy (without rejection, and with:
  right and not rejected), AUROC of every candidate score (in-scope test against
  oos_test), out-of-scope recall and precision at the chosen threshold, top-label
  ECE before and after, and the inference time with confidences on against off
  (interleaved rounds, one run).

    nice -n 15 python benchmarks/bench_confidence.py --seeds 0 --steps 1500
    nice -n 15 python benchmarks/bench_confidence.py --encoder bilstm --vectors pooled

Writes benchmarks/reports/confidence/confidence_NAME.json, .md and .png (NAME: the
encoder, with "_vectors" where it has them), and prints a table per run and the mean
and spread over seeds. The data are read from ../shared/data/clinc150 (CC BY 3.0).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy
from suite.helpers import mean_spread, pyplot

REPO = Path(__file__).resolve().parent.parent
DATA = Path("/work/shared/data/clinc150/data_full.json")
REPORTS = REPO / "benchmarks" / "reports" / "confidence"
CONFIG = REPO / "configs" / "single_textcat.cfg"
OOS = "oos"


def write_corpora(folder: Path, data: Dict[str, list]) -> Dict[str, Path]:
    """The .spacy files: train, train with oos, val (in scope), val with oos."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    labels = sorted({intent for _, intent in data["train"]})

    def docbin(rows, path: Path) -> Path:
        docs = []
        for text, intent in rows:
            doc = nlp.make_doc(text)
            doc.cats = {label: float(label == intent) for label in labels}
            if intent == OOS:
                doc.cats[OOS] = 1.0
            docs.append(doc)
        DocBin(docs=docs, store_user_data=False).to_disk(path)
        return path

    return {
        "train": docbin(data["train"], folder / "train.spacy"),
        "train_oos": docbin(data["train"] + data["oos_train"], folder / "train_oos.spacy"),
        "val": docbin(data["val"], folder / "val.spacy"),
        "val_oos": docbin(data["val"] + data["oos_val"], folder / "val_oos.spacy"),
    }


def make_config(work: Path, encoder: str) -> Path:
    """single_textcat.cfg, or the same with configs/bilstm.cfg's encoder and thread setting,
    or configs/transformer.cfg (MiniLM) without its entity recogniser."""
    if encoder == "cnn":
        return CONFIG
    from thinc.api import Config

    if encoder == "minilm":
        config = Config().from_disk(REPO / "configs" / "transformer.cfg", interpolate=False)
        config["nlp"]["pipeline"] = ["transformer", "tok2vec", "textcat"]
        del config["components"]["ner"]
        del config["initialize"]["components"]["ner"]
        config["training"]["score_weights"] = {"cats_score": 1.0, "cats_acc": None}
        config["paths"]["train_cats"] = None
        config["paths"]["transformer_model"] = str(REPO / "models" / "all-MiniLM-L6-v2")
        config["corpora"]["train"]["path"] = "${paths.train_cats}"
        config["initialize"]["components"]["textcat"]["labels"]["path"] = "${paths.train_cats}"
        path = work / "single_textcat_minilm.cfg"
        config.to_disk(path)
        return path

    config = Config().from_disk(CONFIG, interpolate=False)
    bilstm = Config().from_disk(REPO / "configs" / "bilstm.cfg", interpolate=False)
    config["components"]["tok2vec"]["model"]["encode"] = bilstm["components"]["tok2vec"]["model"][
        "encode"
    ]
    config["initialize"]["before_init"] = bilstm["initialize"]["before_init"]
    path = work / f"single_textcat_{encoder}.cfg"
    config.to_disk(path)
    return path


def make_vectors(work: Path, corpora: Dict[str, Path], method: str) -> Path:
    """`init vectors` for the training words (and MiniLM's whole-word pieces)."""
    out = work / f"vectors_{method}"
    if not (out / "vectors").exists():
        command = [sys.executable, "-m", "spacy_mtl", "init", "vectors", str(out)]
        command += ["--corpus", str(corpora["train"]), "--method", method]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            sys.exit(f"init vectors failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return out


def train(
    corpora: Dict[str, Path],
    output: Path,
    seed: int,
    steps: int,
    with_oos: bool,
    config: Path = CONFIG,
    vectors: Optional[Path] = None,
) -> Path:
    command = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
        "--paths.train_cats", str(corpora["train_oos" if with_oos else "train"]),
        "--paths.dev", str(corpora["val"]),
        "--system.seed", str(seed),
        "--training.max_steps", str(steps),
        "--training.eval_frequency", str(max(100, steps // 4)),
        "--training.patience", "0",
    ]  # fmt: skip
    if with_oos:
        command += ["--components.textcat.out_of_scope_label", OOS]
    if vectors is not None:
        command += ["--paths.vectors", str(vectors)]
        command += ["--components.tok2vec.model.embed.include_static_vectors", "true"]
    record = output / "command.json"
    if (output / "model-best").exists() and record.exists():
        if json.loads(record.read_text()) == command[3:]:
            print(f"  reused {output}", flush=True)
            return output / "model-best"
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"training failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    print(f"  trained in {time.time() - started:.0f} s", flush=True)
    record.write_text(json.dumps(command[3:]))
    return output / "model-best"


def test_outputs(nlp, texts: List[str]):
    """Raw logits and features of the intent head on texts."""
    from spacy_mtl.calibrate.fitting import head_outputs

    return head_outputs(nlp, "textcat", texts)


def evaluate(nlp, data, calibration, train_docs) -> Dict[str, Any]:
    """Test-split measures of a head calibrated with `calibration` (an IntentCalibration)."""
    from spacy_mtl.calibrate.metrics import auroc, exclusive_ece
    from spacy_mtl.calibrate.out_of_scope import class_statistics
    from spacy_mtl.pipeline.intent_confidence import SCORES, activate, raw_score

    head = nlp.get_pipe("textcat")
    index = {label: i for i, label in enumerate(head.labels)}
    in_texts = [t for t, _ in data["test"]]
    gold = numpy.asarray([index[i] for _, i in data["test"]])
    features, logits = test_outputs(nlp, in_texts + [t for t, _ in data["oos_test"]])
    n_in = len(in_texts)
    z = calibration.calibrated_logits(logits)
    before, after = activate(logits, True), activate(z, True)
    stats = calibration.mahalanobis or _train_stats(nlp, train_docs, class_statistics)
    scores = {kind: raw_score(kind, z, features, True, stats) for kind in SCORES}
    chosen = scores[calibration.score]
    rejected = chosen < calibration.threshold
    right = after[:n_in].argmax(axis=1) == gold
    flagged = int(rejected.sum())
    return {
        "accuracy": float(right.mean()),
        "accuracy_with_rejection": float((right & ~rejected[:n_in]).mean()),
        "auroc": {kind: auroc(s[:n_in], s[n_in:]) for kind, s in scores.items()},
        "oos_recall": float(rejected[n_in:].mean()),
        "oos_precision": float(rejected[n_in:].sum() / flagged) if flagged else 0.0,
        "in_scope_recall": float((~rejected[:n_in]).mean()),
        "ece_before": exclusive_ece(before[:n_in], gold),
        "ece_after": exclusive_ece(after[:n_in], gold),
    }


def _train_stats(nlp, train_docs, class_statistics):
    head = nlp.get_pipe("textcat")
    index = {label: i for i, label in enumerate(head.labels)}
    rows = [d for d in train_docs if max(d.cats, key=d.cats.get) in index]
    features, _ = test_outputs(nlp, [d.text for d in rows])
    gold = numpy.asarray([index[max(d.cats, key=d.cats.get)] for d in rows])
    return class_statistics(features, gold)


def inference_cost(nlp, texts: List[str], calibration, rounds: int = 7) -> Dict[str, float]:
    """Seconds per 1000 texts with the calibration off and on, interleaved, median of rounds."""
    head = nlp.get_pipe("textcat")
    times: Dict[str, List[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for mode in ("off", "on"):
            head.set_calibration(calibration if mode == "on" else None)
            started = time.perf_counter()
            confidences = [doc._.intent_confidence for doc in nlp.pipe(texts, batch_size=256)]
            times[mode].append((time.perf_counter() - started) * 1000 / len(confidences))
    head.set_calibration(calibration)
    off, on = float(numpy.median(times["off"])), float(numpy.median(times["on"]))
    return {"off_s_per_1000": off, "on_s_per_1000": on, "overhead": on / off - 1.0}


def run_one(
    corpora, data, work: Path, seed: int, steps: int, with_oos: bool, setting: Dict[str, Any]
) -> Dict[str, Any]:
    import spacy
    from spacy.tokens import DocBin

    from spacy_mtl.calibrate.fitting import fit_intent_calibration

    name = f"{setting['name']}_{'with' if with_oos else 'without'}_oos_seed{seed}"
    print(f"{name}:", flush=True)
    started = time.time()
    model = train(
        corpora, work / name, seed, steps, with_oos, setting["config"], setting["vectors"]
    )
    nlp = spacy.load(model)
    dev = list(DocBin().from_disk(corpora["val_oos" if with_oos else "val"]).get_docs(nlp.vocab))
    train_docs = list(DocBin().from_disk(corpora["train"]).get_docs(nlp.vocab))
    fitted = fit_intent_calibration(
        nlp, "textcat", dev, train_docs=train_docs, oos_label=OOS, score="auto"
    )
    calibration = nlp.get_pipe("textcat").calibration
    result = evaluate(nlp, data, calibration, train_docs)
    result.update(
        seed=seed,
        with_oos=with_oos,
        setting=setting["name"],
        train_wall_s=round(time.time() - started),
        steps=steps,
        calibration=fitted["calibration"],
        dev_aurocs=fitted["aurocs"],
        cost=inference_cost(nlp, [t for t, _ in data["test"][:2000]], calibration),
    )
    print(json.dumps({k: v for k, v in result.items() if k != "calibration"}, default=str))
    return result


def table(results: List[Dict[str, Any]]) -> str:
    rows = [
        "| setting | seed | acc | acc w/ rejection | AUROC max_prob / energy / mahalanobis | score "
        "| OOS recall / precision | ECE before / after | cost on/off |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        a = r["auroc"]
        rows.append(
            f"| {'with' if r['with_oos'] else 'without'} oos_train | {r['seed']} "
            f"| {100 * r['accuracy']:.1f} | {100 * r['accuracy_with_rejection']:.1f} "
            f"| {a['max_prob']:.3f} / {a['energy']:.3f} / {a['mahalanobis']:.3f} "
            f"| {r['calibration']['score']} "
            f"| {100 * r['oos_recall']:.1f} / {100 * r['oos_precision']:.1f} "
            f"| {r['ece_before']:.3f} / {r['ece_after']:.3f} "
            f"| {100 * r['cost']['overhead']:+.1f}% |"
        )
    return "\n".join(rows)


def chart(results: List[Dict[str, Any]], path: Path, name: str) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    kinds = ["max_prob", "energy", "mahalanobis"]
    width = 0.8 / max(1, len(results))
    for i, r in enumerate(results):
        label = f"{'with' if r['with_oos'] else 'without'} oos_train, seed {r['seed']}"
        xs = numpy.arange(len(kinds)) + i * width
        ax.bar(xs, [r["auroc"][k] for k in kinds], width=width, label=label)
    ax.axhline(0.95, color="k", linestyle="--", linewidth=1, label="target 0.95")
    ax.set_xticks(numpy.arange(len(kinds)) + width * (len(results) - 1) / 2, kinds)
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("AUROC, in-scope test vs oos_test")
    ax.set_title(f"CLINC150 full: out-of-scope scores ({name})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--encoder", choices=("cnn", "bilstm", "minilm"), default="cnn")
    parser.add_argument(
        "--vectors", choices=("none", "pooled", "model2vec"), default="none", help="init vectors"
    )
    parser.add_argument("--oos", choices=("both", "without", "with"), default="both")
    parser.add_argument("--work", default=None, help="folder for corpora and models (temp)")
    parser.add_argument(
        "--replot", metavar="NAME", help="redraw the chart and tables from confidence_NAME.json"
    )
    args = parser.parse_args()
    if args.replot:
        report(json.loads((REPORTS / f"confidence_{args.replot}.json").read_text()), args.replot)
        return
    name = args.encoder + ("" if args.vectors == "none" else f"_{args.vectors}_vectors")
    data = json.loads(DATA.read_text(encoding="utf8"))
    oos = {"both": (False, True), "without": (False,), "with": (True,)}[args.oos]
    with tempfile.TemporaryDirectory(prefix="bench-confidence-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        corpora = write_corpora(work, data)
        vectors = None if args.vectors == "none" else make_vectors(work, corpora, args.vectors)
        setting = {
            "name": name,
            "config": make_config(work, args.encoder),
            "vectors": vectors,
        }
        results = [
            run_one(corpora, data, work, seed, args.steps, with_oos, setting)
            for seed in args.seeds
            for with_oos in oos
        ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    out = {
        "command": " ".join(sys.argv),
        "config": str(CONFIG.relative_to(REPO)),
        "encoder": args.encoder,
        "vectors": args.vectors,
        "steps": args.steps,
        "results": results,
    }
    (REPORTS / f"confidence_{name}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    report(out, name)


def summary_table(results: List[Dict[str, Any]]) -> str:
    """Mean and standard deviation over seeds, per setting with and without oos_train."""
    rows = [
        "| setting | seeds | acc | acc w/ rejection | AUROC (score used) | OOS recall | ECE before "
        "/ after |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    for with_oos in (False, True):
        group = [r for r in results if r["with_oos"] == with_oos]
        if not group:
            continue
        used = [r["auroc"][r["calibration"]["score"]] for r in group]
        kinds = ", ".join(sorted({r["calibration"]["score"] for r in group}))
        rows.append(
            f"| {'with' if with_oos else 'without'} oos_train | {len(group)} "
            f"| {mean_spread([r['accuracy'] for r in group], 100.0, 1)} "
            f"| {mean_spread([r['accuracy_with_rejection'] for r in group], 100.0, 1)} "
            f"| {mean_spread(used, 1.0, 3)} ({kinds}) "
            f"| {mean_spread([r['oos_recall'] for r in group], 100.0, 1)} "
            f"| {mean_spread([r['ece_before'] for r in group], 1.0, 3)} / "
            f"{mean_spread([r['ece_after'] for r in group], 1.0, 3)} |"
        )
    return "\n".join(rows)


def report(out: Dict[str, Any], name: str) -> None:
    """Draw the chart, write the tables as confidence_NAME.md and print them."""
    results = out["results"]
    chart(results, REPORTS / f"confidence_{name}.png", name)
    text = f"{name}, {out['steps']} steps\n\n{table(results)}\n\n{summary_table(results)}\n"
    (REPORTS / f"confidence_{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
