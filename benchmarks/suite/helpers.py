"""What the orchestrator, the worker and the report share: paths, the thread setting, the error
of a failed subprocess, JSON files, logging.

A module of its own so that each of them imports these without importing the others.
"""

import json
import re
import time
from pathlib import Path
from typing import Any, Dict

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent

THREADS = 1  # set from --threads


class RunError(RuntimeError):
    """A training, evaluation or speed subprocess that failed; the benchmark goes on."""


def run_code(run: Dict[str, Any]) -> str:
    """The code snapshot a run was trained and evaluated with (results/_code/<name>)."""
    if run.get("code"):
        return run["code"]
    return Path(run["test"]["spacy_mtl"]).parents[1].name


def _write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a crash never leaves a half-written result that counts as done."""
    from spacy_mtl.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=1, default=str))


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_DIR))
    except ValueError:
        return str(path)


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w./=:,+-]+", arg) else json.dumps(arg)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def mean_spread(values, scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± sample standard deviation' of values times scale (± 0 for one value)."""
    import statistics

    scaled = [scale * v for v in values]
    spread = statistics.stdev(scaled) if len(scaled) > 1 else 0.0
    return f"{statistics.mean(scaled):.{digits}f} ± {spread:.{digits}f}"


def pyplot():
    """matplotlib.pyplot on the Agg backend, or None (and a note) where it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('No chart: matplotlib is not installed (pip install "spacy-mtl[plot]").')
        return None
    return plt
