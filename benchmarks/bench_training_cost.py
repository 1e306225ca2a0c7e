"""Training cost: spacy-mtl's pipelines against stock spaCy's joint pipeline, quiet and busy.

    python benchmarks/bench_training_cost.py --data-dir ../shared/data
    python benchmarks/bench_training_cost.py --data-dir ../shared/data --datasets atis \\
        --pipelines cnn --loads quiet --steps 50      # a quick try

For each dataset (ATIS, SNIPS: train and valid converted with `python -m spacy_mtl convert
joint`), each encoder (`cnn`: configs/cnn.cfg against benchmarks/configs/stock_joint.cfg;
`bilstm`: configs/bilstm.cfg against benchmarks/configs/stock_joint_bilstm.cfg) and each
load (`quiet`; `busy`: two CPU-bound processes beside it, started by this script and stopped
after each run), runs `spacy train` for --steps steps without evaluation after step 0, the
systems interleaved, --repeats times. configs/bilstm.cfg sets torch's threads for training
(`spacy_mtl.torch_threads.v1`, one thread): stock trains with the same setting, and both
also with torch's default threads, each ratio taken within its pair. With --baseline-rev,
our configs also train with spacy_mtl and configs/ as they were at that git revision (a
snapshot on PYTHONPATH).

Measures, per run: the CPU seconds (user + system, every thread, from wait4) and wall
seconds of the whole process; the time to step 0 (initialization, imports included); and
per step, from a `[training.before_update]` clock (benchmarks/training_clock.py), the wall
and CPU milliseconds of steps 1 to N-1 (no evaluation among them). Goal (issue 27): ours at
most 1.2x stock's CPU and wall per step, on every dataset, encoder and load. Prints a table;
writes JSON, Markdown and, with matplotlib, a PNG.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent
CLOCK = REPO / "benchmarks/training_clock.py"
PIPELINES = {
    "cnn": ("configs/cnn.cfg", "benchmarks/configs/stock_joint.cfg"),
    "bilstm": ("configs/bilstm.cfg", "benchmarks/configs/stock_joint_bilstm.cfg"),
}
THREADS_CALLBACK = "spacy_mtl.torch_threads.v1"
DEFAULT_THREADS = "[torch's default threads]"
# Two CPU-bound processes, each stopped by the script (and by its own limit if the script dies).
BUSY = "import time\nend = time.time() + {limit}\nwhile time.time() < end:\n    pass\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="../shared/data")
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    parser.add_argument("--pipelines", nargs="+", default=list(PIPELINES), choices=PIPELINES)
    parser.add_argument("--loads", nargs="+", default=["quiet", "busy"], choices=["quiet", "busy"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--baseline-rev", default=None, help="e.g. 327c57e: the code before")
    parser.add_argument(
        "--no-default-threads",
        action="store_true",
        help="skip the pairs with torch's default threads (configs that set them)",
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_cost")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/reports/training_cost")
    parser.add_argument("--table-only", action="store_true", help="redraw --out's table and chart")
    args = parser.parse_args()
    if args.table_only:
        data = json.loads(args.out.with_suffix(".json").read_text())
        args.steps = int(data["settings"]["steps"])
        args.repeats = int(data["settings"]["repeats"])
        table = render(data["summary"], args)
        print(table)
        write(args.out, data["runs"], data["summary"], table, args, record=False)
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    baseline = snapshot(args.baseline_rev, args.work) if args.baseline_rev else None
    runs = []
    for load in args.loads:
        for repeat in range(args.repeats):
            for dataset in args.datasets:
                train, dev = convert(args.data_dir, dataset, args.work)
                for pipeline in args.pipelines:
                    ours, stock = PIPELINES[pipeline]
                    systems = [("spacy_mtl", ours, None, []), ("stock", stock, None, [])]
                    if THREADS_CALLBACK in (REPO / ours).read_text() and args.no_default_threads:
                        one = [
                            "--initialize.before_init",
                            json.dumps({"@callbacks": THREADS_CALLBACK}),
                        ]
                        systems = [("spacy_mtl", ours, None, []), ("stock", stock, None, one)]
                    elif THREADS_CALLBACK in (REPO / ours).read_text():
                        # Each without the config's torch thread setting (torch's default),
                        # and stock with it too, so that each pair shares its threads.
                        default = ["--initialize.before_init", "null"]
                        one = [
                            "--initialize.before_init",
                            json.dumps({"@callbacks": THREADS_CALLBACK}),
                        ]
                        systems = [
                            ("spacy_mtl", ours, None, []),
                            ("stock", stock, None, one),
                            (f"spacy_mtl {DEFAULT_THREADS}", ours, None, default),
                            (f"stock {DEFAULT_THREADS}", stock, None, []),
                        ]
                    if baseline is not None:
                        old_config = baseline / ours  # the config of that revision too
                        systems.append((f"spacy_mtl@{args.baseline_rev}", old_config, baseline, []))
                    for system, config, code, extra in systems:
                        run = measure(config, train, dev, args.steps, load, code, args.work, extra)
                        run.update(dataset=dataset, pipeline=pipeline, system=system, load=load,
                                   repeat=repeat, config=str(config))  # fmt: skip
                        runs.append(run)
                        print(json.dumps(run), flush=True)
    summary = summarise(runs)
    table = render(summary, args)
    print(table)
    write(args.out, runs, summary, table, args)
    return 0


def convert(data_dir: Path, dataset: str, work: Path):
    paths = []
    for split in ("train", "valid"):
        out = work / f"{dataset}-{split}.spacy"
        if not out.exists():
            cmd = [sys.executable, "-m", "spacy_mtl", "convert", "joint",
                   str(data_dir / dataset / split), str(out)]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True)
        paths.append(out)
    return paths


def snapshot(rev: str, work: Path) -> Path:
    """spacy_mtl and configs/ as they were at a revision, to import ahead of the installed one."""
    target = work / f"code-{rev}"
    if not (target / "spacy_mtl").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "spacy_mtl", "configs"],
                                 check=True, capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def measure(config, train, dev, steps, load, code: Optional[Path], work: Path, extra) -> Dict:
    clock = work / "clock.json"
    clock.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "spacy", "train", str(REPO / config), "--code", str(CLOCK),
           "--paths.train", str(train), "--paths.dev", str(dev),
           "--training.max_steps", str(steps), "--training.eval_frequency", str(steps * 10),
           "--training.before_update",
           json.dumps({"@callbacks": "spacy_mtl_bench.clock.v1", "path": str(clock)}),
           *extra]  # fmt: skip
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")])
    busy = start_busy(2, limit=3600) if load == "busy" else []
    try:
        started = time.time()
        # Not the repository as working directory: `python -m` puts it first on sys.path,
        # ahead of a snapshot on PYTHONPATH.
        process = subprocess.Popen(cmd, env=env, cwd=work, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.time() - started
    finally:
        for worker in busy:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(output.decode("utf8", "replace")[-3000:])
        raise SystemExit(f"spacy train failed: {' '.join(cmd)}")
    marks = json.loads(clock.read_text())
    first = next(m for m in marks if m[0] == 1)
    last = marks[-1]
    n = last[0] - first[0]
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall,
        "init_wall_s": marks[0][1] - started,
        "init_cpu_s": marks[0][2],
        "step_wall_ms": (last[1] - first[1]) / n * 1000,
        "step_cpu_ms": (last[2] - first[2]) / n * 1000,
        "steps_timed": n,
    }


def start_busy(count: int, limit: int) -> List[subprocess.Popen]:
    code = BUSY.format(limit=limit)
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


FIGURES = ("step_cpu_ms", "step_wall_ms", "init_cpu_s", "init_wall_s", "cpu_s", "wall_s")


def summarise(runs: List[Dict]) -> List[Dict]:
    """Medians over the repeats, and each system's ratio to stock in the same setting.

    The stock system of a ratio has the same torch thread setting: "stock" for the systems
    as configured, "stock [torch's default threads]" for that variant.
    """

    def key(run):
        return run["load"], run["dataset"], run["pipeline"], run["system"]

    keys = sorted({key(r) for r in runs}, key=lambda k: (k[0] != "quiet", *k[1:3], k[3]))
    rows = []
    for load, dataset, pipeline, system in keys:
        mine = [r for r in runs if key(r) == (load, dataset, pipeline, system)]
        reference = "stock" + (f" {DEFAULT_THREADS}" if system.endswith(DEFAULT_THREADS) else "")
        stock = [r for r in runs if key(r) == (load, dataset, pipeline, reference)]
        row = {"load": load, "dataset": dataset, "pipeline": pipeline, "system": system,
               "relative_to": reference}  # fmt: skip
        for figure in FIGURES:
            row[figure] = statistics.median(r[figure] for r in mine)
            row[f"{figure}_ratio"] = row[figure] / statistics.median(r[figure] for r in stock)
        rows.append(row)
    return rows


def render(summary: List[Dict], args) -> str:
    lines = [
        f"spacy train, {args.steps} steps, median of {args.repeats} run(s); ratio: to stock "
        "spaCy's joint pipeline on the same encoder, dataset, load and torch thread setting, "
        "same run",
        "",
        "| load | dataset | encoder | system | CPU ms/step | wall ms/step | init CPU s | "
        "init wall s | CPU s | wall s |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in summary:
        cells = [f"{r[f]:.0f} ({r[f + '_ratio']:.2f}x)" if f.startswith("step") else
                 f"{r[f]:.1f} ({r[f + '_ratio']:.2f}x)" for f in FIGURES]  # fmt: skip
        lines.append(f"| {r['load']} | {r['dataset']} | {r['pipeline']} | {r['system']} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def write(out: Path, runs, summary, table: str, args, record: bool = True) -> None:
    from spacy_mtl.atomic import write_text_atomic

    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "cpu": cpu_name(), "load_before": os.getloadavg()}
    data = {"settings": {k: str(v) for k, v in vars(args).items()}, "machine": machine,
            "runs": runs, "summary": summary}  # fmt: skip
    if record:
        write_text_atomic(out.with_suffix(".json"), json.dumps(data, indent=1))
    write_text_atomic(out.with_suffix(".md"), table + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    ours = [r for r in summary if not r["system"].startswith("stock")]
    labels = [f"{r['load']}\n{r['dataset']} {r['pipeline']}\n{r['system']}" for r in ours]
    figure, axis = plt.subplots(figsize=(max(6, len(ours) * 0.8), 6))
    width = 0.4
    xs = range(len(ours))
    axis.bar([x - width / 2 for x in xs], [r["step_cpu_ms_ratio"] for r in ours], width,
             label="CPU per step")  # fmt: skip
    axis.bar([x + width / 2 for x in xs], [r["step_wall_ms_ratio"] for r in ours], width,
             label="wall per step")  # fmt: skip
    axis.axhline(1.2, color="red", linestyle="--", label="goal: 1.2x stock")
    axis.axhline(1.0, color="grey", linewidth=0.8)
    axis.set_xticks(list(xs), labels, fontsize=7, rotation=60, ha="right")
    axis.set_yscale("log")
    axis.set_ylabel("ratio to stock spaCy (log scale)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    tmp = out.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=120)
    os.replace(tmp, out.with_suffix(".png"))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
