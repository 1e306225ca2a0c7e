"""The evaluate command's inputs, checked: a pipeline with our heads, and a gold .spacy corpus.

Each problem raises EvaluateError with the path and what to do, so the command
prints one message instead of a traceback.
"""

import math
import unicodedata
from pathlib import Path
from typing import Dict, List

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..loader import PipelineLoadError, load_pipeline

# The factories whose tasks the report scores, and the task each one does.
HEAD_TASKS = {"mtl_textcat": "cats", "mtl_ner": "ents"}
# Languages written without spaces in CJK scripts: their corpora are mostly such characters.
CJK_LANGS = {"zh", "ja", "ko"}


class EvaluateError(ValueError):
    """An input the evaluate command cannot use; the message says which and why."""


def load_scored_pipeline(path: str) -> Language:
    """Load a pipeline that has at least one of our heads (mtl_textcat, mtl_ner).

    path (str): A pipeline folder or an installed package name.
    RETURNS (Language): The pipeline.
    """
    try:
        nlp = load_pipeline(path, threads=None)
    except PipelineLoadError as err:
        raise EvaluateError(str(err)) from err
    if not heads(nlp):
        factories = ", ".join(nlp.meta.get("pipeline", nlp.pipe_names)) or "no components"
        raise EvaluateError(
            f"The pipeline {path!r} has no mtl_textcat or mtl_ner component (it has "
            f"{factories}): evaluate scores spacy-mtl's heads. For other pipelines use "
            "`python -m spacy evaluate`."
        )
    return nlp


def heads(nlp: Language) -> Dict[str, str]:
    """The pipeline's heads by task: {"cats": name, "ents": name}, those it has."""
    found = {}
    for name in nlp.pipe_names:
        task = HEAD_TASKS.get(nlp.get_pipe_meta(name).factory)
        if task is not None and task not in found:
            found[task] = name
    return found


def read_gold(path: Path, nlp: Language) -> List[Doc]:
    """The documents of a .spacy corpus, checked to exist, be a DocBin, be non-empty and
    be in the pipeline's language.

    path (Path): The corpus.
    nlp (Language): The pipeline whose vocab reads it.
    RETURNS (List[Doc]): The gold documents.
    """
    if not path.exists():
        raise EvaluateError(f"{path}: no such file. Give a .spacy corpus (spacy_mtl convert).")
    if path.is_dir() or path.suffix != ".spacy":
        raise EvaluateError(
            f"{path}: not a .spacy file. Convert it first: python -m spacy_mtl convert FORMAT "
            f"{path} OUTPUT.spacy"
        )
    try:
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    except Exception as err:  # msgpack, zlib and key errors alike: the bytes are not a DocBin
        raise EvaluateError(
            f"{path}: cannot be read as a .spacy corpus (DocBin): {type(err).__name__}: {err}"
        ) from err
    if not docs:
        raise EvaluateError(f"{path}: the corpus holds no documents.")
    check_language(path, docs, nlp.lang)
    for i, doc in enumerate(docs):
        try:
            list(doc.ents)
        except ValueError as err:  # E093: an I tag without its B, stored by another tool
            raise EvaluateError(
                f"{path}: document {i} ({doc.text[:60]!r}) has invalid entity tags: {err}. "
                "python -m spacy_mtl debug-data names every such document."
            ) from err
        check_gold_cats(path, i, doc)
    return docs


def check_gold_cats(path: Path, i: int, doc: Doc) -> None:
    """Refuse a gold document whose category values are not numbers (NaN, infinite).

    A NaN gold category cannot be scored, and scores.json cannot hold it.
    """
    bad = [label for label, value in doc.cats.items() if not math.isfinite(float(value))]
    if bad:
        shown = ", ".join(f"{label!r} is {float(doc.cats[label])}" for label in bad[:5])
        raise EvaluateError(
            f"{path}: document {i} ({doc.text[:60]!r}) has gold categories that are not "
            f"numbers ({shown}): gold categories are 1.0 or 0.0. Fix the corpus, or convert "
            "it again."
        )


def check_language(path: Path, docs: List[Doc], lang: str) -> None:
    """Refuse a corpus written mostly in CJK characters for a non-CJK pipeline, or the reverse.

    DocBin does not store a language, so the script of the letters is the evidence.
    """
    letters = [ch for doc in docs[:2000] for ch in doc.text if ch.isalpha()]
    if not letters:
        return
    share = sum(_is_cjk(ch) for ch in letters) / len(letters)
    if lang in CJK_LANGS and share < 0.2:
        raise EvaluateError(
            f"{path}: only {share:.0%} of its letters are Chinese, Japanese or Korean, but the "
            f"pipeline is for {lang!r}: is this corpus in another language?"
        )
    if lang not in CJK_LANGS and share > 0.5:
        raise EvaluateError(
            f"{path}: {share:.0%} of its letters are Chinese, Japanese or Korean, but the "
            f"pipeline is for {lang!r}: is this corpus in another language? Evaluate it with a "
            "pipeline trained for its language."
        )


def _is_cjk(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))
