"""Benchmark the streamed multi-task reader: peak memory of `spacy train` at 10k and 200k documents.

    nice -n 10 python benchmarks/bench_streaming.py
    python benchmarks/bench_streaming.py --sizes 2000 20000 --readers streaming   # a quick try

For each size, writes a corpus from the demo generator as two sharded sources
(categories only, entities only; 5000 documents per .spacy shard) and trains
benchmarks/configs/streaming.cfg for its fixed budget of 200 steps, once with
`spacy_mtl.StreamingMultiTaskCorpus.v1` and once with the in-memory
`spacy_mtl.MultiTaskCorpus.v1`. Measures the peak resident memory (VmHWM) and
wall time of each `spacy train` process. Goal: streamed peak at 200k under 1.2x
the peak at 10k. Prints a table; writes JSON.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the demo_corpus package

from proc_memory import run_and_sample  # noqa: E402

from demo_corpus.draw import write_joint_docbin, write_shards  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "benchmarks/configs/streaming.cfg"
READERS = {
    "streaming": "spacy_mtl.StreamingMultiTaskCorpus.v1",
    "in-memory": "spacy_mtl.MultiTaskCorpus.v1",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--readers", nargs="+", default=list(READERS), choices=list(READERS))
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/work/streaming")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/reports/streaming.json")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    dev = work / "dev.spacy"
    if not dev.exists():
        write_joint_docbin(300, dev, seed=7)
    text = CONFIG.read_text(encoding="utf-8")
    rows = []
    for reader in args.readers:
        config = work / f"{reader}.cfg"
        config.write_text(text.replace(READERS["streaming"], READERS[reader]), encoding="utf-8")
        for size in args.sizes:
            corpus = work / f"corpus-{size}"
            if not (corpus / "ents").exists():
                write_shards(size, corpus)
            cmd = [sys.executable, "-m", "spacy", "train", str(config),
                   "--paths.train_cats", str(corpus / "cats"),
                   "--paths.train_ents", str(corpus / "ents"), "--paths.dev", str(dev)]  # fmt: skip
            result, wall, peaks = run_and_sample(cmd, interval=0.1)
            if result.returncode != 0:
                print(result.stdout[-2000:], result.stderr[-3000:], file=sys.stderr)
                return 1
            trainer = next(iter(peaks))
            steps = [
                line
                for line in result.stdout.splitlines()
                if line.split()[:1] and line.split()[0].isdigit()
            ]
            last = steps[-1].split() if steps else None
            rows.append({"reader": reader, "docs": size, "peak_mib": peaks[trainer][0],
                         "wall_s": wall, "last_log": last})  # fmt: skip
            print(json.dumps(rows[-1]))
    ratios = {}
    for reader in args.readers:
        peaks = [r["peak_mib"] for r in rows if r["reader"] == reader]
        ratios[reader] = peaks[-1] / peaks[0]
    print()
    print("| reader | documents | peak RSS MiB | wall s |")
    print("| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['reader']} | {r['docs']} | {r['peak_mib']:.0f} | {r['wall_s']:.0f} |")
    print()
    for reader, ratio in ratios.items():
        print(f"{reader}: peak at {args.sizes[-1]} / peak at {args.sizes[0]} = {ratio:.2f}")
    result = {"sizes": args.sizes, "steps": 200, "rows": rows, "ratios": ratios}
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
