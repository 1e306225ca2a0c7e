"""Scorers that judge each task only on documents annotated for it.

A multi-task dev set mixes documents labelled for categories, for entities or
for both. A prediction on a document without gold categories is neither right
nor wrong, so these scorers drop such documents instead of counting them as
errors (as stock spaCy's exclusive textcat scorer does).
"""

import warnings
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Optional

from spacy.scorer import Scorer, get_ner_prf
from spacy.training import Example
from spacy.util import registry

from .annotation import has_cats, has_ents

# The per-task scores the evaluation table, chart and model card report, as (key in the
# scores, row name), in the order shown (scripts/evaluate.py, scripts/model_card.py).
REPORT_METRICS = [
    ("cats_acc", "intent accuracy"),
    ("cats_macro_f", "intent macro F"),
    ("ents_p", "slot precision"),
    ("ents_r", "slot recall"),
    ("ents_f", "slot F"),
    ("joint_sentence_acc", "sentence accuracy"),
]


def score_cats(
    examples: Iterable[Example],
    *,
    labels: Iterable[str] = (),
    multi_label: bool = False,
    threshold: float = 0.5,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Category scores over the documents that have gold categories.

    Adds `cats_acc` (exclusive: the top label is the gold one; multi-label: the
    thresholded label set equals the gold set), `cats_n_docs`, and
    `joint_sentence_acc` (see `sentence_accuracy`; the pipeline has run all its
    components before scoring, so predicted entities are there) to spaCy's
    `cats_*` scores (micro/macro P/R/F, per-label P/R/F, AUC).
    """
    examples = list(examples)
    annotated = [eg for eg in examples if has_cats(eg.reference)]
    labels = list(labels)
    scores = Scorer.score_cats(
        annotated, "cats", labels=labels, multi_label=multi_label, threshold=threshold, **kwargs
    )
    scores["cats_acc"] = _cats_accuracy(annotated, multi_label, threshold) if annotated else None
    scores["cats_n_docs"] = len(annotated)
    scores["joint_sentence_acc"] = sentence_accuracy(examples)
    return scores


def _cats_accuracy(examples: List[Example], multi_label: bool, threshold: float) -> float:
    correct = 0
    for eg in examples:
        gold, pred = eg.reference.cats, eg.predicted.cats
        if multi_label:
            gold_set = {label for label, value in gold.items() if value >= 0.5}
            pred_set = {label for label in gold if pred.get(label, 0.0) >= threshold}
            correct += gold_set == pred_set
        else:
            correct += bool(pred) and max(pred, key=pred.get) == max(gold, key=gold.get)
    return correct / len(examples)


def score_ents(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """Entity P/R/F, overall and per type, over the documents with entity annotation."""
    annotated = [eg for eg in examples if has_ents(eg.reference)]
    scores = get_ner_prf(annotated)
    scores["ents_n_docs"] = len(annotated)
    return scores


def sentence_accuracy(examples: Iterable[Example]) -> Optional[float]:
    """Share of documents annotated for both tasks whose top category is right and
    whose entities are exactly right (the "overall" accuracy of joint intent
    detection and slot filling). None when no document carries both."""
    both = [eg for eg in examples if has_cats(eg.reference) and has_ents(eg.reference)]
    if not both:
        return None
    correct = 0
    for eg in both:
        gold, pred = eg.reference.cats, eg.predicted.cats
        cat_ok = bool(pred) and max(pred, key=pred.get) == max(gold, key=gold.get)
        gold_ents = {(e.start_char, e.end_char, e.label_) for e in eg.reference.ents}
        pred_ents = {(e.start_char, e.end_char, e.label_) for e in eg.predicted.ents}
        correct += cat_ok and gold_ents == pred_ents
    return correct / len(both)


def warn_unseen_labels(
    component: str, known: Iterable[str], examples: Iterable[Example], gold_labels: Callable
) -> None:
    """Warn when evaluation data has gold labels the component was not trained on.

    Such labels cannot be predicted, so every document carrying one counts as an
    error; a label missing from the training corpus is usually a data problem.
    gold_labels (Callable[[Doc], Iterable[str]]): The gold labels of a reference doc.
    """
    known = set(known)
    docs_per_label: Counter = Counter()
    for eg in examples:
        docs_per_label.update(set(gold_labels(eg.reference)) - known)
    if docs_per_label:
        listed = ", ".join(f"{label!r} ({n} docs)" for label, n in docs_per_label.most_common())
        warnings.warn(
            f"{component}: the evaluation data has labels never seen in training: {listed}. "
            "They cannot be predicted and count as errors.",
            UserWarning,
            stacklevel=3,
        )


@registry.scorers("spacy_mtl.textcat_scorer.v1")
def make_textcat_scorer():
    """Score `mtl_textcat` on the documents with gold categories only."""
    return score_cats


@registry.scorers("spacy_mtl.ner_scorer.v1")
def make_ner_scorer():
    """Score `mtl_ner` on the documents with entity annotation only."""
    return score_ents
