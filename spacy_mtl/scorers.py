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
# scores, row name), in the order shown (python -m spacy_mtl evaluate, scripts/model_card.py).
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
    scores["joint_sentence_acc"] = sentence_accuracy(
        examples, multi_label=multi_label, threshold=threshold
    )
    return scores


def _cats_accuracy(examples: List[Example], multi_label: bool, threshold: float) -> float:
    return sum(cats_right(eg, multi_label, threshold) for eg in examples) / len(examples)


def cats_right(example: Example, multi_label: bool = False, threshold: float = 0.5) -> bool:
    """Whether a document with gold categories has them right, as `cats_acc` counts it.

    example (Example): A document whose reference has categories.
    multi_label (bool): Exclusive: the top predicted label is the top gold label.
        Multi-label: the labels predicted at `threshold` are the gold positives,
        over the labels the gold cats name (a label absent from them is masked).
    threshold (float): The probability at which a multi-label prediction is positive.
    RETURNS (bool): Whether the categories are right.
    """
    gold, pred = example.reference.cats, example.predicted.cats
    if multi_label:
        gold_set = {label for label, value in gold.items() if value >= 0.5}
        pred_set = {label for label in gold if pred.get(label, 0.0) >= threshold}
        return gold_set == pred_set
    return bool(pred) and max(pred, key=pred.get) == max(gold, key=gold.get)


def ents_right(example: Example) -> bool:
    """Whether a document with entity annotation has no entity error, as `ents_*` count them.

    spaCy's `get_ner_prf` on the document alone, so exactly its rule holds: a
    predicted entity on a token whose gold annotation is missing (ent_iob 0) is
    neither right nor wrong, and the entities match by gold token offsets.

    RETURNS (bool): No false positive and no false negative.
    """
    scores = get_ner_prf([example])
    # With no counted entity at all it returns None; otherwise P = R = 1 exactly (tp / tp)
    # when nothing is wrong.
    return scores["ents_p"] is None or scores["ents_p"] == scores["ents_r"] == 1.0


def score_ents(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
    """Entity P/R/F, overall and per type, over the documents with entity annotation."""
    annotated = [eg for eg in examples if has_ents(eg.reference)]
    scores = get_ner_prf(annotated)
    scores["ents_n_docs"] = len(annotated)
    return scores


def sentence_accuracy(
    examples: Iterable[Example], *, multi_label: bool = False, threshold: float = 0.5
) -> Optional[float]:
    """Share of documents annotated for both tasks whose categories and entities are
    both right (the "overall" accuracy of joint intent detection and slot filling).

    Each task is judged by the rule of its own score, so the two never disagree
    about a document: categories as `cats_acc` (`cats_right`), entities as the
    entity scorer (`ents_right`: predictions on unannotated tokens are ignored).

    examples (Iterable[Example]): The evaluation examples, predicted by the pipeline.
    multi_label (bool): Whether the categories are multi-label.
    threshold (float): The multi-label decision threshold of the classifier.
    RETURNS (Optional[float]): The share; None when no document carries both tasks.
    """
    both = [eg for eg in examples if has_cats(eg.reference) and has_ents(eg.reference)]
    if not both:
        return None
    correct = sum(cats_right(eg, multi_label, threshold) and ents_right(eg) for eg in both)
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
