"""augment_corpus(): read the corpus, make the new sentences, write them whole or not at all."""

import math
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from ..atomic import OutputError, check_output, write_bytes_atomic
from .generate import count_fillings, generate, make_doc, sentence_key
from .templates import read_templates, slot_values

# The most new sentences one run makes: they are held in memory as one DocBin and written
# whole (200,000 short sentences took 1.6 GB and under three minutes; a million, 4 GB and
# ten minutes before they were done).
MAX_SENTENCES = 200_000


class AugmentError(ValueError):
    """Bad input to augment: the corpus, a setting or the output, and what to do."""


@dataclass
class AugmentSummary:
    """What a run read and made.

    n_docs (int): Training documents read.
    n_templates (int): Those with annotated slots, usable as templates.
    n_asked (int): New sentences asked for (factor x n_docs).
    n_made (int): New sentences written (fewer when the corpus has no more).
    n_possible (int): The templates' fillings: at most this many new sentences.
    refused (List[Tuple[int, str]]): Documents not used as templates for their
        categories (NaN, no positive one): their index in the corpus and why.
    """

    n_docs: int
    n_templates: int
    n_asked: int
    n_made: int
    n_possible: int = 0
    refused: List[Tuple[int, str]] = field(default_factory=list)


def augment_corpus(
    input_path: Path,
    output_path: Path,
    *,
    factor: float,
    seed: int,
    say: Optional[Callable[[str], None]] = None,
) -> AugmentSummary:
    """Write `factor` times as many new sentences as INPUT has to OUTPUT.

    Before any sentence is made, the templates' fillings are counted: a factor that asks
    for more is capped at them (said through `say`), and a run that would make more than
    MAX_SENTENCES is refused, naming the largest factor.

    input_path (Path): The .spacy training corpus.
    output_path (Path): The .spacy file to write (only the new sentences).
    factor (float): New sentences per training document.
    seed (int): The random seed: the same seed, the same output.
    say (Optional[Callable[[str], None]]): Receives notes said before the work (the cap).
    RETURNS (AugmentSummary): What was read and made.
    """
    if not (math.isfinite(factor) and factor > 0):
        raise AugmentError(f"--factor {factor}: give a positive number of sentences per document.")
    try:
        check_output(output_path, [input_path])
    except OutputError as err:
        raise AugmentError(str(err)) from None
    vocab = Vocab()
    docs = read_corpus(input_path, vocab)
    templates, refused = read_templates(docs)
    if not templates:
        raise AugmentError(
            f"{input_path}: none of its {len(docs)} documents can be a template: one needs "
            "entity annotation on every token, at least one entity (slot) to swap, and "
            "categories with one positive intent (or none at all)."
            + (f" {describe_refused(input_path, refused)}" if refused else "")
        )
    values = slot_values(templates)
    possible = count_fillings(templates, values)
    n_asked = max(1, round(Fraction(factor) * len(docs)))
    n_target = min(n_asked, possible)
    if n_target > MAX_SENTENCES:
        most = math.floor(MAX_SENTENCES / len(docs) * 1000) / 1000
        raise AugmentError(
            f"--factor {factor} asks for {shown(n_asked)} new sentences ({len(docs)} documents; "
            f"the templates have {shown(possible)} fillings), but one run makes at most "
            f"{MAX_SENTENCES:,}, held in memory and written whole. Give --factor {most} or less."
        )
    if n_asked > possible and possible and say is not None:
        say(
            f"Note: --factor {factor} asks for {shown(n_asked)} new sentences, but the "
            f"{len(templates)} templates and their slot values have {possible:,} fillings: "
            f"making those that are new (--factor {possible / len(docs):.4g} asks for all)."
        )
    seen = {sentence_key(doc.text) for doc in docs}
    out = DocBin()
    # One new Doc at a time: the DocBin keeps only its arrays, so memory grows slowly.
    for template, fill in generate(templates, values, n_target, seed=seed, seen=seen):
        out.add(make_doc(vocab, template, fill))
    if not len(out):
        raise AugmentError(
            f"{input_path}: no new sentence can be made: every filling of its templates' "
            "slots with values of the same intent and slot type is a training sentence already. "
            "Give a corpus with more sentences per intent."
        )
    write_bytes_atomic(output_path, out.to_bytes(), inputs=[input_path])
    return AugmentSummary(len(docs), len(templates), n_asked, len(out), possible, refused)


def describe_refused(path: Path, refused: List[Tuple[int, str]]) -> str:
    """One sentence naming the documents left out for their categories, and why."""
    indices = ", ".join(str(i) for i, _ in refused[:10])
    more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
    return (
        f"{path}: {len(refused)} documents are not used as templates for their categories "
        f"(documents {indices}{more}; document {refused[0][0]}: {refused[0][1]}). An intent "
        "is one category at 1.0; fix their categories, or remove them (doc.cats = {} marks "
        "the intent missing)."
    )


def shown(n: int) -> str:
    """A count for a message: in full below a billion, else as 1.8e+10."""
    return f"{n:,}" if n < 10**9 else f"{Decimal(n):.2e}"


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
