"""Benchmark `python -m spacy_mtl annotate`: local against Ray, 1 and 2 workers, and plain nlp.pipe.

    nice -n 10 python benchmarks/bench_annotate.py            # 100k documents
    python benchmarks/bench_annotate.py --docs 5000 --out /tmp/a.json   # a quick try

Writes a 100k-document JSONL corpus from the demo generator, builds a pipeline
from configs/cnn.cfg (initialised and updated a few steps on generated
documents: its speed, not its accuracy, matters here), then runs each
configuration as a fresh command and measures wall time (start to exit, so
start-up is included), words per second, and the peak resident memory of the
driver and of each worker process. The start-up cost of each engine is the wall
time of the same command on a one-line input. A plain `nlp.pipe` loop over the
same texts (load excluded) is the baseline. Prints a table; writes JSON.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the demo_corpus package

from proc_memory import run_and_sample  # noqa: E402

from demo_corpus.draw import sentences, write_jsonl  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

BASELINE = """
import json, sys, time, spacy, torch
torch.set_num_threads(1)
nlp = spacy.load(sys.argv[1])
texts = [json.loads(line)["text"] for line in open(sys.argv[2], encoding="utf-8")]
start, cpu = time.perf_counter(), time.process_time()
for doc in nlp.pipe(texts, batch_size=int(sys.argv[3])):
    pass
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def build_pipeline(path: Path, n_train: int = 2000, steps: int = 30) -> None:
    """A configs/cnn.cfg pipeline, initialised and updated on generated documents."""
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.util import load_config, load_model_from_config, minibatch

    config = load_config(REPO / "configs/cnn.cfg")
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    examples = []
    labels = None
    for tokens, tags, intent in sentences(n_train, seed=1):
        if labels is None:
            labels = sorted({i for _, _, i in sentences(200, seed=2)})
        reference = Doc(nlp.vocab, words=tokens, ents=tags)
        reference.cats = {label: float(label == intent) for label in labels}
        examples.append(Example(nlp.make_doc(" ".join(tokens)), reference))
    optimizer = nlp.initialize(lambda: examples)
    for batch in list(minibatch(examples, 64))[:steps]:
        nlp.update(batch, sgd=optimizer)
    nlp.to_disk(path)
    print(f"pipeline: {nlp.pipe_names} -> {path} (spacy {spacy.__version__})")


def annotate_cmd(pipeline, inp, out, engine, workers, batch_size):
    return [PYTHON, "-m", "spacy_mtl", "annotate", str(pipeline), str(inp), str(out), "--engine",
            engine, "--workers", str(workers), "--batch-size", str(batch_size)]  # fmt: skip


def _is_worker(cmd, pid, driver_pid, engine, workers):
    if engine == "ray":
        return "MapWorker" in cmd
    return (
        pid == driver_pid if workers == 1 else (pid != driver_pid and "spacy_mtl annotate" in cmd)
    )


