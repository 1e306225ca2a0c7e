"""The old pipeline's predictions as soft targets for the grown one: what it still knows.

The old pipeline (the teacher) knows only the old labels. Its distribution is
P(label | the label is an old one): on a document whose gold label is old it is
a fair target, but on a document of a new intent it is mass spread over labels
the document does not have, and to distill it there would teach the new intent
away. So each target is conditioned on the gold annotation, in the grown
pipeline's label space:

- categories: a document whose gold intent is old gets the teacher's
  probabilities, 0 for every new label (the gold says it is none of them); a
  document of a new intent gets no teacher target and learns from its gold
  label alone; a document without gold categories teaches the classifier nothing.
- tags: per token, the teacher's marginals over the old tags, 0 for the new
  ones; a token whose gold tag is of a new type gets that tag (one-hot), since
  the teacher can only have called it "O" or an old type.

The targets are stored as `distill-targets` stores them
(spacy_mtl/pipeline/teacher_targets.py), so the heads' own distillation reads them.
"""

from typing import Dict, Iterable, List, Optional

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from ..annotation import has_cats, has_ents
from ..distill import annotate_teacher_targets
from ..ml.crf import bio_tag_names
from ..pipeline.teacher_targets import (
    TEACHER_CATS_KEY,
    TEACHER_TAGS_KEY,
    set_teacher_targets,
    teacher_cats,
    teacher_tags,
)


def add_update_targets(
    teacher: Language,
    docs: List[Doc],
    cats_labels: Optional[List[str]],
    ent_labels: Optional[List[str]],
    batch_size: int = 64,
) -> List[Doc]:
    """Store the teacher's predictions on the documents, in the grown label space.

    teacher (Language): The old pipeline, before its heads grow.
    docs (List[Doc]): Gold documents (new and replayed); changed in place.
    cats_labels (Optional[List[str]]): The classifier's grown labels, old ones
        first; None when the classifier is not distilled.
    ent_labels (Optional[List[str]]): The recogniser's grown entity types, old
        ones first; None when the recogniser is not distilled.
    batch_size (int): Documents per batch through the teacher.
    RETURNS (List[Doc]): The documents.
    """
    for doc in annotate_teacher_targets(teacher, docs, batch_size=batch_size):
        cats, tags = teacher_cats(doc), teacher_tags(doc)
        doc.user_data.pop(TEACHER_CATS_KEY, None)
        doc.user_data.pop(TEACHER_TAGS_KEY, None)
        grown_cats = conditioned_cats(doc, cats, cats_labels) if cats_labels else None
        grown_tags = None
        if ent_labels and tags is not None:
            names = bio_tag_names(ent_labels)
            grown_tags = (names, conditioned_tags(doc, tags[0], tags[1], names))
        set_teacher_targets(doc, cats=grown_cats, tags=grown_tags)
    return docs


def conditioned_cats(
    doc: Doc, teacher: Optional[Dict[str, float]], labels: List[str]
) -> Optional[Dict[str, float]]:
    """The teacher's category target for a document, or None where it would mislead.

    None for a document without gold categories or whose gold intent is not
    one the teacher knows; else the teacher's probabilities, 0 for new labels.
    """
    if teacher is None or not has_cats(doc):
        return None
    positives = [label for label, value in doc.cats.items() if value >= 0.5]
    if not positives or any(label not in teacher for label in positives):
        return None
    return {label: float(teacher.get(label, 0.0)) for label in labels}


def conditioned_tags(
    doc: Doc, teacher_names: List[str], probs: numpy.ndarray, names: List[str]
) -> numpy.ndarray:
    """(tokens, grown tags) targets: the teacher's marginals, gold for new-type tokens."""
    index = {name: i for i, name in enumerate(names)}
    known = set(teacher_names)
    out = numpy.zeros((len(doc), len(names)), dtype="float32")
    columns = [index[name] for name in teacher_names]
    out[:, columns] = probs
    if not has_ents(doc):
        return out
    for i, token in enumerate(doc):
        if token.ent_iob_ in ("B", "I"):
            tag = f"{token.ent_iob_}-{token.ent_type_}"
            if tag not in known and tag in index:
                out[i] = 0.0
                out[i, index[tag]] = 1.0
    return out


def count_targets(docs: Iterable[Doc]) -> Dict[str, int]:
    """How many documents carry category and tag targets (for the summary)."""
    counts = {"cats": 0, "tags": 0}
    for doc in docs:
        counts["cats"] += teacher_cats(doc) is not None
        counts["tags"] += teacher_tags(doc) is not None
    return counts
