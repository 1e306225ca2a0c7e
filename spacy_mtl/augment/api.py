"""augment_corpus(): read the corpus, make the new sentences, write them whole or not at all."""

import math
from dataclasses import dataclass
from pathlib import Path

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..atomic import check_output, write_bytes_atomic
from .generate import generate, make_doc, sentence_key
from .templates import read_templates, slot_values


class AugmentError(ValueError):
    """Bad input to augment: the corpus, a setting or the output, and what to do."""


@dataclass
class AugmentSummary:
    """What a run read and made.

    n_docs (int): Training documents read.
    n_templates (int): Those with annotated slots, usable as templates.
    n_asked (int): New sentences asked for (factor x n_docs).
    n_made (int): New sentences written (fewer when the corpus has no more).
    """

    n_docs: int
    n_templates: int
    n_asked: int
    n_made: int


def augment_corpus(
    input_path: Path, output_path: Path, *, factor: float, seed: int
) -> AugmentSummary:
    """Write `factor` times as many new sentences as INPUT has to OUTPUT.

    input_path (Path): The .spacy training corpus.
    output_path (Path): The .spacy file to write (only the new sentences).
    factor (float): New sentences per training document.
    seed (int): The random seed: the same seed, the same output.
    RETURNS (AugmentSummary): What was read and made.
    """
    if not (math.isfinite(factor) and factor > 0):
        raise AugmentError(f"--factor {factor}: give a positive number of sentences per document.")
    try:
        check_output(output_path, [input_path])
    except ValueError as err:
        raise AugmentError(str(err)) from None
    vocab = Vocab()
    docs = read_corpus(input_path, vocab)
    templates, _ = read_templates(docs)
    if not templates:
        raise AugmentError(
            f"{input_path}: none of its {len(docs)} documents can be a template: one needs "
            "entity annotation on every token and at least one entity (slot) to swap."
        )
    n_asked = max(1, round(factor * len(docs)))
    seen = {sentence_key(doc.text) for doc in docs}
    made = generate(templates, slot_values(templates), n_asked, seed=seed, seen=seen)
    out = DocBin(docs=[make_doc(vocab, template, fill) for template, fill in made])
    if not len(out):
        raise AugmentError(
            f"{input_path}: no new sentence can be made: every filling of its templates' "
            "slots with values of the same intent and slot type is a training sentence already. "
            "Give a corpus with more sentences per intent."
        )
    write_bytes_atomic(output_path, out.to_bytes(), inputs=[input_path])
    return AugmentSummary(len(docs), len(templates), n_asked, len(out))


def read_corpus(path: Path, vocab: Vocab) -> list:
    """The training corpus's documents, or an AugmentError that names the file."""
    if path.is_dir():
        raise AugmentError(f"{path}: is a folder, where a .spacy training corpus is expected.")
    if not path.is_file():
        raise AugmentError(f"{path}: no such file (a .spacy training corpus).")
    try:
        docs = list(DocBin().from_disk(path).get_docs(vocab))
    except Exception as err:  # msgpack, zlib and spaCy raise their own types
        raise AugmentError(f"{path}: not a .spacy file (DocBin): {err}") from None
    if not docs:
        raise AugmentError(f"{path}: holds no documents; give the training corpus.")
    return docs
