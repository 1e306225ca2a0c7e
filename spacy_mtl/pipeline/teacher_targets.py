"""Teacher targets: a large model's soft outputs, kept on the training corpus for distillation.

A teacher pipeline annotates a training corpus once (`python -m spacy_mtl
distill-targets`, spacy_mtl/distill.py); each document then carries, beside
its gold annotation, the teacher's category probabilities and the per-token
marginals of its CRF over the BIO tags. A student's heads with `distill_weight`
set learn from both (Hinton et al. 2015): the gold targets, and the teacher's
distribution softened by `distill_temperature`, which carries what the gold
labels do not, such as which intents a sentence could almost be.

This module is the format the heads read during training. The targets live in
``doc.user_data`` under the keys below, so DocBin keeps them
(``store_user_data=True``) and any spaCy corpus reader passes them on. They
teach a task only on documents annotated for that task.
"""

from typing import Dict, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.training import Example

from ..annotation import describe_doc

# doc.user_data keys of the teacher's outputs.
TEACHER_CATS_KEY = "spacy_mtl.teacher_cats"
TEACHER_TAGS_KEY = "spacy_mtl.teacher_tags"
# Probabilities are clipped here before their log is taken.
MIN_PROB = 1e-30


def teacher_cats(doc: Doc) -> Optional[Dict[str, float]]:
    """The teacher's category probabilities of a document, if it has them."""
    return doc.user_data.get(TEACHER_CATS_KEY) if doc.user_data else None


def teacher_tags(doc: Doc) -> Optional[Tuple[List[str], numpy.ndarray]]:
    """The teacher's tag names and (tokens, tags) marginals of a document, if it has them."""
    stored = doc.user_data.get(TEACHER_TAGS_KEY) if doc.user_data else None
    if stored is None:
        return None
    return list(stored["tags"]), numpy.asarray(stored["probs"], dtype="float32")


def set_teacher_targets(
    doc: Doc,
    cats: Optional[Dict[str, float]] = None,
    tags: Optional[Tuple[List[str], numpy.ndarray]] = None,
) -> None:
    """Store a teacher's outputs on a (gold) document."""
    if cats is not None:
        doc.user_data[TEACHER_CATS_KEY] = {label: float(p) for label, p in cats.items()}
    if tags is not None:
        names, probs = tags
        if probs.shape != (len(doc), len(names)):
            raise ValueError(
                f"Teacher tag marginals of shape {probs.shape} do not fit a document of "
                f"{len(doc)} tokens and {len(names)} tags."
            )
        # float16 halves the corpus; its 1e-7 floor is far below what a temperature reveals.
        doc.user_data[TEACHER_TAGS_KEY] = {
            "tags": list(names),
            "probs": numpy.ascontiguousarray(probs, dtype="float16"),
        }


def soften(probs: numpy.ndarray, temperature: float) -> numpy.ndarray:
    """Rows of probabilities raised to 1 / temperature and renormalised: softmax(log p / T)."""
    logits = numpy.log(numpy.clip(probs, MIN_PROB, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    exp = numpy.exp(logits)
    return (exp / exp.sum(axis=-1, keepdims=True)).astype("float32")


def columns_for(student: List[str], teacher: List[str], what: str, where: str) -> numpy.ndarray:
    """The teacher's column of each student label; raise if the teacher lacks one.

    The teacher may list its labels in another order, but a student label it
    never scored has no target, and a teacher label the student lacks would
    leave probability mass with nowhere to go.
    """
    index = {name: i for i, name in enumerate(teacher)}
    known = set(student)
    missing = [name for name in student if name not in index]
    extra = [name for name in teacher if name not in known]
    if missing or extra:
        raise ValueError(
            f"The teacher {what} of {where} do not match the student's: "
            + "; ".join(
                part
                for part in (
                    f"the teacher lacks {missing}" if missing else "",
                    f"the student lacks {extra}" if extra else "",
                )
                if part
            )
            + ". Annotate the corpus with a teacher trained on the same labels "
            "(python -m spacy_mtl distill-targets)."
        )
    return numpy.asarray([index[name] for name in student], dtype="int64")


def check_distill_settings(name: str, weight: float, temperature: float) -> None:
    """Raise for a distillation weight outside [0, 1] or a temperature that is not positive."""
    if not (0.0 <= weight <= 1.0):
        raise ValueError(f"[components.{name}] distill_weight must lie in [0, 1], got {weight}.")
    if not temperature > 0.0:
        raise ValueError(
            f"[components.{name}] distill_temperature must be positive, got {temperature}."
        )


def no_targets_error(name: str, what: str, key: str) -> ValueError:
    """The error for a head set to distill whose training corpus carries no teacher targets."""
    return ValueError(
        f"{name} has distill_weight > 0, but none of its annotated training documents "
        f"carries the teacher's {what} (doc.user_data[{key!r}]). Write them with "
        "`python -m spacy_mtl distill-targets TEACHER INPUT OUTPUT` and train on OUTPUT, "
        "or set distill_weight = 0."
    )


def teacher_cats_targets(
    examples: List[Example], labels: List[str], mask: numpy.ndarray, temperature: float
) -> numpy.ndarray:
    """The softened teacher probabilities of each annotated document that carries them, in
    the student's label order; rows of zeros elsewhere (`mask`: the annotated cells)."""
    teacher = numpy.zeros(mask.shape, dtype="f")
    for i, eg in enumerate(examples):
        cats = teacher_cats(eg.reference)
        if cats is None or not mask[i].any():
            continue
        where = f"document {i} of the batch ({describe_doc(eg.reference)})"
        columns = columns_for(labels, list(cats), "categories", where)
        probs = numpy.asarray(list(cats.values()), dtype="f")[columns]
        if not (numpy.isfinite(probs).all() and (probs >= 0).all() and probs.sum() > 0):
            raise ValueError(
                f"The teacher categories of {where} are not probabilities: {cats}. "
                "Write them again with python -m spacy_mtl distill-targets."
            )
        teacher[i] = soften(probs / probs.sum(), temperature)
    return teacher


def distill_cats(
    logits: numpy.ndarray,
    teacher: numpy.ndarray,
    row_weight: numpy.ndarray,
    gold: Tuple[numpy.ndarray, numpy.ndarray],
    weight: float,
    temperature: float,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Mix an exclusive classifier's gold loss with the teacher's, on the rows that have
    teacher targets.

    The teacher's part is T^2 times the KL divergence from the softened teacher
    distribution q_T to the model's at temperature T, p_T; its gradient is
    T * (p_T - q_T) (Hinton et al. 2015).

    gold: the gold part's gradient of the logits and loss of each row.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): The gradient of the logits and the
        loss of each row.
    """
    d_gold, loss_gold = gold
    scaled = logits / temperature
    log_p = scaled - scaled.max(axis=1, keepdims=True)
    log_p = log_p - numpy.log(numpy.exp(log_p).sum(axis=1, keepdims=True))
    d_teacher = temperature * (numpy.exp(log_p) - teacher) * row_weight
    log_q = numpy.log(numpy.where(teacher > 0, teacher, 1.0))
    kl = temperature**2 * (teacher * (log_q - log_p)).sum(axis=1) * row_weight[:, 0]
    rows = teacher.any(axis=1)
    d = numpy.where(rows[:, None], (1.0 - weight) * d_gold + weight * d_teacher, d_gold)
    loss = numpy.where(rows, (1.0 - weight) * loss_gold + weight * kl, loss_gold)
    return d.astype("f"), loss
