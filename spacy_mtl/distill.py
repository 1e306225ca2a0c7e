"""`distill-targets`: store a teacher pipeline's outputs on a training corpus.

The teacher reads each gold document once; its category probabilities and its
CRF's tag marginals go onto the document in the format the student's heads
read during training (spacy_mtl/pipeline/teacher_targets.py).
"""

import warnings
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Set, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from .atomic import check_output, write_bytes_atomic
from .pipeline.ner import MultiTaskEntityRecognizer
from .pipeline.teacher_targets import set_teacher_targets
from .pipeline.textcat import MultiTaskTextCategorizer

_HEADS = (MultiTaskTextCategorizer, MultiTaskEntityRecognizer)


class DistillWarning(UserWarning):
    """A teacher that distill-targets uses, but that a student may not learn from."""


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
    input_path, output_path = Path(input_path), Path(output_path)
    if batch_size < 1:
        raise ValueError(f"The batch size must be at least 1, not {batch_size}.")
    check_output(output_path, inputs=[input_path])
    doc_bin = _read_corpus(input_path)
    try:
        teacher = spacy.load(teacher_path)
    except OSError as err:
        raise ValueError(f"Cannot load the teacher pipeline {str(teacher_path)!r}: {err}") from None
    check_teacher_labels(teacher, doc_bin.get_docs(teacher.vocab), input_path)
    docs = doc_bin.get_docs(teacher.vocab)
    out = DocBin(store_user_data=True)
    for doc in annotate_teacher_targets(teacher, docs, batch_size=batch_size):
        out.add(doc)
    write_bytes_atomic(output_path, out.to_bytes(), inputs=[input_path])
    return len(out)


def _read_corpus(input_path: Path) -> DocBin:
    """The training corpus, with its user data; a clear error for what is not one."""
    if input_path.is_dir():
        raise ValueError(f"{input_path}: is a folder, where a .spacy training corpus is expected.")
    if not input_path.is_file():
        raise ValueError(f"{input_path}: no such file (a .spacy training corpus).")
    try:
        doc_bin = DocBin(store_user_data=True).from_disk(input_path)
    except Exception as err:  # msgpack and zlib raise their own types
        raise ValueError(f"{input_path}: not a .spacy file (DocBin): {err}") from None
    if not len(doc_bin):
        raise ValueError(
            f"{input_path}: no documents, so nothing to distill. Give the training corpus."
        )
    return doc_bin


def check_teacher_labels(teacher: Language, docs: Iterable[Doc], corpus: Path) -> None:
    """Raise if a teacher head shares no label with the corpus; warn if the labels differ.

    A student learns the corpus's labels and is refused at training by a teacher
    target of another label set (teacher_targets.columns_for): say so here, where the
    teacher is chosen, naming the labels on both sides. A task the corpus does not
    annotate is not checked: its targets teach nothing.

    teacher (Language): The teacher pipeline.
    docs (Iterable[Doc]): The corpus's gold documents.
    corpus (Path): The corpus file, for messages.
    """
    heads = [(name, pipe) for name, pipe in teacher.pipeline if isinstance(pipe, _HEADS)]
    seen: Dict[str, Set[str]] = {name: set() for name, _ in heads}
    for doc in docs:
        for name, pipe in heads:
            seen[name].update(pipe.labels_in(doc))
    for name, pipe in heads:
        ours, theirs = sorted(seen[name]), sorted(pipe.labels)
        if not ours or ours == theirs:
            continue
        what = f"The teacher's {name} labels {_shown(theirs)}"
        if not set(ours) & set(theirs):
            raise ValueError(
                f"{what} share none with the labels of {corpus}, {_shown(ours)}: is it the teacher "
                "of another corpus? A student trained on these targets would be refused. "
                "Use a teacher trained on this corpus's labels."
            )
        lacks = [label for label in ours if label not in theirs]
        extra = [label for label in theirs if label not in ours]
        differences = [f"the teacher lacks {_shown(lacks)}" if lacks else ""]
        differences.append(f"the corpus lacks {_shown(extra)}" if extra else "")
        warnings.warn(
            f"{what} differ from those of {corpus}: "
            + "; ".join(part for part in differences if part)
            + f". A student that distills {name} (distill_weight > 0) learns the corpus's "
            "labels and will be refused at training; use a teacher trained on the same labels.",
            DistillWarning,
            stacklevel=2,
        )


def _shown(labels: List[str], most: int = 12) -> str:
    """A list of labels for a message, the first `most` of a long one."""
    if len(labels) <= most:
        return str(labels)
    return f"{labels[:most]} and {len(labels) - most} more"
