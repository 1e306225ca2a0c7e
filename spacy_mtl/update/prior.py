"""Undoing the update's sampling in the classifier's prior (post-hoc logit adjustment).

An update trains on the new documents and a replayed share of the old ones, so
the intents it sees come in other proportions than in the data the pipeline
will meet: with a replay share of 0.5, ATIS's 19 rare intents fill half of
every batch instead of a sixth of the corpus, and an exclusive classifier
learns to say them too often (old-intent accuracy fell 2 to 6 points on ATIS
valid). A softmax trained under one label prior and used under another is
corrected by adding log(prior_wanted(y) / prior_trained(y)) to each logit
(Menon et al. 2021, "Long-tail learning via logit adjustment"); on a linear
output layer that is a change of its bias, stored with the pipeline.

The wanted prior is that of the old training data (the replay corpus, taken
whole) and the new documents together; the trained one is that of the
documents the update trained on. Without a replay corpus the old data's size
is unknown and nothing is changed; multi-label heads (one sigmoid per label,
no shared prior) are left alone too.
"""

from collections import Counter
from typing import Dict, List

import numpy
from spacy.tokens import Doc

from ..annotation import has_cats


def label_counts(docs: List[Doc], labels: List[str]) -> Counter:
    """How many documents have each label as their gold intent (exclusive cats)."""
    counts: Counter = Counter()
    for doc in docs:
        if has_cats(doc):
            top = max(doc.cats, key=doc.cats.get)
            if top in labels and doc.cats[top] > 0:
                counts[top] += 1
    return counts


def prior_shift(labels: List[str], trained_on: List[Doc], meant_for: List[Doc]) -> Dict[str, float]:
    """log(prior_wanted / prior_trained) per label seen in both; other labels are not moved.

    labels (List[str]): The head's labels.
    trained_on (List[Doc]): The update's training documents (new and replayed).
    meant_for (List[Doc]): The old training corpus and the new documents, together.
    RETURNS (Dict[str, float]): The shift of each label's logit.
    """
    trained, wanted = label_counts(trained_on, labels), label_counts(meant_for, labels)
    n_trained, n_wanted = sum(trained.values()), sum(wanted.values())
    shift = {}
    for label in labels:
        if trained[label] and wanted[label]:
            shift[label] = float(
                numpy.log((wanted[label] / n_wanted) / (trained[label] / n_trained))
            )
    if shift:  # a softmax ignores a common offset: centre it, for a readable bias
        mean = float(numpy.mean(list(shift.values())))
        shift = {label: value - mean for label, value in shift.items()}
    return shift


def adjust_prior(head, shift: Dict[str, float]) -> None:
    """Add each label's shift to its bias in the classifier's output layer."""
    layer = head.model.get_ref("output_layer")
    bias = layer.get_param("b").copy()
    for i, label in enumerate(head.labels):
        bias[i] += shift.get(label, 0.0)
    layer.set_param("b", bias)
