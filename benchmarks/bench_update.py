"""Forgetting: `python -m spacy_mtl update` against naive fine-tuning and retraining from scratch.

    python benchmarks/bench_update.py --data-dir ../shared/data --seeds 0
    python benchmarks/bench_update.py --data-dir ../shared/data --steps 200 --update-steps 50

ATIS cut by intents: the most frequent intents covering --old-share of the training
sentences (atis_flight and atis_airfare, 82.5%) are OLD; the rest, 19 intents, are NEW,
and some of their slot types occur in no old sentence. Per seed:

- `old`: `spacy train configs/cnn.cfg` on the old sentences (--steps steps);
- each update system continues `old` on the new sentences for --update-steps steps:
  `update` (the defaults: soft targets and a replay of old sentences), `naive` (fine-tuning
  on the new sentences only: --distill-weight 0, no replay), and with --variants the
  settings the defaults were chosen among;
- `scratch`: `spacy train configs/cnn.cfg` on every training sentence (--steps steps).

Scored on ATIS test, on its own tokens, over the sentences whose intent occurs in training:
intent accuracy on the old-intent and new-intent sentences, and slot F1 (micro, exact span and
type) over the old and the new slot types. CPU seconds are the process's (user + system, from
wait4). Goal (issue 25): forgetting at most 1 point on old intents and slots, the new classes
within 2 points of `scratch`, at no more than a third of its CPU time. Prints a table; writes
benchmarks/reports/update/update.json and, with matplotlib, update.png.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

from suite.helpers import pyplot

REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "benchmarks/reports/update"
CONFIG = REPO / "configs/cnn.cfg"
# Update systems: extra arguments of `python -m spacy_mtl update`.
SYSTEMS = {
    "update": [],
    "naive": ["--distill-weight", "0", "--replay-share", "0"],
}
VARIANTS = {
    "replay only": ["--distill-weight", "0"],
    "targets only": ["--replay-share", "0"],
}
METRICS = ("old_intent_acc", "old_slot_f", "new_intent_acc", "new_slot_f")


def run(command: List[str]) -> float:
    """Run a command; fail with its output's tail; RETURNS the CPU seconds it used."""
    start = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}\n{output[-3000:]}")
    print(f"    {time.monotonic() - start:.0f} s wall: {' '.join(command[2:5])}", flush=True)
    return usage.ru_utime + usage.ru_stime


def split_corpora(data_dir: Path, work: Path, old_share: float) -> Dict:
    """Convert ATIS and cut train, valid and test by intent into old and new .spacy files."""
    import spacy
    from spacy.tokens import DocBin

    record = work / "cut.json"
    if record.exists():  # cut by an earlier run in this --work-dir (runs in parallel share it)
        return json.loads(record.read_text())
    for split in ("train", "valid", "test"):
        out = work / f"{split}.spacy"
        if not out.exists():
            run(
                [
                    sys.executable,
                    "-m",
                    "spacy_mtl",
                    "convert",
                    "joint",
                    str(data_dir / "atis" / split),
                    str(out),
                ]
            )
    nlp = spacy.blank("en")
    docs = {
        s: list(DocBin().from_disk(work / f"{s}.spacy").get_docs(nlp.vocab))
        for s in ("train", "valid", "test")
    }
    counts: Dict[str, int] = {}
    for doc in docs["train"]:
        counts[intent(doc)] = counts.get(intent(doc), 0) + 1
    old, covered = [], 0
    for label, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        if covered >= old_share * len(docs["train"]):
            break
        old.append(label)
        covered += n
    new = [label for label in counts if label not in old]
    for split in ("train", "valid"):
        for part, labels in (("old", old), ("new", new)):
            keep = [d for d in docs[split] if intent(d) in labels]
            for doc in keep:
                doc.cats = {label: float(label == intent(doc)) for label in labels}
            DocBin(docs=keep, store_user_data=True).to_disk(work / f"{split}_{part}.spacy")
    for doc in docs["train"] + docs["valid"]:
        doc.cats = {label: float(label == intent(doc)) for label in counts}
    DocBin(docs=docs["train"], store_user_data=True).to_disk(work / "train_all.spacy")
    DocBin(docs=docs["valid"], store_user_data=True).to_disk(work / "valid_all.spacy")
    old_types = {e.label_ for d in docs["train"] if intent(d) in old for e in d.ents}
    new_types = {e.label_ for d in docs["train"] for e in d.ents} - old_types
    for split in ("valid", "test"):
        known = [d for d in docs[split] if intent(d) in counts]
        DocBin(docs=known, store_user_data=True).to_disk(work / f"{split}_known.spacy")
    test = [d for d in docs["test"] if intent(d) in counts]
    cut = {
        "old_intents": old,
        "new_intents": new,
        "old_types": sorted(old_types),
        "new_types": sorted(new_types),
        "n_train_old": covered,
        "n_train_new": len(docs["train"]) - covered,
        "n_test": len(test),
    }
    record.write_text(json.dumps(cut))
    return cut