def worker_peaks(peaks, engine, driver_pid):
    """Peak MiB of the worker processes: Ray's map actors, or nlp.pipe's forked children.

    With one local worker, nlp.pipe runs in the driver: the driver is the worker.
    """
    if engine == "ray":
        return [mib for mib, cmd in peaks.values() if "MapWorker" in cmd]
    forked = [
        mib
        for pid, (mib, cmd) in peaks.items()
        if pid != driver_pid and "spacy_mtl annotate" in cmd
    ]
    return forked or [peaks[driver_pid][0]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/work/annotate")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/reports/annotate.json")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-{args.docs}.jsonl"
    words = write_jsonl(args.docs, corpus)
    tiny = work / "one.jsonl"
    tiny.write_text(corpus.open(encoding="utf-8").readline(), encoding="utf-8")
    pipeline = work / "pipeline"
    if not pipeline.exists():
        build_pipeline(pipeline)
    print(f"corpus: {args.docs} documents, {words} words -> {corpus}")
    rows = []
    start = time.perf_counter()
    base, base_wall, base_peaks = run_and_sample(
        [PYTHON, "-c", BASELINE, str(pipeline), str(corpus), str(args.batch_size)]
    )
    base_s, base_cpu = (float(x) for x in base.stdout.strip().splitlines()[-1].split())
    rows.append({"run": "nlp.pipe loop (load excluded)", "engine": "nlp.pipe", "workers": 1,
                 "wall_s": base_s, "words_per_s": words / base_s,
                 "driver_peak_mib": next(iter(base_peaks.values()))[0],
                 "cpu_s": base_cpu, "worker_cpu_s": base_cpu,
                 "words_per_cpu_s": words / base_cpu, "load_average": os.getloadavg()})  # fmt: skip
    outputs = {}
    for engine in ("local", "ray"):
        for workers in (1, 2):
            fixed, fixed_s, _ = run_and_sample(
                annotate_cmd(pipeline, tiny, work / f"one-{engine}{workers}.jsonl", engine,
                             workers, args.batch_size) + ["--overwrite"]
            )  # fmt: skip
            fixed_cpu = sum(run_and_sample.cpu.values())
            out = work / f"out-{engine}{workers}.jsonl"
            cmd = annotate_cmd(pipeline, corpus, out, engine, workers, args.batch_size)
            result, wall, peaks = run_and_sample(cmd + ["--overwrite"])
            if result.returncode != 0 or fixed.returncode != 0:
                print(result.stderr[-3000:], fixed.stderr[-3000:], file=sys.stderr)
                return 1
            driver_pid = next(iter(peaks))  # the command itself, polled first
            cpu = run_and_sample.cpu
            worker_cpu = sum(
                seconds
                for pid, seconds in cpu.items()
                if pid in peaks and _is_worker(peaks[pid][1], pid, driver_pid, engine, workers)
            )
            workers_mib = worker_peaks(peaks, engine, driver_pid)
            outputs[(engine, workers)] = out.read_bytes()
            rows.append({
                "run": f"annotate --engine {engine} --workers {workers}",
                "engine": engine, "workers": workers, "wall_s": wall,
                "words_per_s": words / wall, "startup_s": fixed_s,
                "words_per_s_after_startup": words / max(wall - fixed_s, 1e-9),
                "driver_peak_mib": peaks[driver_pid][0],
                "worker_peak_mib": max(workers_mib) if workers_mib else None,
                "worker_processes": len(workers_mib),
                "cpu_s": sum(cpu.values()),
                "worker_cpu_s": worker_cpu,
                "words_per_cpu_s": words / max(sum(cpu.values()), 1e-9),
                "startup_cpu_s": fixed_cpu,
                "words_per_cpu_s_after_startup": words / max(sum(cpu.values()) - fixed_cpu, 1e-9),
                "load_average": os.getloadavg(),
            })  # fmt: skip
            print(json.dumps(rows[-1]))
    identical = len(set(outputs.values())) == 1
    by = {(r["engine"], r["workers"]): r for r in rows}
    ratios = {
        "local 2/1 workers": by["local", 2]["words_per_s"] / by["local", 1]["words_per_s"],
        "ray 2/1 workers": by["ray", 2]["words_per_s"] / by["ray", 1]["words_per_s"],
        "ray 2/1 after start-up": by["ray", 2]["words_per_s_after_startup"]
        / by["ray", 1]["words_per_s_after_startup"],
        "local 1 / nlp.pipe": by["local", 1]["words_per_s"] / by["nlp.pipe", 1]["words_per_s"],
        "ray 1 / nlp.pipe": by["ray", 1]["words_per_s"] / by["nlp.pipe", 1]["words_per_s"],
        "ray 1 / nlp.pipe after start-up": by["ray", 1]["words_per_s_after_startup"]
        / by["nlp.pipe", 1]["words_per_s"],
        "CPU per word after start-up, ray 1 / nlp.pipe": by["nlp.pipe", 1]["words_per_cpu_s"]
        / by["ray", 1]["words_per_cpu_s_after_startup"],
        "CPU per word after start-up, ray 2 / ray 1": by["ray", 1]["words_per_cpu_s_after_startup"]
        / by["ray", 2]["words_per_cpu_s_after_startup"],
        "CPU per word after start-up, local 1 / nlp.pipe": by["nlp.pipe", 1]["words_per_cpu_s"]
        / by["local", 1]["words_per_cpu_s_after_startup"],
        "CPU per word after start-up, local 2 / local 1": by["local", 1][
            "words_per_cpu_s_after_startup"
        ]
        / by["local", 2]["words_per_cpu_s_after_startup"],
    }
    print()
    print(f"{args.docs} documents, {words} words, batch size {args.batch_size}; outputs "
          f"identical across engines and workers: {identical}")  # fmt: skip
    print("| run | wall s | words/s | start-up s | words/s after start-up | driver MiB | "
          "worker MiB (peak, each) | CPU s (all) | CPU s (workers) | words per CPU s | "
          "start-up CPU s | words per CPU s after start-up | load avg |")  # fmt: skip
    print("| --- |" + " ---: |" * 12)
    for r in rows:

        def f(key, fmt="{:.0f}", r=r):
            return fmt.format(r[key]) if r.get(key) is not None else "-"

        print(f"| {r['run']} | {f('wall_s', '{:.1f}')} | {f('words_per_s')} | "
              f"{f('startup_s', '{:.1f}')} | {f('words_per_s_after_startup')} | "
              f"{f('driver_peak_mib')} | {f('worker_peak_mib')} | {f('cpu_s')} | "
              f"{f('worker_cpu_s')} | {f('words_per_cpu_s')} | "
              f"{f('startup_cpu_s', '{:.1f}')} | {f('words_per_cpu_s_after_startup')} | "
              f"{r['load_average'][0]:.1f} |"
              )  # fmt: skip
    print()
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    result = {"docs": args.docs, "words": words, "batch_size": args.batch_size,
              "identical_outputs": identical, "rows": rows, "ratios": ratios,
              "seconds": time.perf_counter() - start}  # fmt: skip
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
