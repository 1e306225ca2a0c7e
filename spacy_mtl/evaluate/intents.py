"""Intents beyond the scorer's numbers: support, the confusion matrix, the confused pairs.

The matrix counts the documents with gold categories only (as `cats_acc` does),
gold intent by row, predicted intent by column, and orders the intents so that
the ones confused with each other sit next to each other.
"""

from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple

from spacy.training import Example

from ..annotation import has_cats

NO_INTENT = "(none)"
TOP_PAIRS = 15


def gold_intents(eg: Example, multi_label: bool) -> Tuple[str, ...]:
    """The gold intent (exclusive) or the gold positive labels (multi-label), sorted."""
    cats = eg.reference.cats
    if not cats:
        return ()
    if multi_label:
        return tuple(sorted(label for label, value in cats.items() if value >= 0.5))
    return (max(cats, key=cats.get),)


def predicted_intents(eg: Example, multi_label: bool, threshold: float) -> Tuple[str, ...]:
    """The predicted intent, or the labels at or above the threshold, as `cats_right` judges.

    Multi-label: only over the labels the gold categories name (the others are masked).
    """
    pred = eg.predicted.cats
    if multi_label:
        positive = (label for label in eg.reference.cats if pred.get(label, 0) >= threshold)
        return tuple(sorted(positive))
    return (max(pred, key=pred.get),) if pred else (NO_INTENT,)


def intent_details(examples: Sequence[Example], multi_label: bool, threshold: float) -> Dict:
    """Support per intent, and for exclusive intents the ordered confusion matrix and the
    most confused (gold, predicted) pairs with their counts."""
    annotated = [eg for eg in examples if has_cats(eg.reference)]
    support: Counter = Counter()
    for eg in annotated:
        support.update(gold_intents(eg, multi_label))
    details: Dict[str, Any] = {"cats_support": dict(sorted(support.items()))}
    if multi_label or not annotated:
        return details
    pairs = Counter(
        (gold_intents(eg, False)[0], predicted_intents(eg, False, threshold)[0]) for eg in annotated
    )
    labels = order_labels(pairs)
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for (gold, pred), n in pairs.items():
        matrix[index[gold]][index[pred]] = n
    confused = sorted(
        ((g, p, n) for (g, p), n in pairs.items() if g != p), key=lambda x: (-x[2], x[0], x[1])
    )
    details["cats_confusion"] = {"labels": labels, "matrix": matrix}
    details["cats_top_confused"] = [list(item) for item in confused[:TOP_PAIRS]]
    return details


def order_labels(pairs: Counter) -> List[str]:
    """The intents in an order that puts confused ones side by side.

    Greedy seriation: start with the intent in the most confusions, then take the
    unplaced intent most confused with the last one placed (either way round);
    when none is, the unplaced intent with the most confusions, then the most support.
    """
    labels = sorted({g for g, _ in pairs} | {p for _, p in pairs})
    between: Counter = Counter()
    involved: Counter = Counter()
    support: Counter = Counter()
    for (gold, pred), n in pairs.items():
        support[gold] += n
        if gold != pred:
            between[frozenset((gold, pred))] += n
            involved[gold] += n
            involved[pred] += n
    order: List[str] = []
    left = set(labels)
    while left:
        last = order[-1] if order else None
        best = min(
            left,
            key=lambda label, last=last: (
                -between[frozenset((last, label))] if last is not None else 0,
                -involved[label],
                -support[label],
                label,
            ),
        )
        order.append(best)
        left.remove(best)
    return order
