"""The tables of scores, as rows of strings: the terminal prints them, the page shows them.

One formatter (`pct`) for both, so a number reads the same in the terminal, in
report.html and (as the fraction it came from) in scores.json.
"""

from typing import Any, Dict, List, Optional, Tuple

from .slot_errors import KIND_TITLES, KINDS

SUMMARY = [
    ("cats_acc", "intent accuracy"),
    ("cats_macro_p", "intent macro P"),
    ("cats_macro_r", "intent macro R"),
    ("cats_macro_f", "intent macro F"),
    ("cats_micro_p", "intent micro P"),
    ("cats_micro_r", "intent micro R"),
    ("cats_micro_f", "intent micro F"),
    ("ents_p", "slot precision"),
    ("ents_r", "slot recall"),
    ("ents_f", "slot F"),
    ("joint_sentence_acc", "sentence accuracy"),
]

Table = Tuple[List[str], List[List[str]]]


def pct(value: Optional[float]) -> str:
    """A fraction as a percentage with two decimals; "-" for a score that does not exist."""
    return "-" if value is None else f"{100 * value:.2f}"


def summary_table(systems: List[Tuple[str, Dict[str, Any]]]) -> Table:
    """The overall scores, one column per system, and the difference of two."""
    header = ["metric"] + [name for name, _ in systems]
    if len(systems) == 2:
        header.append("difference")
    rows = []
    for key, title in SUMMARY:
        values = [scores.get(key) for _, scores in systems]
        if all(v is None for v in values):
            continue
        row = [title] + [pct(v) for v in values]
        if len(systems) == 2:
            a, b = values
            row.append("-" if a is None or b is None else f"{100 * (a - b):+.2f}")
        rows.append(row)
    return header, rows


def intent_table(scores: Dict[str, Any]) -> Table:
    """Per intent: precision, recall, F at the classifier's decision rule, and support."""
    per_type = scores.get("cats_f_per_type") or {}
    support = scores.get("cats_support") or {}
    labels = sorted(per_type, key=lambda label: (-support.get(label, 0), label))
    rows = [
        [label, pct(s.get("p")), pct(s.get("r")), pct(s.get("f")), str(support.get(label, 0))]
        for label, s in ((label, per_type[label]) for label in labels)
    ]
    return ["intent", "P", "R", "F", "support"], rows


def slot_table(scores: Dict[str, Any]) -> Table:
    """Per slot type: precision, recall, F, support and its errors by kind."""
    per_type = scores.get("ents_per_type") or {}
    support = scores.get("ents_support") or {}
    errors = scores.get("slot_errors_per_type") or {}
    labels = sorted(set(per_type) | set(support), key=lambda x: (-support.get(x, 0), x))
    rows = []
    for label in labels:
        s = per_type.get(label, {})
        kinds = errors.get(label, {})
        rows.append(
            [label, pct(s.get("p")), pct(s.get("r")), pct(s.get("f")), str(support.get(label, 0))]
            + [str(kinds.get(kind, 0)) for kind in KINDS]
        )
    return ["slot", "P", "R", "F", "support"] + [KIND_TITLES[k] for k in KINDS], rows


def slot_error_table(systems: List[Tuple[str, Dict[str, Any]]]) -> Table:
    """Slot errors by kind, one column per system."""
    rows = [
        [KIND_TITLES[kind]] + [str((s.get("slot_errors") or {}).get(kind, 0)) for _, s in systems]
        for kind in KINDS
    ]
    return ["slot error"] + [name for name, _ in systems], rows


def confused_table(scores: Dict[str, Any]) -> Table:
    """The most confused (gold, predicted) intent pairs with their counts."""
    rows = [[g, p, str(n)] for g, p, n in scores.get("cats_top_confused") or []]
    return ["gold intent", "predicted as", "documents"], rows
