"""`mtl_textcat`'s training targets: gold categories as arrays, and the label weights.

A document without categories teaches nothing (an all-zero mask row). A document
of the head's out-of-scope label is not a class: an exclusive head learns it
towards the uniform distribution (outlier exposure), a multi-label head as
every label negative.
"""

from typing import Callable, Dict, List, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc
from spacy.training import Example

from ..annotation import describe_doc


def cats_targets(
    examples: List[Example],
    labels: Sequence[str],
    name: str,
    exclusive: bool,
    is_out_of_scope: Callable[[Doc], bool],
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Gold targets and a mask of which (document, label) cells are annotated.

    examples (List[Example]): The batch.
    labels (Sequence[str]): The head's labels, in order.
    name (str): The head's name, for messages.
    exclusive (bool): Exclusive classes (one positive a document) or multi-label.
    is_out_of_scope (Callable[[Doc], bool]): Whether a gold document is out of scope.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): Targets and mask, one row a document.
    """
    n_labels = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    targets = numpy.zeros((len(examples), n_labels), dtype="f")
    mask = numpy.zeros((len(examples), n_labels), dtype="f")
    for i, eg in enumerate(examples):
        doc = eg.reference
        if not doc.cats:
            continue
        if is_out_of_scope(doc):
            targets[i, :] = 1.0 / n_labels if exclusive else 0.0
            mask[i, :] = 1.0
            continue
        where = f"Document {i} of the batch ({describe_doc(doc)})"
        _check_known(where, doc, index, name)
        if exclusive:
            targets[i, index[_one_positive(where, doc, name)]] = 1.0
            mask[i, :] = 1.0
        else:
            for label, value in doc.cats.items():
                if label in index:
                    targets[i, index[label]] = float(value)
                    mask[i, index[label]] = 1.0
    return targets, mask


def _check_known(where: str, doc: Doc, index: Dict[str, int], name: str) -> None:
    unknown = [label for label in doc.cats if label not in index]
    if unknown:
        raise ValueError(
            f"{where} has categories {unknown} that {name} was not initialized with (labels: "
            f"{list(index)}). Add them to the training data or to "
            f"[initialize.components.{name}.labels]."
        )


def _one_positive(where: str, doc: Doc, name: str) -> str:
    positives = [label for label, value in doc.cats.items() if value >= 0.5]
    if len(positives) != 1:
        raise ValueError(
            f"{where} has {len(positives)} positive categories {positives}, but {name} "
            "has exclusive_classes = true: exactly one label must be 1.0. Set "
            "exclusive_classes = false for multi-label data."
        )
    return positives[0]


def label_weights(
    name: str,
    labels: Sequence[str],
    setting: Union[None, str, Dict[str, float]],
    counts: Dict[str, float],
    n_annotated: int,
) -> List[float]:
    """The loss weight of each label: 1, "balanced" (inverse frequency) or given by name."""
    if setting is None:
        return [1.0] * len(labels)
    if setting == "balanced":
        n = len(labels)
        return [n_annotated / (n * counts[label]) if counts.get(label) else 1.0 for label in labels]
    unknown = [label for label in setting if label not in labels]
    if unknown:
        raise ValueError(
            f"[components.{name}.class_weights] names labels {unknown} that are not "
            f"among the labels {list(labels)}."
        )
    return [float(setting.get(label, 1.0)) for label in labels]
