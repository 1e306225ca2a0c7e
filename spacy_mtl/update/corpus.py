"""The corpora `update` reads: each checked against the pipeline before any training.

A corpus in another language or tokenization than the pipeline would teach
the heads on tokens the pipeline never produces, so it is refused here, naming
the file and an example, rather than warned about as `spacy train` does.
"""

import math
import random
from pathlib import Path
from typing import Dict, List, Optional, Set

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from ..annotation import describe_doc, has_cats, has_ents

# Documents of a corpus whose tokenization is compared with the pipeline's.
N_TOKENIZATION_SAMPLE = 200


class UpdateError(ValueError):
    """Input that `update` refuses: the message names the file and what is wrong."""


def read_corpus(path: Path, nlp: Language, what: str) -> List[Doc]:
    """The documents of a .spacy corpus, with their user data.

    path (Path): The file.
    nlp (Language): The pipeline, whose vocab the documents use.
    what (str): The corpus's role, for messages ("NEW", "--replay", "--dev").
    RETURNS (List[Doc]): The documents; refused if there are none.
    """
    if path.is_dir():
        raise UpdateError(f"{path} ({what}): is a folder, where a .spacy corpus is expected.")
    if not path.exists():
        raise UpdateError(f"{path} ({what}): no such file (a .spacy corpus).")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UpdateError(f"{path} ({what}): cannot be read: {err.strerror or err}.") from None
    try:
        docs = list(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    except Exception as err:  # msgpack, zlib and DocBin raise their own types
        raise UpdateError(
            f"{path} ({what}): not a .spacy file (DocBin): {type(err).__name__}: {err}. Convert "
            "the data with python -m spacy_mtl convert."
        ) from None
    if not docs:
        raise UpdateError(f"{path} ({what}): holds no documents.")
    check_tokenization(nlp, docs, path, what)
    return docs


def _boundaries(doc: Doc) -> List[tuple]:
    return [(t.idx, t.idx + len(t)) for t in doc if not t.is_space]


def check_tokenization(nlp: Language, docs: List[Doc], path: Path, what: str) -> None:
    """Refuse a corpus whose texts the pipeline's tokenizer splits otherwise, mostly.

    A few differences are normal (the corpus was tokenized by hand); most mean
    another language or tokenization (a Chinese character corpus for an English
    pipeline), and the update would learn on tokens the pipeline never makes.
    """
    sample = [doc for doc in docs[:N_TOKENIZATION_SAMPLE] if doc.text.strip()]
    differ = [doc for doc in sample if _boundaries(nlp.make_doc(doc.text)) != _boundaries(doc)]
    if not sample or len(differ) * 2 <= len(sample):
        return
    gold = differ[0]
    made = [t.text for t in nlp.make_doc(gold.text) if not t.is_space][:12]
    raise UpdateError(
        f"{path} ({what}): the pipeline's tokenizer (lang = {nlp.lang!r}) splits {len(differ)} "
        f"of the first {len(sample)} documents otherwise than the corpus, e.g. "
        f"{describe_doc(gold)}: corpus {[t.text for t in gold][:12]}, pipeline {made}. Is the "
        "corpus in another language or tokenization? Convert it with the pipeline's language "
        "(python -m spacy_mtl convert ... --lang)."
    )


def check_gold(
    nlp: Language, heads: Dict, docs: List[Doc], path: Path, what: str, *, train: bool
) -> None:
    """Refuse gold annotation the update cannot learn from, naming the file and document.

    Category values must be finite numbers in [0, 1] (a NaN makes every loss NaN); a
    training corpus may annotate only tasks the pipeline has a head for, and each
    document must pass its heads' own checks (`gold_problems`: one positive category for
    an exclusive classifier, entities on token boundaries).

    nlp (Language): The pipeline, whose tokenizer makes the documents the heads train on.
    heads (Dict): The pipeline's heads by task, "cats" and "ents" (api.heads_of).
    docs (List[Doc]): The corpus's documents.
    path (Path): The file, for messages.
    what (str): The corpus's role, for messages ("NEW", "--replay", "--dev").
    train (bool): Whether the update trains on the corpus (NEW, --replay) or only scores it.
    """
    noun = {"cats": "categories (mtl_textcat)", "ents": "entities (mtl_ner)"}
    for i, doc in enumerate(docs):
        problem = _cats_value_problem(doc)
        if problem is None and train:
            missing = sorted(annotated_tasks([doc]) - set(heads))
            if missing:
                problem = (
                    f"annotates {', '.join(noun[t] for t in missing)}, which the pipeline has "
                    "no component for"
                )
        if problem is None and train:
            problem = _head_problem(heads, Example(nlp.make_doc(doc.text), doc))
        if problem is not None:
            raise UpdateError(
                f"{path} ({what}): document {i} of the file ({describe_doc(doc)}) {problem}. "
                "Fix or remove it, then run update again."
            )


def _cats_value_problem(doc: Doc) -> Optional[str]:
    for label, value in doc.cats.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
            return f"has the category {label!r} = {value!r}, where a number in [0, 1] is needed"
    return None


def _head_problem(heads: Dict, example: Example) -> Optional[str]:
    """The first problem a head finds in the example (its predicted side as spaCy's Corpus
    makes it, from the text), or None."""
    for head in heads.values():
        if head.is_annotated(example):
            problems = head.gold_problems(example)
            if problems:
                return f"has gold data {head.name} cannot learn from: {problems[0]}"
    return None


def corpus_labels(docs: List[Doc]) -> Dict[str, List[str]]:
    """The category and entity labels the documents annotate, in order of first use."""
    cats: Dict[str, None] = {}
    ents: Dict[str, None] = {}
    for doc in docs:
        if has_cats(doc):
            cats.update(dict.fromkeys(doc.cats))
        if has_ents(doc):
            ents.update(dict.fromkeys(ent.label_ for ent in doc.ents))
    return {"cats": list(cats), "ents": list(ents)}


def annotated_tasks(docs: List[Doc]) -> Set[str]:
    """The tasks ("cats", "ents") annotated on at least one document."""
    tasks = set()
    for doc in docs:
        if has_cats(doc):
            tasks.add("cats")
        if has_ents(doc):
            tasks.add("ents")
    return tasks


def replay_sample(docs: List[Doc], n_new: int, share: float, seed: int) -> List[Doc]:
    """Old documents to replay: `share` of the update's training documents, at most all.

    share (float): The replayed documents' share of new plus replayed, in [0, 1).
    """
    if not docs or share <= 0:
        return []
    wanted = int(round(n_new * share / (1.0 - share)))
    if wanted >= len(docs):
        return list(docs)
    return random.Random(seed).sample(docs, wanted)
