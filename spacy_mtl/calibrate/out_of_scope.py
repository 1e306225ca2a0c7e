"""The out-of-scope score and its threshold, chosen on dev data.

Candidates (spacy_mtl.pipeline.intent_confidence.SCORES): the calibrated top
probability, the energy of the calibrated logits, and the Mahalanobis distance
of the pooled features to the training class means. With out-of-scope
documents in the dev data, the score with the best AUROC (in scope against out
of scope) is chosen and the threshold gives the best out-of-scope F1 (or the
highest out-of-scope recall at a target precision); without them the score is
DEFAULT_SCORE, the best one in benchmarks/bench_confidence.py, and the threshold
keeps the target share of in-scope documents.
"""

from typing import Any, Dict, Optional, Tuple

import numpy

from .metrics import auroc

# The score when the dev data cannot tell: the best AUROC on CLINC150 in
# benchmarks/bench_confidence.py (CNN, 1200 steps, seed 0: energy 0.922 / 0.919, top
# probability 0.914 / 0.911, Mahalanobis 0.735 / 0.792, on test / on val with oos_val).
DEFAULT_SCORE = "energy"
# Ridge added to the shared covariance, relative to its mean variance: keeps it invertible.
COVARIANCE_RIDGE = 1e-3
# Quantiles of the in-scope dev scores stored to map a score that is not a probability to [0, 1].
N_QUANTILES = 101


def class_statistics(features: numpy.ndarray, gold: numpy.ndarray) -> Dict[str, Any]:
    """Class means and the whitening of their shared covariance (for the Mahalanobis score).

    features (numpy.ndarray): Pooled features of documents with one gold class.
    gold (numpy.ndarray): Their class ids.
    RETURNS (Dict[str, Any]): {"means": projected means of the classes seen,
        "whiten": L with L L^T the inverse covariance}, JSON-ready lists.
    """
    features = numpy.asarray(features, dtype="f8")
    classes = numpy.unique(gold)
    means = numpy.stack([features[gold == c].mean(axis=0) for c in classes])
    centred = features - means[numpy.searchsorted(classes, gold)]
    cov = centred.T @ centred / max(1, len(features))
    cov += COVARIANCE_RIDGE * max(float(numpy.trace(cov)) / len(cov), 1e-12) * numpy.eye(len(cov))
    whiten = numpy.linalg.cholesky(numpy.linalg.inv(cov))
    return {"means": (means @ whiten).tolist(), "whiten": whiten.tolist()}


def choose_threshold(
    in_scope: numpy.ndarray,
    out_of_scope: numpy.ndarray,
    target_recall: float,
    target_precision: Optional[float],
) -> Tuple[float, str]:
    """The threshold under which a document is out of scope, and what it was chosen for.

    in_scope (numpy.ndarray): Scores of in-scope dev documents.
    out_of_scope (numpy.ndarray): Scores of out-of-scope dev documents (may be empty).
    target_recall (float): Without out-of-scope documents: the share of in-scope ones kept.
    target_precision (Optional[float]): With them: the out-of-scope precision to reach
        (highest recall); None for the best out-of-scope F1.
    RETURNS (Tuple[float, str]): The threshold and a sentence saying what it was chosen for.
    """
    if not len(out_of_scope):
        threshold = float(numpy.quantile(in_scope, 1.0 - target_recall, method="lower"))
        return threshold, f"in-scope recall {target_recall:.2f} on dev (no out-of-scope dev data)"
    candidates, precision, recall = _oos_curve(in_scope, out_of_scope)
    f1 = numpy.where(
        precision + recall > 0, 2 * precision * recall / (precision + recall + 1e-12), 0
    )
    if target_precision is None:
        best = int(f1.argmax())
        return float(candidates[best]), f"best out-of-scope F1 on dev ({f1[best]:.3f})"
    reach = numpy.flatnonzero(precision >= target_precision)
    if not len(reach):
        best = int(f1.argmax())
        return float(candidates[best]), (
            f"best out-of-scope F1 on dev ({f1[best]:.3f}): no threshold reaches out-of-scope "
            f"precision {target_precision:.2f}"
        )
    best = int(reach[recall[reach].argmax()])
    return float(candidates[best]), (
        f"out-of-scope precision >= {target_precision:.2f} on dev (recall {recall[best]:.3f})"
    )


def _oos_curve(in_scope: numpy.ndarray, out_of_scope: numpy.ndarray):
    """For each candidate threshold t (score < t is out of scope): OOS precision and recall."""
    scores = numpy.unique(numpy.concatenate([in_scope, out_of_scope]))
    # Midway between neighbouring scores, and one above the top: every split once.
    candidates = numpy.append((scores[:-1] + scores[1:]) / 2, scores[-1] + 1.0)
    oos_sorted, in_sorted = numpy.sort(out_of_scope), numpy.sort(in_scope)
    true_pos = numpy.searchsorted(oos_sorted, candidates, side="left")
    false_pos = numpy.searchsorted(in_sorted, candidates, side="left")
    flagged = true_pos + false_pos
    precision = numpy.where(flagged > 0, true_pos / numpy.maximum(flagged, 1), 0.0)
    recall = true_pos / len(out_of_scope)
    return candidates, precision, recall


def choose_score(
    in_scope: Dict[str, numpy.ndarray], out_of_scope: Dict[str, numpy.ndarray], requested: str
) -> Tuple[str, Dict[str, float]]:
    """The score to use: requested, or with "auto" the best dev AUROC (DEFAULT_SCORE without
    out-of-scope dev data). RETURNS the name and each candidate's dev AUROC (None: not known)."""
    aurocs = {kind: auroc(in_scope[kind], out_of_scope[kind]) for kind in in_scope}
    aurocs = {kind: None if numpy.isnan(value) else value for kind, value in aurocs.items()}
    if requested != "auto":
        return requested, aurocs
    known = {kind: value for kind, value in aurocs.items() if value is not None}
    if not known:
        return DEFAULT_SCORE, aurocs
    return max(known, key=known.__getitem__), aurocs


def score_quantiles(in_scope: numpy.ndarray) -> list:
    """The in-scope dev scores' quantiles, for mapping a score to [0, 1] by its rank."""
    return numpy.quantile(in_scope, numpy.linspace(0.0, 1.0, N_QUANTILES)).tolist()
