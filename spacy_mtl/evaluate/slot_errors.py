"""Slot errors by kind, judged by the rule of spaCy's `get_ner_prf` (the ner scorer's).

A predicted entity is mapped onto the gold tokens; one that covers a token
without gold annotation is neither right nor wrong and is left out. Each gold
entity that is not predicted exactly is one error: *wrong type* (same tokens,
other label), *wrong boundary* (overlapping prediction, same label),
*wrong type and boundary* (overlapping prediction, other label) or *missed*
(nothing overlaps). Each counted prediction that overlaps no gold entity is
*spurious*. So the gold-side kinds add up to the scorer's false negatives.
"""

from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.training import Example

from ..annotation import has_ents

KINDS = ("wrong_type", "wrong_boundary", "wrong_type_and_boundary", "missed", "spurious")
KIND_TITLES = {
    "wrong_type": "wrong type",
    "wrong_boundary": "wrong boundary",
    "wrong_type_and_boundary": "wrong type and boundary",
    "missed": "missed",
    "spurious": "spurious",
}
# (label, start, end) in gold token offsets.
Ent = Tuple[str, int, int]


def counted_predictions(eg: Example) -> List[Ent]:
    """The predicted entities the scorer counts, in gold token offsets."""
    x2y = eg.alignment.x2y
    counted = []
    for ent in eg.x.ents:
        indices = x2y[ent.start : ent.end]
        if len(indices):
            start, end = int(indices[0]), int(indices[-1]) + 1
            if all(token.ent_iob != 0 for token in eg.y[start:end]):
                counted.append((ent.label_, start, end))
    return counted


def classify(eg: Example) -> List[Tuple[str, Optional[Ent], Optional[Ent]]]:
    """The slot errors of one document: (kind, gold entity, predicted entity)."""
    golds = [(e.label_, e.start, e.end) for e in eg.y.ents]
    preds = counted_predictions(eg)
    exact = set(golds) & set(preds)
    errors: List[Tuple[str, Optional[Ent], Optional[Ent]]] = []
    for gold in golds:
        if gold in exact:
            continue
        overlapping = [p for p in preds if p[1] < gold[2] and gold[1] < p[2]]
        same_span = [p for p in overlapping if p[1:] == gold[1:]]
        same_label = [p for p in overlapping if p[0] == gold[0]]
        if same_span:
            errors.append(("wrong_type", gold, same_span[0]))
        elif same_label:
            errors.append(("wrong_boundary", gold, same_label[0]))
        elif overlapping:
            errors.append(("wrong_type_and_boundary", gold, overlapping[0]))
        else:
            errors.append(("missed", gold, None))
    for pred in preds:
        if pred not in exact and not any(g[1] < pred[2] and pred[1] < g[2] for g in golds):
            errors.append(("spurious", None, pred))
    return errors


def slot_error_counts(examples: Sequence[Example]) -> Dict[str, Any]:
    """Slot errors by kind, overall and per gold (or, if spurious, predicted) slot type,
    and the support (gold entities) of each type."""
    totals: Counter = Counter({kind: 0 for kind in KINDS})
    per_type: Dict[str, Counter] = defaultdict(Counter)
    support: Counter = Counter()
    for eg in examples:
        if not has_ents(eg.reference):
            continue
        support.update(e.label_ for e in eg.y.ents)
        for kind, gold, pred in classify(eg):
            totals[kind] += 1
            per_type[(gold or pred)[0]][kind] += 1
    return {
        "slot_errors": dict(totals),
        "slot_errors_per_type": {label: dict(c) for label, c in sorted(per_type.items())},
        "ents_support": dict(sorted(support.items())),
    }
