"""Calibration of the pipeline's confidences, where it sets them (the confidence extensions).

`doc._.intent_confidence` and `ent._.confidence` (set by the heads when the
pipeline has confidences) are read as they are; without those extensions there
is nothing to calibrate and the report leaves this part out. Ten equal-width
bins give the reliability diagram (accuracy against mean confidence per bin),
the expected calibration error, and histograms of right and wrong predictions.
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.training import Example

from ..annotation import has_cats, has_ents
from ..scorers import cats_right
from .slot_errors import counted_predictions

N_BINS = 10
INTENT_CONFIDENCE = "intent_confidence"
ENT_CONFIDENCE = "confidence"


def confidence_scores(
    examples: Sequence[Example], multi_label: bool, threshold: float, cats: bool, ents: bool
) -> Optional[Dict[str, Any]]:
    """Reliability bins, ECE and right/wrong histograms for intents and slots; None when
    the predicted documents carry no confidence."""
    found: Dict[str, Any] = {}
    if cats and Doc.has_extension(INTENT_CONFIDENCE):
        pairs = [
            (eg.predicted._.get(INTENT_CONFIDENCE), cats_right(eg, multi_label, threshold))
            for eg in examples
            if has_cats(eg.reference)
        ]
        found["intents"] = calibration([(c, r) for c, r in pairs if c is not None])
    if ents and Span.has_extension(ENT_CONFIDENCE):
        found["slots"] = calibration(_slot_pairs(examples))
    found = {task: value for task, value in found.items() if value is not None}
    return found or None


def _slot_pairs(examples: Sequence[Example]) -> List[Tuple[float, bool]]:
    """(confidence, exactly right) of each predicted entity the scorer counts."""
    pairs = []
    for eg in examples:
        if not has_ents(eg.reference):
            continue
        golds = {(e.label_, e.start, e.end) for e in eg.y.ents}
        counted = set(counted_predictions(eg))
        x2y = eg.alignment.x2y
        for ent in eg.x.ents:
            indices = x2y[ent.start : ent.end]
            if not len(indices):
                continue
            key = (ent.label_, int(indices[0]), int(indices[-1]) + 1)
            confidence = ent._.get(ENT_CONFIDENCE)
            if key in counted and confidence is not None:
                pairs.append((float(confidence), key in golds))
    return pairs


def calibration(pairs: Sequence[Tuple[float, bool]]) -> Optional[Dict[str, Any]]:
    """Bin (confidence, right) pairs: per bin count, accuracy and mean confidence; ECE.

    RETURNS (Optional[Dict[str, Any]]): None without pairs.
    """
    if not pairs:
        return None
    bins: List[List[Tuple[float, bool]]] = [[] for _ in range(N_BINS)]
    for confidence, right in pairs:
        bins[min(int(float(confidence) * N_BINS), N_BINS - 1)].append((float(confidence), right))
    rows = []
    for i, members in enumerate(bins):
        n = len(members)
        rows.append(
            {
                "lo": i / N_BINS,
                "hi": (i + 1) / N_BINS,
                "n": n,
                "accuracy": sum(r for _, r in members) / n if n else None,
                "confidence": sum(c for c, _ in members) / n if n else None,
                "right": sum(r for _, r in members),
                "wrong": sum(not r for _, r in members),
            }
        )
    ece = sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["n"]) / len(pairs)
    return {"n": len(pairs), "ece": ece, "bins": rows}
