"""The charts of the report: dev curves over the steps and final test scores, per dataset.

Apart from the tables because they need matplotlib, imported only when drawing: without it the
summary has no charts, and nothing else changes.
"""

import statistics
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .systems import CURVE_KEYS, METRICS, SETTINGS, SYSTEMS


def plot_curves(runs: List[Dict[str, Any]], out_dir: Path) -> None:
    """Per dataset: dev score over the steps, a panel per (setting, task), a line per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for dataset in sorted({r["dataset"] for r in runs}):
        settings = [
            s for s in SETTINGS if any(r["dataset"] == dataset and r["setting"] == s for r in runs)
        ]
        tasks = list(CURVE_KEYS)
        fig, axes = plt.subplots(
            len(settings), len(tasks), figsize=(5 * len(tasks), 3.6 * len(settings)), squeeze=False
        )
        for i, setting in enumerate(settings):
            for j, task in enumerate(tasks):
                ax = axes[i][j]
                for system in SYSTEMS:
                    if task == "sentence" and not system.is_joint:
                        continue  # a single-task pipeline's dev sentence score means nothing
                    points = _curve(runs, dataset, setting, system.name, CURVE_KEYS[task])
                    if points:
                        steps, values = zip(*points)
                        ax.plot(
                            steps, values, marker=".", label=system.title, color=_color(system.name)
                        )
                ax.set_title(f"{dataset} {setting}: dev {task}")
                ax.set_xlabel("step")
                ax.grid(alpha=0.3)
                if j == 0:
                    ax.set_ylabel("score (%)")
                ax.set_ylim(bottom=max(0, ax.get_ylim()[0]))
        handles, labels = [], []
        for ax in axes.ravel():
            for h, label in zip(*ax.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(h)
                    labels.append(label)
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8)
        fig.suptitle(
            f"{dataset.upper()}: dev (valid split) scores during training; intent is cats_acc "
            "(spacy_mtl) or cats_micro_f (stock spaCy: the same accuracy over labels it knows); "
            "stock spaCy's scorers have no sentence accuracy",
            fontsize=9,
        )
        fig.tight_layout(rect=(0, 0.06, 1, 0.97))
        fig.savefig(out_dir / f"curves_{dataset}.png", dpi=90)
        plt.close(fig)


def _color(system: str) -> str:
    """One colour per system in every panel and chart."""
    return f"C{[s.name for s in SYSTEMS].index(system) % 10}"


def _curve(runs, dataset, setting, system, keys) -> List[Tuple[int, float]]:
    """The seed-mean dev curve of a system; a single-task pair reads each task from its pipeline."""
    by_step: Dict[int, List[float]] = {}
    for run in runs:
        if (run["dataset"], run["setting"], run["system"]) != (dataset, setting, system):
            continue
        for task_train in run["train"].values():
            for record in task_train["curve"]:
                value = next((record["scores"][k] for k in keys if k in record["scores"]), None)
                if value is not None:  # spaCy's scores are fractions
                    by_step.setdefault(record["step"], []).append(100.0 * value)
    return sorted((step, statistics.fmean(v)) for step, v in by_step.items())


def plot_final(rows: List[Dict[str, Any]], out_dir: Path) -> None:
    """Per dataset: test scores of every system, grouped by metric, one panel per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for dataset in sorted({r["dataset"] for r in rows}):
        settings = [
            s for s in SETTINGS if any(r["dataset"] == dataset and r["setting"] == s for r in rows)
        ]
        fig, axes = plt.subplots(1, len(settings), figsize=(7 * len(settings), 5.2), squeeze=False)
        for ax, setting in zip(axes[0], settings):
            group = [r for r in rows if r["dataset"] == dataset and r["setting"] == setting]
            width = 0.8 / max(len(group), 1)
            for k, row in enumerate(group):
                xs = [i + k * width for i in range(len(METRICS))]
                means = [row[key]["mean"] for key, _ in METRICS]
                errs = [row[key]["std"] for key, _ in METRICS]
                bars = ax.bar(
                    xs,
                    means,
                    width,
                    yerr=errs,
                    color=_color(row["system"]),
                    label=f"{row['title']} ({row['steps']} steps)",
                )
                for bar, mean in zip(bars, means):
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        mean + 0.3,
                        f"{mean:.1f}",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        rotation=90,
                    )
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(METRICS))])
            ax.set_xticklabels([title for _, title in METRICS])
            low = min((row[key]["mean"] for row in group for key, _ in METRICS), default=0)
            ax.set_ylim(max(0, min(low - 5, 80)), 101)
            ax.set_title(f"{dataset.upper()} test, {setting} annotation")
            ax.set_ylabel("%")
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
        fig.tight_layout()
        fig.savefig(out_dir / f"final_{dataset}.png", dpi=90)
        plt.close(fig)
