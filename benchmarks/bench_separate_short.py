"""Separate corpora at a short budget: mtl_joint:separate on one revision, scored at model-last.

The benchmark runner trains exactly as `run_benchmarks.py --systems mtl_joint:separate` does
(its `train()`: the same derived config, seed, steps and dev evaluations), but scores the test
split with `model-last` rather than `model-best`, skips the speed measurement, and takes config
overrides (a variant) and a patched code folder, for the experiments of
benchmarks/reports/separate_short_budget.md.

    python benchmarks/bench_separate_short.py --code-rev 9d1fe3d --seeds 0 1 2 --out /tmp/sep
    python benchmarks/bench_separate_short.py --code-rev 327c57e --variant clip0 \
        --set training.optimizer.grad_clip=0 --seeds 0 1 2 --out /tmp/sep
    python benchmarks/bench_separate_short.py --code-dir /tmp/patched --variant mean ...
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import helpers  # noqa: E402
from suite.prepare import make_code_snapshot, prepare_dataset  # noqa: E402
from suite.runner import ENTRY_POINT, run_measured, train  # noqa: E402
from suite.systems import JOINT, SEPARATE, SPLIT_TEST, SYSTEMS_BY_NAME, System  # noqa: E402

SYSTEM = "mtl_joint"
DATASET = "atis"


def parse_value(text: str) -> Any:
    """A config value from the command line: JSON where it parses, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--code-rev", default="HEAD", help="git revision to snapshot")
    parser.add_argument("--code-dir", type=Path, help="a prepared (patched) code folder instead")
    parser.add_argument("--variant", default="base", help="name of the overrides, for folders")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("/tmp/sep_short"))
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--evaluate", nargs=3, metavar=("MODEL", "TEST_DIR", "OUTPUT"))
    parser.add_argument("--table", action="store_true", help="print the table of --out's runs")
    args = parser.parse_args(argv)
    if args.evaluate:
        return evaluate(*args.evaluate)
    if args.table:
        print(table(args.out))
        return 0
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.code_dir:
        code_dir, code_name = args.code_dir.resolve(), args.code_dir.name
    else:
        code_dir, _ = make_code_snapshot(args.out, args.code_rev)
        code_name = code_dir.name
        add_entry_points(code_dir, args.code_rev)
    patches = dict(SYSTEMS_BY_NAME[SYSTEM].patches)
    for item in args.set:
        key, _, value = item.partition("=")
        patches[key] = parse_value(value)
    system = System(SYSTEM, SYSTEM, "mtl", dict(SYSTEMS_BY_NAME[SYSTEM].configs), patches)
    data = prepare_dataset(args.data_dir.resolve(), DATASET, args.out / "_data")
    if not (code_dir / "spacy_mtl" / "training" / "labels.py").exists():
        # Code before the labels reader: spaCy initializes from the first 100 examples of the
        # multi-task stream and stops at the first unseen label, so give every label of the
        # halves, as the runner of that code did.
        for name, half in (("textcat", "cats"), ("ner", "ents")):
            patches.setdefault(f"initialize.components.{name}.labels", labels_of(data[half], half))
    helpers.THREADS = 1
    rows = []
    for seed in args.seeds:
        run_dir = args.out / "runs" / code_name / args.variant / f"steps{args.steps}-seed{seed}"
        result_path = run_dir / "result.json"
        if not result_path.exists():
            trained = train(
                args,
                code_dir,
                data,
                SEPARATE,
                system,
                JOINT,
                system.configs[JOINT],
                seed,
                args.steps,
                max(args.steps // 10, 1),
                run_dir / JOINT,
                None,
            )
            model = run_dir / JOINT / "model" / "model-last"
            output = run_dir / "evaluation_last.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--evaluate", str(model)]
            cmd += [str(args.data_dir.resolve() / DATASET / SPLIT_TEST), str(output)]
            run_measured(cmd, code_dir, run_dir / "evaluate_last.log", args.timeout)
            metrics = json.loads(output.read_text())
            result = {
                "code": code_name,
                "variant": args.variant,
                "patches": patches,
                "seed": seed,
                "steps": args.steps,
                "model": "model-last",
                "test": metrics,
                "train_wall_s": trained["wall_s"],
                "command": trained["command"],
                "dev_curve": trained["curve"],
            }
            result_path.write_text(json.dumps(result, indent=1, default=str))
        result = json.loads(result_path.read_text())
        m = result["test"]
        rows.append(m)
        helpers.log(
            f"{code_name}/{args.variant} seed {seed}: intent {m['intent_acc']:.2f} "
            f"slot F1 {m['slot_f1']:.2f} sentence {m['sentence_acc']:.2f}"
        )
    if len(rows) > 1:
        summary = {
            k: (statistics.mean(r[k] for r in rows), statistics.stdev(r[k] for r in rows))
            for k in ("intent_acc", "slot_f1", "sentence_acc")
        }
        helpers.log(
            f"{code_name}/{args.variant} mean ± sd over {len(rows)} seeds: "
            + ", ".join(f"{k} {m:.2f} ± {s:.2f}" for k, (m, s) in summary.items())
        )
    return 0


