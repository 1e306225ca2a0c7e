"""The report: the finished runs aggregated over seeds, checked against the targets, and written
as results.json, results.md and charts.

Reads only the runs' result.json and speed.json files, so that a summary can be rebuilt at any
time (--summary-only) from runs that accumulate over several invocations.
"""

import argparse
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import helpers
from .charts import plot_curves, plot_final
from .helpers import _write_json, log, run_code
from .systems import (
    ANCHORS,
    CURVE_KEYS,
    FULL,
    SEPARATE,
    SEPARATE_TOLERANCE,
    SETTINGS,
    SPEED_ENCODER,
    SPEED_ENCODER_TITLE,
    SPEED_RATIO_TARGETS,
    SPEED_SHARED,
    SYSTEMS,
    SYSTEMS_BY_NAME,
    TARGETS,
    steps_of,
)


def summarize(
    args: argparse.Namespace, command: str, code_rev: str, failures: List[str]
) -> Dict[str, Any]:
    """Collect the finished runs of the requested datasets, aggregate over seeds, write files.

    Every finished run of the requested datasets and seeds at this invocation's step budgets
    counts, also of systems not requested this time: the runs accumulate.
    """
    runs = []
    for path in sorted((args.out / "runs").glob("*/*/*/*/result.json")):
        result = json.loads(path.read_text())
        system = SYSTEMS_BY_NAME.get(result["system"])
        if (
            system is not None
            and result["dataset"] in args.datasets
            and result["seed"] in args.seeds
            and result["steps"] == steps_of(args, system)
        ):
            runs.append(result)
    speed = {}
    for seed in args.seeds:
        for dataset in args.datasets:
            path = args.out / "speed" / dataset / f"steps{args.steps}-seed{seed}" / "speed.json"
            if path.exists():
                speed.setdefault(dataset, []).append(json.loads(path.read_text()))
    rows = aggregate(runs)
    summary = {
        "command": command,
        "code": code_rev,
        "code_of_runs": sorted({run_code(run) for run in runs}),
        "invocations": sorted({run.get("invocation", "?") for run in runs}),
        "machine": machine(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "failures": failures,
        "rows": rows,
        "speed": summarize_speed(speed),
        "targets": check_targets(rows, summarize_speed(speed)),
        "runs": [_strip_run(r) for r in runs],
    }
    args.summary_dir.mkdir(parents=True, exist_ok=True)
    _write_json(args.summary_dir / "results.json", summary)
    (args.summary_dir / "results.md").write_text(render_markdown(summary), encoding="utf8")
    try:
        plot_curves(runs, args.summary_dir)
        plot_final(rows, args.summary_dir)
    except ImportError:
        log("matplotlib is not installed: no charts")
    log(f"summary in {args.summary_dir}")
    return summary


def _strip_run(run: Dict[str, Any]) -> Dict[str, Any]:
    """A run for the summary JSON: its curves kept, paths and commands dropped."""
    return {
        "dataset": run["dataset"],
        "setting": run["setting"],
        "system": run["system"],
        "seed": run["seed"],
        "steps": run["steps"],
        "train_wall_s": run["train_wall_s"],
        "train_cpu_s": run["train_cpu_s"],
        "train_peak_rss_mb": run["train_peak_rss_mb"],
        "train_wps": train_words_per_second(run),
        "test": run["test"]["metrics"],
        "speed": run["test"]["speed"],
        "inference_peak_rss_mb": run["test"]["peak_rss_mb"],
        "best_step": {task: t.get("best_step") for task, t in run["train"].items()},
        "dev_curve": {
            task: [
                {
                    "step": r["step"],
                    "seconds": round(r["seconds"], 1),
                    **{
                        k: round(v, 2)
                        for k, v in r["scores"].items()
                        if k
                        in {key for keys in CURVE_KEYS.values() for key in keys} | {"cats_score"}
                    },
                }
                for r in t["curve"]
            ]
            for task, t in run["train"].items()
        },
    }


def train_words_per_second(run: Dict[str, Any]) -> Optional[float]:
    """Words/s of `spacy train` over the whole run, evaluations included, as its user sees it.

    The logger's last record has spaCy's own word count and clock. A system of two pipelines
    trains each on the same corpus, so its rate is one pipeline's words over both times.
    """
    lasts = [t["curve"][-1] for t in run["train"].values() if t.get("curve")]
    if not lasts or any(not r.get("words") for r in lasts):
        return None
    return max(r["words"] for r in lasts) / sum(r["seconds"] for r in lasts)


def aggregate(runs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per (dataset, setting, system): mean, std and n over seeds of every number."""
    groups: Dict[Tuple[str, str, str], List[Dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["dataset"], run["setting"], run["system"]), []).append(run)
    order = {s.name: i for i, s in enumerate(SYSTEMS)}
    rows = []
    for (dataset, setting, system), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], SETTINGS.index(kv[0][1]), order[kv[0][2]])
    ):
        values = {
            **{
                key: [r["test"]["metrics"][key] for r in group]
                for key in ("intent_acc", "slot_f1", "sentence_acc", "slot_p", "slot_r")
            },
            "train_min": [r["train_wall_s"] / 60 for r in group],
            "train_cpu_min": [r["train_cpu_s"] / 60 for r in group],
            "train_rss_mb": [r["train_peak_rss_mb"] for r in group],
            "infer_rss_mb": [r["test"]["peak_rss_mb"] for r in group],
            "wps_1": [r["test"]["speed"]["wps_1"] for r in group if r["test"]["speed"]["wps_1"]],
            "wps_2": [r["test"]["speed"]["wps_2"] for r in group if r["test"]["speed"]["wps_2"]],
            "train_wps": [v for v in map(train_words_per_second, group) if v],
        }
        rows.append(
            {
                "dataset": dataset,
                "setting": setting,
                "system": system,
                "title": SYSTEMS_BY_NAME[system].title,
                "steps": group[0]["steps"],
                "seeds": sorted(r["seed"] for r in group),
                **{key: _stats(v) for key, v in values.items()},
            }
        )
    return rows


def _stats(values: List[float]) -> Optional[Dict[str, float]]:
    if not values:
        return None
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def summarize_speed(speed: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    """Per dataset: each system's median words/s and the shared/other ratios (over all rounds)."""
    out = {}
    for dataset, jobs in speed.items():
        wps: Dict[str, Dict[str, List[float]]] = {}
        ratios: Dict[str, List[float]] = {}
        for job in jobs:
            for rnd in job["rounds"]:
                for system, values in rnd.items():
                    for key, value in values.items():
                        if value:
                            wps.setdefault(system, {}).setdefault(key, []).append(value)
            # The ratio of each round, under that round's load, over every round and seed.
            for rnd in job["rounds"]:
                shared = rnd.get(SPEED_SHARED, {})
                for other, values in rnd.items():
                    for key, value in values.items():
                        if other != SPEED_SHARED and value and shared.get(key):
                            ratio_key = f"{SPEED_SHARED}/{other}/n{key.rsplit('_', 1)[1]}"
                            ratios.setdefault(ratio_key, []).append(shared[key] / value)
        out[dataset] = {
            "wps": {s: {k: statistics.median(v) for k, v in d.items()} for s, d in wps.items()},
            "ratios": {
                k: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                for k, v in ratios.items()
            },
            "rounds": sum(len(job["rounds"]) for job in jobs),
            "words": jobs[0]["words"],
        }
    return out


def check_targets(rows: List[Dict[str, Any]], speed: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Where each target of the issue stands: the measured value, and whether it is met."""
    by_key = {(r["dataset"], r["setting"], r["system"]): r for r in rows}
    checks = []
    for dataset, setting, system, minimums, source in TARGETS:
        row = by_key.get((dataset, setting, system))
        for metric, minimum in minimums.items():
            value = row[metric]["mean"] if row else None
            checks.append(
                {
                    "target": f"{dataset} {SYSTEMS_BY_NAME[system].title}: "
                    f"{metric} >= {minimum} ({source})",
                    "value": value,
                    "met": None if value is None else value >= minimum,
                }
            )
    for dataset in sorted({r["dataset"] for r in rows}):
        for system in [s.name for s in SYSTEMS if s.is_joint]:
            full, separate = (
                by_key.get((dataset, FULL, system)),
                by_key.get((dataset, SEPARATE, system)),
            )
            if not (full and separate):
                continue
            for metric in ("intent_acc", "slot_f1"):
                gap = separate[metric]["mean"] - full[metric]["mean"]
                checks.append(
                    {
                        "target": f"{dataset} {SYSTEMS_BY_NAME[system].title}: separate "
                        f"corpora within {SEPARATE_TOLERANCE} points of full on {metric}",
                        "value": gap,
                        "met": gap >= -SEPARATE_TOLERANCE,
                    }
                )
    for dataset, result in speed.items():
        for n in (1, 2):
            for other, minimum in SPEED_RATIO_TARGETS.items():
                ratio = result["ratios"].get(f"{SPEED_SHARED}/{other}/n{n}")
                if ratio:
                    checks.append(
                        {
                            "target": f"{dataset}: words/s of the shared pipeline >= {minimum}x "
                            f"those of {speed_title(other)} (n_process={n})",
                            "value": ratio["median"],
                            "met": ratio["median"] >= minimum,
                        }
                    )
    return checks


def speed_title(system: str) -> str:
    return SPEED_ENCODER_TITLE if system == SPEED_ENCODER else SYSTEMS_BY_NAME[system].title


def machine() -> Dict[str, Any]:
    import spacy
    import thinc
    import torch

    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    memory = None
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "gpu": None,
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "spacy": spacy.__version__,
        "thinc": thinc.__version__,
        "torch": torch.__version__,
        "threads_per_process": helpers.THREADS,
    }


def _fmt(stat: Optional[Dict[str, float]], digits: int = 2) -> str:
    if not stat:
        return "-"
    if stat["n"] > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def render_markdown(summary: Dict[str, Any]) -> str:
    """The summary as Markdown: scores, speed, targets, anchors, and how it was made."""
    lines = ["# Benchmark results", ""]
    m = summary["machine"]
    lines += [
        f"Made by `{summary['command']}` on {summary['finished']}; "
        f"code under test: {summary['code']}; the runs were trained with the code "
        f"snapshot(s) {', '.join(summary['code_of_runs'])} by:",
        "",
        *[f"    {invocation}" for invocation in summary["invocations"]],
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, no GPU; "
        f"Python {m['python']}, spaCy {m['spacy']}, thinc {m['thinc']}, torch {m['torch']}; "
        f"{m['threads_per_process']} thread(s) per process. "
        "Test splits, the datasets' own tokens, model-best chosen on the valid split. "
        "Mean ± standard deviation over the seeds where there are several.",
        "",
    ]
    datasets = sorted({r["dataset"] for r in summary["rows"]})
    for dataset in datasets:
        lines += [f"## {dataset.upper()}", ""]
        lines += [
            "| setting | system | steps | intent acc | slot F1 | sentence acc | "
            "train min (CPU min) | words/s (1 proc) | words/s (2 proc) | train peak MiB | "
            "infer peak MiB | seeds |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in summary["rows"]:
            if r["dataset"] != dataset:
                continue
            lines.append(
                f"| {r['setting']} | {r['title']} | {r['steps']} | {_fmt(r['intent_acc'])} | "
                f"{_fmt(r['slot_f1'])} | {_fmt(r['sentence_acc'])} | "
                f"{_fmt(r['train_min'], 1)} ({_fmt(r['train_cpu_min'], 1)}) | "
                f"{_fmt(r['wps_1'], 0)} | {_fmt(r['wps_2'], 0)} | {_fmt(r['train_rss_mb'], 0)} | "
                f"{_fmt(r['infer_rss_mb'], 0)} | {','.join(map(str, r['seeds']))} |"
            )
        lines.append("")
    if summary["speed"]:
        lines += [
            "## Speed: one shared pipeline against two single-task pipelines",
            "",
            "Words per second on the test texts (repeated), median over interleaved rounds in one "
            "process; the ratios are taken within each round. *single-task x2* runs the intent "
            "pipeline and then the slot pipeline over the same texts; *encoder alone* is the "
            "shared pipeline with its heads disabled. Training words/s: `spacy train`'s own "
            "word count over its wall time, evaluations included, mean over the seeds (runs "
            "trained --jobs at a time share the CPU).",
            "",
            "| dataset | system | words/s (1 proc) | words/s (2 proc) | training words/s |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        train_wps = {
            (r["dataset"], r["system"]): r["train_wps"]
            for r in summary["rows"]
            if r["setting"] == FULL and r.get("train_wps")
        }
        for dataset, result in summary["speed"].items():
            for system, values in result["wps"].items():
                train = train_wps.get((dataset, system))
                lines.append(
                    f"| {dataset} | {speed_title(system)} | "
                    f"{values.get('wps_1', 0):.0f} | {values.get('wps_2', 0):.0f} | "
                    f"{_fmt(train, 0) if train else '-'} |"
                )
        lines += [
            "",
            "| dataset | ratio | median | min | max |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for dataset, result in summary["speed"].items():
            for key, value in result["ratios"].items():
                shared, other, n = key.split("/")
                lines.append(
                    f"| {dataset} | {speed_title(shared)} / "
                    f"{speed_title(other)}, n_process={n[1:]} | "
                    f"{value['median']:.2f} | {value['min']:.2f} | {value['max']:.2f} |"
                )
        lines.append("")
    lines += ["## Targets", "", "| target | measured | met |", "| --- | ---: | --- |"]
    for check in summary["targets"]:
        value = "-" if check["value"] is None else f"{check['value']:.2f}"
        met = {True: "yes", False: "**no**", None: "not run"}[check["met"]]
        lines.append(f"| {check['target']} | {value} | {met} |")
    lines += [
        "",
        "## Published anchors (not measured here)",
        "",
        "| system | dataset | intent acc | slot F1 | sentence acc |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, dataset, intent, slot, sentence in ANCHORS:
        lines.append(f"| {name} | {dataset} | {intent} | {slot} | {sentence} |")
    if summary["failures"]:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{f.splitlines()[0]}`" for f in summary["failures"]]
    lines.append("")
    return "\n".join(lines)


def print_summary(summary: Dict[str, Any]) -> None:
    print()
    print(
        f"{'dataset':8} {'setting':9} {'system':28} {'steps':>6} {'intent':>14} {'slot F1':>14} "
        f"{'sentence':>14} {'min':>6} {'wps1':>7} {'wps2':>7}"
    )
    for r in summary["rows"]:
        print(
            f"{r['dataset']:8} {r['setting']:9} {r['title']:28} {r['steps']:6d} "
            f"{_fmt(r['intent_acc']):>14} {_fmt(r['slot_f1']):>14} {_fmt(r['sentence_acc']):>14} "
            f"{_fmt(r['train_min'], 1):>6} {_fmt(r['wps_1'], 0):>7} {_fmt(r['wps_2'], 0):>7}"
        )
    for dataset, result in summary["speed"].items():
        for key, value in result["ratios"].items():
            print(
                f"speed {dataset} {key}: {value['median']:.2f} "
                f"(min {value['min']:.2f}, max {value['max']:.2f})"
            )
    for check in summary["targets"]:
        value = "-" if check["value"] is None else f"{check['value']:.2f}"
        print(
            f"target {'MET ' if check['met'] else 'MISS' if check['met'] is False else '----'} "
            f"{value:>7}  {check['target']}"
        )
