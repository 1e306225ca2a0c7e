"""Benchmark spacy_mtl against stock spaCy on joint intent detection and slot filling.

For each dataset (ATIS, SNIPS: folders of line-aligned seq.in / seq.out / label), each
setting (`full`: the training set annotated for both tasks; `separate`: the training set cut
in halves, the even lines annotated with intents only and the odd lines with slots only),
each system (see SYSTEMS) and each seed, this script trains with `python -m spacy train` in a
subprocess, with the same step budget, seed, dev set (the valid split), evaluation schedule
and model selection (model-best on dev) for every system, then evaluates model-best on the
test split with one metric implementation for all systems:

- intent accuracy: the top label of doc.cats equals the gold label (a gold label the model
  never saw in training is simply wrong);
- slot F1: micro precision / recall / F over exact (start token, end token, type) spans;
- sentence accuracy: the intent right and the predicted span set exactly the gold one.

Every pipeline reads the datasets' own tokens (its tokenizer is replaced by one that splits on
blanks, as the converter does), in training (`gold_preproc`), on dev and on test. Each run
also records the training wall time, the peak resident memory of the training process, the
dev scores over the steps, and inference words per second with `n_process=1` and `2`. A last
step per (dataset, seed) times the shared pipeline against the two single-task pipelines run
one after the other on the same texts, and against stock spaCy's joint pipeline, in one
process and interleaved, so that their ratios are measured under the same machine load.

The results go to --out (per-run folders with the derived configs, logs, dev curves, models
and result.json; finished runs are skipped when the script is run again) and a summary
(results.json, results.md, PNG charts) to --summary-dir.

The code under test is a snapshot: `--code-rev HEAD` (the default) exports spacy_mtl/ and
configs/ of that git revision into --out/_code/<sha>/ and every subprocess imports from there,
so that every system of a run uses the same code even while the working tree changes.
`--code-rev worktree` snapshots the working tree instead.

Usage (SYSTEM:SETTING limits a system to some settings; runs go in the order given):
    python benchmarks/run_benchmarks.py --data-dir ../shared/data --datasets atis snips \
        --systems stock_joint mtl_joint mtl_single:full mtl_pcgrad:full mtl_transformer:full \
        --steps 1000 --transformer-steps 200 --seeds 0 --jobs 2 \
        --out benchmarks/results --summary-dir benchmarks/reports
"""

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

# The suite is the package next to this script: importable from any working directory (the
# worker subprocesses run in the code snapshot) and when this file is loaded other than as a script.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite.helpers import BENCH_DIR, REPO_DIR  # noqa: E402
from suite.runner import run_benchmark  # noqa: E402
from suite.systems import FULL, SETTINGS, SYSTEMS, SYSTEMS_BY_NAME  # noqa: E402
from suite.worker import run_worker  # noqa: E402

# --------------------------------------------------------------------------- command line


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark (or, with --worker, one evaluation or speed job in a subprocess).

    argv (Optional[List[str]]): The arguments; None reads sys.argv.
    RETURNS (int): The exit status.
    """
    args = parse_args(argv)
    if args.worker:
        return run_worker(args.worker, json.loads(args.job))
    return run_benchmark(args)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_DIR.parent / "shared" / "data",
        help="folder holding one folder per dataset with train/valid/test",
    )
    parser.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    parser.add_argument(
        "--systems",
        nargs="+",
        default=[s.name for s in SYSTEMS],
        metavar="SYSTEM",
        help="SYSTEM or SYSTEM:SETTING[,SETTING] (only those settings), from "
        f"{', '.join(s.name for s in SYSTEMS)}; runs go in this order",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        default=list(SETTINGS),
        choices=SETTINGS,
        help="settings of the systems given without any",
    )
    parser.add_argument("--steps", type=int, default=2000, help="training steps of every CNN run")
    parser.add_argument(
        "--transformer-steps",
        type=int,
        default=400,
        help="training steps of the transformer runs (slow on a CPU)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument(
        "--eval-frequency",
        type=int,
        default=None,
        help="steps between dev evaluations (default: a tenth of each run's budget)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results",
        help="working folder: data cache, code snapshot, runs",
    )
    parser.add_argument(
        "--summary-dir",
        type=Path,
        default=None,
        help="where results.json, results.md and the charts go (default: --out)",
    )
    parser.add_argument(
        "--code-rev",
        default="HEAD",
        help="git revision of spacy_mtl/ and configs/ to test, or 'worktree'",
    )
    parser.add_argument(
        "--speed-seconds",
        type=float,
        default=3.0,
        help="single-process seconds of work per speed measurement",
    )
    parser.add_argument(
        "--speed-rounds",
        type=int,
        default=3,
        help="interleaved rounds of the shared-vs-separate speed comparison",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="nlp.pipe batch size")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per process (OMP/MKL/torch): 1 gives every system one core",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at the same time (the speed comparison always runs alone)",
    )
    parser.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per subprocess")
    parser.add_argument(
        "--summary-only",
        action="store_true",
        help="only rebuild the summary from the finished runs",
    )
    parser.add_argument("--worker", choices=["evaluate", "speed"], help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.summary_dir is None:
        args.summary_dir = args.out
    args.system_settings = []
    for spec in args.systems:
        name, _, settings = spec.partition(":")
        chosen = settings.split(",") if settings else args.settings
        if name not in SYSTEMS_BY_NAME or not set(chosen) <= set(SETTINGS):
            parser.error(
                f"--systems {spec}: expected SYSTEM[:SETTING,...] with SYSTEM from "
                f"{', '.join(SYSTEMS_BY_NAME)} and SETTING from {', '.join(SETTINGS)}"
            )
        if SYSTEMS_BY_NAME[name].teacher:
            # Its teacher annotates the training split, which only the full setting has whole.
            if settings and set(chosen) != {FULL}:
                parser.error(
                    f"--systems {spec}: a distilled system trains in the {FULL} setting only"
                )
            chosen = [FULL]
        args.system_settings.append((SYSTEMS_BY_NAME[name], chosen))
    return args


if __name__ == "__main__":
    sys.exit(main())
