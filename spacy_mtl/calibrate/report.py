"""What calibrate prints and writes: a summary, calibration.json and a reliability diagram."""

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..atomic import atomic_path, write_text_atomic

REPORT_JSON = "calibration.json"
DIAGRAM_PNG = "reliability.png"


def summary_lines(report: Dict[str, Any]) -> List[str]:
    """The lines the command prints: ECE before and after, the score and its threshold."""
    intents = report["intents"]
    calibration = intents["calibration"]
    method = calibration["method"]
    if method == "temperature":
        method += f" T = {calibration['temperature']:.3f}"
    unseen = intents.get("unseen_labels") or {}
    lines = [
        f"intents ({report['textcat']}): {intents['n_in_scope']} in-scope and "
        f"{intents['n_out_of_scope']} out-of-scope dev documents"
        + (
            f"; {sum(unseen.values())} left out, their intents unknown to the pipeline: "
            + ", ".join(f"{label} ({n})" for label, n in sorted(unseen.items()))
            if unseen
            else ""
        ),
        f"  calibration: {method} (chosen by cross-validated NLL: "
        + ", ".join(f"{k} {v:.4f}" for k, v in intents["cv_nll"].items())
        + ")",
        f"  ECE: {intents['ece_before']:.4f} before, {intents['ece_after']:.4f} after",
        f"  out-of-scope score: {calibration['score']} (dev AUROC: "
        + ", ".join(f"{k} {_num(v)}" for k, v in intents["aurocs"].items())
        + ")",
        f"  threshold {calibration['threshold']:.6g}, chosen for {calibration['chosen_for']}: "
        f"in-scope recall {intents['in_scope_recall']:.3f}"
        + (
            f", out-of-scope recall {intents['oos_recall']:.3f}, precision "
            f"{intents['oos_precision']:.3f}"
            if "oos_recall" in intents
            else ""
        ),
    ]
    entities = report.get("entities")
    if entities:
        lines.append(f"entities ({report['ner']}): " + _entity_line(entities))
    return lines


def card_lines(report: Dict[str, Any]) -> List[str]:
    """The model card's section on a calibrated pipeline: what calibrate printed, as Markdown,
    and what a rejected text reads as."""
    calibration = report["intents"]["calibration"]
    lines = [
        "## Confidence and out-of-scope",
        "",
        f"Calibrated with `python -m spacy_mtl calibrate` on `{report['dev']}`:",
        "",
    ]
    lines += [f"- {line.strip()}" for line in summary_lines(report)]
    lines += [
        "",
        f"A text whose {calibration['score']} score falls below the threshold is out of scope: "
        "`doc._.intent` is the head's `rejected_intent` and `doc._.out_of_scope` is true, while "
        "`doc.cats` keep every probability; `doc._.intent_confidence` and each entity's "
        "`ent._.confidence` are the calibrated confidences. `calibration.json` in the package "
        "holds every number above and the reliability bins.",
        "",
    ]
    return lines


def _entity_line(entities: Dict[str, Any]) -> str:
    parts = [
        f"{key} {_num(entities[key])}" for key in ("ece_before", "ece_after") if key in entities
    ]
    if "method" in entities:
        cv = entities.get("cv_log_loss") or {}
        chosen = ", ".join(f"{k} {_num(v)}" for k, v in cv.items())
        parts.insert(
            0, entities["method"] + (f" (cross-validated log-loss: {chosen})" if cv else "")
        )
    return ", ".join(parts) or json.dumps(entities, default=str)[:200]


def _num(value: Optional[float]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"


def write_report(folder: Path, report: Dict[str, Any]) -> List[str]:
    """Write calibration.json and, with matplotlib, reliability.png into folder.

    RETURNS (List[str]): Notes for the user (a missing optional dependency).
    """
    text = json.dumps(report, indent=2, default=_plain, allow_nan=False)
    write_text_atomic(folder / REPORT_JSON, text + "\n")
    try:
        import matplotlib
    except ImportError:
        return [
            f"no {DIAGRAM_PNG}: the reliability diagram needs matplotlib "
            '(pip install "spacy-mtl[plot]"); calibration.json has its numbers'
        ]
    matplotlib.use("Agg")
    draw_reliability(report["intents"]["reliability"], folder / DIAGRAM_PNG)
    return []


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def draw_reliability(bins: Dict[str, List[Dict[str, Any]]], path: Path) -> None:
    """A reliability diagram: accuracy against confidence per bin, before and after."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    for ax, (title, rows) in zip(axes, bins.items()):
        filled = [row for row in rows if row["count"]]
        centres = [(row["low"] + row["high"]) / 2 for row in filled]
        width = rows[0]["high"] - rows[0]["low"]
        ax.bar(centres, [row["accuracy"] for row in filled], width=width * 0.9, label="accuracy")
        ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
        ax.plot(centres, [row["confidence"] for row in filled], "o", color="C3", label="confidence")
        ax.set_title(f"{title} calibration")
        ax.set_xlabel("confidence")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