def intent(doc) -> str:
    return max(doc.cats, key=doc.cats.get)


def score(pipeline: Path, test_path: Path, cut: Dict) -> Dict[str, float]:
    """Intent accuracy on old and new intents, slot F1 over old and new slot types."""
    import spacy
    from spacy.tokens import Doc, DocBin

    nlp = spacy.load(pipeline)
    gold = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
    copies = [
        Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d])
        for d in gold
    ]
    hits = {"old": [0, 0], "new": [0, 0]}
    slots = {"old": [0, 0, 0], "new": [0, 0, 0]}  # tp, fp, fn
    old_types = set(cut["old_types"])
    for g, p in zip(gold, nlp.pipe(copies, batch_size=128)):
        part = "old" if intent(g) in cut["old_intents"] else "new"
        hits[part][0] += bool(p.cats) and intent(p) == intent(g)
        hits[part][1] += 1
        gold_spans = {(e.start, e.end, e.label_) for e in g.ents}
        pred_spans = {(e.start, e.end, e.label_) for e in p.ents}
        for span in gold_spans | pred_spans:
            kind = "old" if span[2] in old_types else "new"
            slots[kind][0] += span in gold_spans and span in pred_spans
            slots[kind][1] += span in pred_spans and span not in gold_spans
            slots[kind][2] += span in gold_spans and span not in pred_spans
    result = {f"{part}_intent_acc": 100.0 * h / max(n, 1) for part, (h, n) in hits.items()}
    for kind, (tp, fp, fn) in slots.items():
        result[f"{kind}_slot_f"] = 100.0 * 2 * tp / max(2 * tp + fp + fn, 1)
    return result


def cached(output: Path, reuse: bool, command: List[str]) -> float:
    """Run the command unless --reuse and its output is there; RETURNS its CPU seconds."""
    record = output.parent / f"{output.name}.cpu.json"
    if reuse and output.exists() and record.exists():
        print(f"    reused {output}", flush=True)
        return json.loads(record.read_text())["cpu_s"]
    cpu = run(command)
    record.write_text(json.dumps({"cpu_s": cpu, "command": command}))
    return cpu


