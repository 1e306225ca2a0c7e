"""scores.png: the per-task scores as grouped bars, one colour per system (needs matplotlib).

matplotlib is the optional `[plot]` extra; without it the command says what to
install and writes everything else.
"""

from pathlib import Path
from typing import Any, Dict

from ..scorers import REPORT_METRICS as METRICS


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_scores(result: Dict[str, Any], path: Path) -> None:
    """Draw the scores of each system (pipeline, compare) to a PNG file.

    result (Dict[str, Any]): The content of scores.json.
    path (Path): The PNG to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in ("pipeline", "compare") if name in result]
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, name in enumerate(names):
        values = [result[name].get(key) for key, _ in METRICS]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(METRICS))]
        # A score that does not exist (None) is drawn as no bar.
        bars = ax.bar(xs, [100 * v if v is not None else 0.0 for v in values], width, label=name)
        labels = [f"{100 * v:.1f}" if v is not None else "n/a" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
    ax.set_xticks(range(len(METRICS)))
    ax.set_xticklabels([title for _, title in METRICS], rotation=15)
    # Headroom above 100 keeps the legend clear of the bars.
    ax.set_ylim(0, 118)
    ax.set_ylabel("score (%)")
    ax.set_title(f"Scores on {Path(result['test']).name} ({result['n_docs']} documents)")
    ax.legend(loc="upper center", ncol=len(names), frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)
