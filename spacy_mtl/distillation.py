"""Teacher targets for knowledge distillation: a large model's soft outputs, kept on the corpus.

A teacher pipeline (the MiniLM transformer config, say) annotates a training
corpus once; each document then carries, beside its gold annotation, the
teacher's category probabilities and the per-token marginals of its CRF over
the BIO tags. A student pipeline (the CPU BiLSTM or CNN) with `distill_weight`
set on its heads learns from both (Hinton et al. 2015): the gold targets, and
the teacher's distribution softened by `distill_temperature`, which carries
what the gold labels do not, such as which intents a sentence could almost be.

The targets live in ``doc.user_data`` under the keys below, so DocBin keeps
them (``store_user_data=True``) and any spaCy corpus reader passes them on.
They teach a task only on documents annotated for that task: a document that
lacks a task's gold annotation still teaches that task nothing.
"""

from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from .atomic import check_output, write_bytes_atomic

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


def annotate_teacher_targets(
    teacher: Language, docs: Iterable[Doc], *, batch_size: int = 64
) -> Iterator[Doc]:
    """Yield the documents with the teacher's outputs stored on them.

    The teacher reads each document's own tokens (not its text), so its tag
    marginals line up with the gold tokens. The teacher's `mtl_textcat` and
    `mtl_ner` (one of each at most) contribute; the gold annotation is left as it is.

    teacher (Language): A trained pipeline with `mtl_textcat` and/or `mtl_ner`.
    docs (Iterable[Doc]): Gold documents, e.g. from a training .spacy file.
    batch_size (int): Documents per batch through the teacher.
    """
    from .pipeline.ner import MultiTaskEntityRecognizer
    from .pipeline.textcat import MultiTaskTextCategorizer

    heads = [
        (name, pipe)
        for name, pipe in teacher.pipeline
        if isinstance(pipe, (MultiTaskTextCategorizer, MultiTaskEntityRecognizer))
    ]
    if not heads:
        raise ValueError(
            "The teacher pipeline has no mtl_textcat or mtl_ner component "
            f"(it has {teacher.pipe_names}): nothing to distill."
        )
    categorizers = [p for _, p in heads if isinstance(p, MultiTaskTextCategorizer)]
    recognizers = [p for _, p in heads if isinstance(p, MultiTaskEntityRecognizer)]
    if len(categorizers) > 1 or len(recognizers) > 1:
        raise ValueError(
            f"The teacher has {len(categorizers)} mtl_textcat and {len(recognizers)} mtl_ner "
            "components; distill-targets stores one of each."
        )
    batch: List[Doc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == batch_size:
            yield from _annotate_batch(teacher, batch, categorizers, recognizers)
            batch = []
    if batch:
        yield from _annotate_batch(teacher, batch, categorizers, recognizers)


def _annotate_batch(teacher: Language, gold: List[Doc], categorizers, recognizers) -> List[Doc]:
    # The teacher's own copies: the same words and spaces, no gold annotation.
    copies = [
        Doc(teacher.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
        for doc in gold
    ]
    copies = list(teacher.pipe(copies, batch_size=len(copies)))
    tags = recognizers[0].marginals(copies) if recognizers else None
    for i, (doc, copy) in enumerate(zip(gold, copies)):
        set_teacher_targets(
            doc,
            cats=dict(copy.cats) if categorizers else None,
            tags=(recognizers[0].tag_names, tags[i]) if tags is not None else None,
        )
    return gold


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


def distill_corpus(
    teacher_path: Union[str, Path],
    input_path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    batch_size: int = 64,
) -> int:
    """Write a copy of a .spacy corpus whose documents carry a teacher's outputs.

    The output is written whole or not at all (spacy_mtl.atomic), with the
    documents' user data, where the targets live.

    teacher_path (Union[str, Path]): A trained pipeline (a folder or package name).
    input_path (Union[str, Path]): The training corpus, a .spacy file.
    output_path (Union[str, Path]): The .spacy file to write; not the input.
    batch_size (int): Documents per batch through the teacher.
    RETURNS (int): The number of documents written.
    """
    import spacy

    input_path, output_path = Path(input_path), Path(output_path)
    check_output(output_path, inputs=[input_path])
    if not input_path.is_file():
        raise ValueError(f"{input_path}: no such file (a .spacy training corpus).")
    try:
        doc_bin = DocBin(store_user_data=True).from_disk(input_path)
    except Exception as err:  # msgpack and zlib raise their own types
        raise ValueError(f"{input_path}: not a .spacy file (DocBin): {err}") from None
    try:
        teacher = spacy.load(teacher_path)
    except OSError as err:
        raise ValueError(f"Cannot load the teacher pipeline {str(teacher_path)!r}: {err}") from None
    docs = doc_bin.get_docs(teacher.vocab)
    out = DocBin(store_user_data=True)
    for doc in annotate_teacher_targets(teacher, docs, batch_size=batch_size):
        out.add(doc)
    write_bytes_atomic(output_path, out.to_bytes(), inputs=[input_path])
    return len(out)
