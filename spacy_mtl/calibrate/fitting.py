"""Fit an `mtl_textcat` head's calibration and out-of-scope threshold on dev documents.

The head's raw logits and pooled features are read once (its model alone: any stored
calibration plays no part), the logit scaling is fitted (scaling.py), every
out-of-scope score is measured (out_of_scope.py), and the result, an `IntentCalibration`,
is stored in the head's cfg["calibration"], which spacy_mtl/pipeline/intent_confidence.py
applies.
"""

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from ..annotation import describe_doc, has_cats
from ..ml.textcat import predict_head
from ..pipeline.intent_confidence import SCORES, IntentCalibration, activate, raw_score
from .metrics import exclusive_ece, multilabel_ece, reliability_bins
from .out_of_scope import (
    choose_score,
    choose_threshold,
    class_statistics,
    score_quantiles,
)
from .scaling import choose_scaling

# The fewest in-scope dev documents calibrated on: two-fold cross-validation chooses the
# scaling, and a fold of fewer than 5 documents chooses by noise (one document: NaN).
MIN_IN_SCOPE_DOCUMENTS = 10


class CalibrateError(ValueError):
    """Input the calibrate command cannot use; the message says which and why."""


@dataclass
class HeadData:
    """A head's outputs on gold documents and their gold categories."""

    features: numpy.ndarray
    logits: numpy.ndarray
    targets: numpy.ndarray
    mask: numpy.ndarray
    in_scope: numpy.ndarray  # rows with an in-scope gold category
    out_of_scope: numpy.ndarray  # rows of the out-of-scope label
    # gold labels the head was not trained for -> documents left out for them
    unseen: Dict[str, int] = field(default_factory=dict)


def head_outputs(nlp: Language, name: str, texts: List[str], batch_size: int = 256):
    """The pooled features and raw logits of the head's model on texts."""
    head = nlp.get_pipe(name)
    before = nlp.pipe_names[: nlp.pipe_names.index(name)]
    features, logits = [], []
    with nlp.select_pipes(enable=before):
        docs = list(nlp.pipe(texts, batch_size=batch_size))
    ops = head.model.ops
    for start in range(0, len(docs), batch_size):
        batch = docs[start : start + batch_size]
        head.require_encoder_output(batch)
        output = predict_head(head.model, batch, with_features=True)
        features.append(ops.to_numpy(output.features))
        logits.append(ops.to_numpy(output.logits))
    return numpy.concatenate(features), numpy.concatenate(logits)


def gold_rows(head, docs: List[Doc], oos_label: Optional[str], where: str):
    """Targets, mask, in-scope and out-of-scope rows of gold documents, checked, and the gold
    labels the head was not trained for with their counts.

    An exclusive head's document whose intent the head does not know (ATIS's valid split has
    one, `atis_airfare#atis_flight_time`) cannot say whether the head was right: it is left
    out and counted, as the heads' scorers leave it out. A multi-label head's unknown labels
    are left out cell by cell.
    """
    labels = list(head.labels)
    index = {label: i for i, label in enumerate(labels)}
    exclusive = bool(head.cfg["exclusive_classes"])
    targets = numpy.zeros((len(docs), len(labels)), dtype="f")
    mask = numpy.zeros_like(targets)
    in_scope = numpy.zeros(len(docs), dtype=bool)
    oos = numpy.zeros(len(docs), dtype=bool)
    unseen: Dict[str, int] = {}
    for i, doc in enumerate(docs):
        if not has_cats(doc):
            continue
        _check_categories(doc, i, where)
        if oos_label is not None and doc.cats.get(oos_label, 0.0) >= 0.5:
            oos[i] = True
            continue
        unknown = [label for label, value in doc.cats.items() if label not in index and value]
        for label in unknown:
            unseen[label] = unseen.get(label, 0) + 1
        if unknown and exclusive:
            continue
        positives = [
            index[label] for label, value in doc.cats.items() if value >= 0.5 and label in index
        ]
        if exclusive and len(positives) != 1:
            raise CalibrateError(
                f"{where}, document {i} ({describe_doc(doc)}): {len(positives)} positive "
                f"categories, but {head.name} is exclusive: exactly one must be 1.0."
            )
        for label, value in doc.cats.items():
            if label in index:
                targets[i, index[label]] = float(value >= 0.5)
                mask[i, index[label]] = 1.0
        if exclusive:
            mask[i, :] = 1.0
        in_scope[i] = mask[i].any()
    return targets, mask, in_scope, oos, unseen