def train(output: Path, train_path: Path, dev_path: Path, steps: int, seed: int, reuse: bool):
    """`spacy train configs/cnn.cfg` on the pre-tokenized corpus (gold_preproc)."""
    command = [sys.executable, "-m", "spacy", "train", str(CONFIG), "--output", str(output)]
    command += ["--paths.train", str(train_path), "--paths.dev", str(dev_path)]
    command += ["--training.max_steps", str(steps), "--training.seed", str(seed)]
    command += ["--training.eval_frequency", str(max(steps // 4, 1))]
    command += ["--corpora.train.gold_preproc", "true", "--corpora.dev.gold_preproc", "true"]
    return cached(output, reuse, command)


def run_seed(work: Path, cut: Dict, seed: int, args, systems: Dict[str, List[str]]) -> Dict:
    rows: Dict[str, Dict] = {}
    test = work / f"{args.score_on}_known.spacy"
    old = work / f"old_{seed}"
    old_train = work / "train_old.spacy"
    cpu = train(old, old_train, work / "valid_old.spacy", args.steps, seed, args.reuse)
    rows["old"] = {**score(old / "model-last", test, cut), "cpu_s": cpu}
    for name, extra in systems.items():
        out = work / f"{name.replace(' ', '_').replace(',', '')}_{seed}"
        command = [sys.executable, "-m", "spacy_mtl", "update", str(old / "model-last")]
        command += [str(work / "train_new.spacy"), "--output", str(out)]
        command += ["--replay", str(old_train), "--steps", str(args.update_steps)]
        command += ["--seed", str(seed), *extra]
        cpu = run(command)  # before scoring its output
        rows[name] = {**score(out, test, cut), "cpu_s": cpu}
    scratch = work / f"scratch_{seed}"
    all_train = work / "train_all.spacy"
    cpu = train(scratch, all_train, work / "valid_all.spacy", args.steps, seed, args.reuse)
    rows["scratch"] = {**score(scratch / "model-last", test, cut), "cpu_s": cpu}
    return rows


def summarize(per_seed: List[Dict]) -> Dict[str, Dict[str, Tuple[float, float]]]:
    out: Dict[str, Dict[str, Tuple[float, float]]] = {}
    for system in per_seed[0]:
        out[system] = {}
        for key in (*METRICS, "cpu_s"):
            values = [rows[system][key] for rows in per_seed]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            out[system][key] = (statistics.mean(values), spread)
    return out


def table(summary: Dict) -> str:
    head = "| system | old intent acc | old slot F1 | new intent acc | new slot F1 | CPU s |"
    lines = [head + " CPU / scratch |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    scratch_cpu = summary["scratch"]["cpu_s"][0]
    for system, values in summary.items():
        cells = [f"{values[k][0]:.2f} ± {values[k][1]:.2f}" for k in METRICS]
        cpu = values["cpu_s"][0]
        lines.append(f"| {system} | {' | '.join(cells)} | {cpu:.0f} | {cpu / scratch_cpu:.2f} |")
    return "\n".join(lines)


def plot(summary: Dict, path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    systems = list(summary)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(systems)
    for i, system in enumerate(systems):
        xs = [j + i * width for j in range(len(METRICS))]
        ax.bar(
            xs,
            [summary[system][k][0] for k in METRICS],
            width,
            yerr=[summary[system][k][1] for k in METRICS],
            label=system,
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(METRICS))])
    ax.set_xticklabels(["old intent acc", "old slot F1", "new intent acc", "new slot F1"])
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncol=3)
    ax.set_title("ATIS cut by intents: update against naive fine-tuning and retraining")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="../shared/data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500, help="old and scratch training steps")
    parser.add_argument("--update-steps", type=int, default=400)
    parser.add_argument("--old-share", type=float, default=0.8)
    parser.add_argument("--variants", action="store_true", help="also the settings tried")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="another update system: a name and `update` arguments, e.g. 'lr=--learn-rate 5e-4'",
    )
    parser.add_argument(
        "--score-on", choices=("test", "valid"), default="test", help="valid to choose settings"
    )
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="reuse old and scratch pipelines in --work-dir"
    )
    parser.add_argument("--output", type=Path, default=REPORTS)
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bench-update-"))
    work.mkdir(parents=True, exist_ok=True)
    cut = split_corpora(args.data_dir, work, args.old_share)
    print(
        f"old intents {cut['old_intents']} ({cut['n_train_old']} sentences), "
        f"{len(cut['new_intents'])} new ({cut['n_train_new']}); new slot types: "
        f"{len(cut['new_types'])} of {len(cut['old_types']) + len(cut['new_types'])}",
        flush=True,
    )
    systems = {**SYSTEMS, **(VARIANTS if args.variants else {})}
    for variant in args.variant:
        name, _, extra = variant.partition("=")
        systems[name] = extra.split()
    per_seed = []
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        per_seed.append(run_seed(work, cut, seed, args, systems))
    summary = summarize(per_seed)
    print(table(summary))
    args.output.mkdir(parents=True, exist_ok=True)
    report = {
        "command": " ".join(sys.argv),
        "cut": cut,
        "steps": args.steps,
        "update_steps": args.update_steps,
        "seeds": args.seeds,
        "per_seed": per_seed,
        "summary": summary,
    }
    (args.output / "update.json").write_text(json.dumps(report, indent=1))
    (args.output / "update.md").write_text(table(summary) + "\n")
    plot(summary, args.output / "update.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
