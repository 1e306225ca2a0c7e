"""Measures of confidence: expected calibration error, reliability bins, AUROC, NLL.

Plain numpy, shared by the calibrate command and benchmarks/bench_confidence.py.
"""

from typing import Dict, List

import numpy

# Equal-width confidence bins of the ECE and the reliability diagram (Guo et al. 2017 use 15).
N_BINS = 15


def reliability_bins(
    confidence: numpy.ndarray, correct: numpy.ndarray, n_bins: int = N_BINS
) -> List[Dict[str, float]]:
    """Per equal-width bin of confidence: its bounds, count, mean confidence and accuracy."""
    confidence = numpy.asarray(confidence, dtype="f8")
    correct = numpy.asarray(correct, dtype="f8")
    edges = numpy.linspace(0.0, 1.0, n_bins + 1)
    which = numpy.clip(numpy.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        members = which == b
        count = int(members.sum())
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "confidence": float(confidence[members].mean()) if count else None,
                "accuracy": float(correct[members].mean()) if count else None,
            }
        )
    return bins


def ece(confidence: numpy.ndarray, correct: numpy.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error: the count-weighted gap between confidence and accuracy.

    confidence (numpy.ndarray): One probability per prediction.
    correct (numpy.ndarray): Whether (1) or not (0) each prediction is right.
    RETURNS (float): The ECE, in [0, 1]; 0.0 for no predictions.
    """
    total = len(confidence)
    if not total:
        return 0.0
    return float(
        sum(
            b["count"] / total * abs(b["confidence"] - b["accuracy"])
            for b in reliability_bins(confidence, correct, n_bins)
            if b["count"]
        )
    )


def auroc(positive: numpy.ndarray, negative: numpy.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half).

    positive (numpy.ndarray): Scores of the positives (in-scope documents, say).
    negative (numpy.ndarray): Scores of the negatives (out-of-scope documents).
    RETURNS (float): The area under the ROC curve; NaN when a side is empty.
    """
    positive = numpy.asarray(positive, dtype="f8")
    negative = numpy.asarray(negative, dtype="f8")
    if not len(positive) or not len(negative):
        return float("nan")
    scores = numpy.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = numpy.empty(len(scores), dtype="f8")
    ranks[order] = numpy.arange(1, len(scores) + 1)
    # Tied scores share their mean rank.
    _, inverse, counts = numpy.unique(scores, return_inverse=True, return_counts=True)
    sums = numpy.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def exclusive_ece(probs: numpy.ndarray, gold: numpy.ndarray) -> float:
    """Top-label ECE of softmax probabilities against gold label ids."""
    probs = numpy.asarray(probs)
    if not len(probs):
        return 0.0
    return ece(probs.max(axis=1), probs.argmax(axis=1) == gold)


def multilabel_ece(probs: numpy.ndarray, targets: numpy.ndarray, mask: numpy.ndarray) -> float:
    """ECE over every annotated (document, label) cell of sigmoid probabilities."""
    cells = numpy.asarray(mask) > 0
    return ece(numpy.asarray(probs)[cells], numpy.asarray(targets)[cells] >= 0.5)