def _check_categories(doc: Doc, i: int, where: str) -> None:
    """Refuse a category value that is no number from 0 to 1 (NaN would read as 0.0)."""
    bad = [label for label, value in doc.cats.items() if not 0.0 <= value <= 1.0]
    if bad:
        raise CalibrateError(
            f"{where}, document {i} ({describe_doc(doc)}): the category {bad[0]!r} is "
            f"{doc.cats[bad[0]]!r}; each must be a number from 0.0 to 1.0. Fix the corpus (or "
            "leave the category out where it is unknown)."
        )


def _listed(labels: List[str]) -> str:
    shown = ", ".join(labels[:12])
    return shown + (f", ... ({len(labels)} in all)" if len(labels) > 12 else "")


def read_head_data(
    nlp: Language, name: str, docs: List[Doc], oos_label: Optional[str], where: str
) -> HeadData:
    """The head's outputs on gold documents with their gold categories."""
    head = nlp.get_pipe(name)
    targets, mask, in_scope, oos, unseen = gold_rows(head, docs, oos_label, where)
    if not in_scope.any():
        known = (
            f" Its categories {_listed(sorted(unseen))} are not the labels {name} was trained "
            f"for ({_listed(list(head.labels))}); if they mark out-of-scope documents, name "
            "the label with --out-of-scope-label."
            if unseen
            else " Give a dev corpus with intents (python -m spacy_mtl convert ...)."
        )
        raise CalibrateError(
            f"{where}: none of its {len(docs)} documents has in-scope categories (doc.cats) "
            f"for {name}, so there is nothing to calibrate on.{known}"
        )
    if in_scope.sum() < MIN_IN_SCOPE_DOCUMENTS:
        raise CalibrateError(
            f"{where}: {int(in_scope.sum())} of its {len(docs)} documents have in-scope "
            f"categories for {name}; calibrating needs at least {MIN_IN_SCOPE_DOCUMENTS} (two-fold "
            "cross-validation chooses the scaling). Give a larger corpus."
        )
    rows = numpy.flatnonzero(in_scope | oos)
    features, logits = head_outputs(nlp, name, [docs[i].text for i in rows])
    return HeadData(features, logits, targets[rows], mask[rows], in_scope[rows], oos[rows], unseen)