def table(out: Path) -> str:
    """A markdown table of every finished run under out/runs: per seed, then mean ± sd."""
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for path in sorted(out.glob("runs/*/*/*/result.json")):
        result = json.loads(path.read_text())
        groups.setdefault((result["code"], result["variant"]), []).append(result)
    keys = ("intent_acc", "slot_f1", "sentence_acc")
    lines = [
        "| code / variant | seeds | "
        + " | ".join(f"{k} per seed" for k in keys)
        + " | intent acc | slot F1 | sentence acc |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (code, variant), results in groups.items():
        results.sort(key=lambda r: r["seed"])
        cells = [f"{code} / {variant}", " ".join(str(r["seed"]) for r in results)]
        cells += [" ".join(f"{r['test'][k]:.2f}" for r in results) for k in keys]
        for k in keys:
            values = [r["test"][k] for r in results]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.2f} ± {sd:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_entry_points(code_dir: Path, rev: str) -> None:
    """Give an old snapshot its own entry points (the installed ones name today's modules).

    The editable install's entry points name modules that older code lacks (e.g.
    spacy_mtl.ml.balancing), and catalogue loads them on every registry lookup. A dist-info
    folder in the snapshot, first on the path, carries the revision's own setup.cfg entries.
    """
    import configparser
    import subprocess

    from suite.helpers import REPO_DIR

    setup = subprocess.run(
        ["git", "-C", str(REPO_DIR), "show", f"{rev}:setup.cfg"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    parser = configparser.ConfigParser()
    parser.read_string(setup)
    lines = []
    for group, text in parser["options.entry_points"].items():
        lines += [f"[{group}]", *(line.strip() for line in text.strip().splitlines()), ""]
    dist = code_dir / "spacy_mtl-0.1.0.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spacy_mtl\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("\n".join(lines))


def labels_of(path: Path, task: str) -> List[str]:
    """Every label of one task in a DocBin, sorted, as the components would collect them."""
    import spacy
    from spacy.tokens import DocBin

    docs = DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)
    if task == "cats":
        return sorted({label for doc in docs for label in doc.cats})
    return sorted({ent.label_ for doc in docs for ent in doc.ents})


def evaluate(model: str, test_dir: str, output: str) -> int:
    """Score one pipeline on the test split with the benchmark worker's own metric."""
    from suite.worker import load_pipeline, predict, read_test, score

    nlp = load_pipeline(model)
    texts, gold_intents, gold_spans = read_test(test_dir)
    pred_intents, pred_spans = predict({JOINT: nlp}, texts, 256)
    Path(output).write_text(json.dumps(score(gold_intents, gold_spans, pred_intents, pred_spans)))
    return 0


if __name__ == "__main__":
    assert ENTRY_POINT.exists()
    sys.exit(main())