def fit_intent_calibration(
    nlp: Language,
    name: str,
    dev_docs: List[Doc],
    *,
    train_docs: Optional[List[Doc]] = None,
    oos_label: Optional[str] = None,
    target_recall: float = 0.95,
    target_precision: Optional[float] = None,
    score: str = "auto",
    where: str = "the dev corpus",
) -> Dict[str, Any]:
    """Fit the head's calibration and threshold on dev documents and store it in the head.

    nlp (Language): The pipeline.
    name (str): The `mtl_textcat` component.
    dev_docs (List[Doc]): Gold documents, some with categories.
    train_docs (Optional[List[Doc]]): Training documents for the class means of the
        Mahalanobis score; None: the dev documents.
    oos_label (Optional[str]): The label that marks out-of-scope gold documents.
    target_recall (float): Without out-of-scope dev documents: the in-scope share kept.
    target_precision (Optional[float]): With them: an out-of-scope precision to reach.
    score (str): "auto" or one of spacy_mtl.pipeline.intent_confidence.SCORES.
    where (str): The dev corpus, for messages.
    RETURNS (Dict[str, Any]): The report: the calibration and what was measured.
    """
    head = nlp.get_pipe(name)
    exclusive = bool(head.cfg["exclusive_classes"])
    dev = read_head_data(nlp, name, dev_docs, oos_label, where)
    ins = dev.in_scope
    scaling, cv_nll = choose_scaling(dev.logits[ins], dev.targets[ins], dev.mask[ins], exclusive)
    z = scaling.calibrated_logits(dev.logits)
    before, after = activate(dev.logits, exclusive), activate(z, exclusive)
    stats = _mahalanobis_stats(nlp, name, train_docs, dev, oos_label)
    candidates = [kind for kind in SCORES if kind != "mahalanobis" or stats is not None]
    raw = {kind: raw_score(kind, z, dev.features, exclusive, stats) for kind in candidates}
    kind, aurocs = choose_score(
        {k: v[ins] for k, v in raw.items()}, {k: v[dev.out_of_scope] for k, v in raw.items()}, score
    )
    if kind not in raw:
        raise CalibrateError(f"The score {kind!r} cannot be computed for this pipeline.")
    threshold, chosen_for = choose_threshold(
        raw[kind][ins], raw[kind][dev.out_of_scope], target_recall, target_precision
    )
    head.set_calibration(
        replace(
            scaling,
            score=kind,
            threshold=threshold,
            chosen_for=chosen_for,
            score_quantiles=None if kind == "max_prob" else score_quantiles(raw[kind][ins]),
            mahalanobis=stats if kind == "mahalanobis" else None,
        )
    )
    report = _measures(dev, before, after, raw[kind], threshold, exclusive)
    report.update(calibration=_summary(head.calibration), cv_nll=cv_nll, aurocs=aurocs)
    return report


def _mahalanobis_stats(nlp, name, train_docs, dev: HeadData, oos_label) -> Optional[Dict]:
    """Class statistics from the training documents (or the dev ones); None if too few."""
    data = dev
    if train_docs is not None:
        data = read_head_data(nlp, name, train_docs, oos_label, "the training corpus")
    rows = data.in_scope & (data.targets.sum(axis=1) > 0)
    if rows.sum() <= data.features.shape[1] // 4 or len(set(data.targets[rows].argmax(1))) < 2:
        return None
    try:
        return class_statistics(data.features[rows], data.targets[rows].argmax(axis=1))
    except numpy.linalg.LinAlgError:
        return None


def _measures(dev, before, after, scores, threshold, exclusive) -> Dict[str, Any]:
    ins, oos = dev.in_scope, dev.out_of_scope
    if exclusive:
        gold = dev.targets[ins].argmax(axis=1)
        ece_before, ece_after = exclusive_ece(before[ins], gold), exclusive_ece(after[ins], gold)
        correct = after[ins].argmax(axis=1) == gold
        bins = {
            "before": reliability_bins(before[ins].max(axis=1), correct),
            "after": reliability_bins(after[ins].max(axis=1), correct),
        }
    else:
        t, m = dev.targets[ins], dev.mask[ins]
        ece_before, ece_after = multilabel_ece(before[ins], t, m), multilabel_ece(after[ins], t, m)
        cells = m > 0
        bins = {
            "before": reliability_bins(before[ins][cells], t[cells]),
            "after": reliability_bins(after[ins][cells], t[cells]),
        }
    rejected = scores < threshold
    measures = {
        "n_in_scope": int(ins.sum()),
        "n_out_of_scope": int(oos.sum()),
        "unseen_labels": dict(dev.unseen),
        "ece_before": ece_before,
        "ece_after": ece_after,
        "in_scope_recall": float((~rejected[ins]).mean()),
        "reliability": bins,
    }
    if oos.any():
        flagged = int(rejected.sum())
        measures["oos_recall"] = float(rejected[oos].mean())
        measures["oos_precision"] = float(rejected[oos].sum() / flagged) if flagged else 0.0
    return measures


def _summary(calibration: IntentCalibration) -> Dict[str, Any]:
    """The calibration without its bulky arrays, for the report."""
    summary = calibration.to_dict()
    del summary["mahalanobis"], summary["score_quantiles"]
    if calibration.method not in ("temperature", "none"):
        summary["scale"] = f"{len(calibration.scale)} values"
        summary["bias"] = f"{len(calibration.bias or [])} values"
    return summary
