"""Prodigy's annotations (``prodigy db-out``, JSONL), read without Prodigy.

INPUT is one JSONL file or a folder of them (read in name order), each a session. A record
is one answered task, and what it annotates is decided by the interface it was answered in
(``_view_id``, which Prodigy saves with every answer), as its recipe wrote it:

- ``choice`` (textcat.manual with several labels, textcat.correct): ``options``, ``accept``
  the chosen option ids; it judges every option.
- ``classification`` (textcat.teach, textcat.manual with one label, mark): a top-level
  ``label``, ``answer`` accept or reject; it judges that label. Spans shown with it (the
  matches of textcat.teach's patterns, often ``"spans": []``) are not entities.
- ``ner_manual``, ``spans_manual`` (ner.manual, ner.correct, spans.manual): ``spans`` with
  character offsets (``start``, ``end``) or token offsets (``token_start``, ``token_end``
  inclusive, with the record's ``tokens``) are every entity of the text, the other tokens
  "O"; accepted without ``spans``, the text has no entities.
- ``ner`` (ner.teach): a binary answer about the suggested spans: accepted, those spans are
  entities and the other tokens stay missing (an accept confirms a span, not the text).
- ``blocks``, another interface, or none saved: by the fields, ``options`` a choice, a
  top-level ``label`` a binary category, otherwise ``spans`` or ``tokens`` a manual entity
  annotation (blocks, none) or spans only (another interface).

Records of one text (sessions over the same texts) merge into one document that carries
every task some session annotated (sessions.py). ``answer`` ignore skips a record; a
rejected binary category is a 0.0 in multi-label mode, and is not used in exclusive mode,
nor are other rejected tasks, nor accepted records of an interface that annotates neither
task: each is counted in a warning.
"""

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

from ..annotation import TASKS
from .common import ConversionError, PathLike, read_lines
from .jsonl import _parse_record
from .sessions import Judgement, TextDocs, check_text, report_counts, words_of

FORMAT_PRODIGY = "prodigy"
PRODIGY_TASKS = TASKS
_ANSWERS = ("accept", "reject", "ignore")
# What each interface annotates: (categories, entities). Categories: "choice" or "binary";
# entities: "complete" (every entity, the other tokens "O") or "partial" (the others missing).
_VIEWS = {
    "choice": ("choice", None),
    "classification": ("binary", None),
    "ner_manual": (None, "complete"),
    "spans_manual": (None, "complete"),
    "ner": (None, "partial"),
}
# Interfaces that combine others, and records saved without one: read by their fields.
_COMBINED_VIEWS = (None, "blocks")


def prodigy_files(input_path: Path) -> List[Path]:
    """The session files: the file itself, or a folder's .jsonl files in name order."""
    if not input_path.is_dir():
        return [input_path]
    files = sorted(p for p in input_path.iterdir() if p.suffix == ".jsonl" and p.is_file())
    if not files:
        raise ConversionError("a folder without .jsonl files (Prodigy sessions).", path=input_path)
    return files


def read_prodigy(
    input_path: PathLike,
    *,
    lang: str = "en",
    tasks: Sequence[str] = PRODIGY_TASKS,
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> List[Doc]:
    """Read Prodigy sessions into one Doc per text.

    input_path (Union[str, Path]): A JSONL file, or a folder of them.
    lang (str): Language code of the tokenizer for texts without "tokens".
    tasks (Sequence[str]): The tasks to keep; a task left out stays missing.
    strict (bool): Raise on conflicting answers and misaligned spans.
    exclusive (Optional[bool]): Whether a text has exactly one category. None:
        exclusive unless a choice task accepts several options, or the
        sessions hold binary category answers only.
    RETURNS (List[Doc]): One document per text.
    """
    input_path = Path(input_path)
    records = [
        (path, line, record)
        for path in prodigy_files(input_path)
        for line, record in _records(path)
    ]
    if exclusive is None:
        exclusive = _infer_exclusive(records)
    counts = {"ignored answers": 0, _UNUSED_REJECTS: 0, _UNUSED_ACCEPTS: 0}
    collected = TextDocs(input_path, lang, exclusive, strict, tasks)
    for path, line, record in records:
        answer = _answer(record, path, line)
        if answer == "ignore":
            counts["ignored answers"] += 1
            continue
        where = f"{path.name} line {line}" if input_path.is_dir() else f"line {line}"
        judgement = judge(record, answer, exclusive, Judgement(where, line), path)
        if judgement.cats is None and judgement.spans is None:
            counts[_UNUSED_REJECTS if answer == "reject" else _UNUSED_ACCEPTS] += 1
            continue
        collected.add(record.get("text"), judgement)
    report_counts(input_path, counts)
    return collected.docs()


_UNUSED_REJECTS = (
    "rejected answers that teach nothing here (a rejected choice or entity task, or in "
    "exclusive mode a rejected category: convert with --multilabel to use those)"
)
_UNUSED_ACCEPTS = (
    "accepted answers of an interface that annotates no categories or entities (no "
    "options, label, spans or tokens)"
)


def _records(path: Path):
    for line, text in read_lines(path):
        if text.strip():
            yield line, _parse_record(text, path, line)


def _answer(record: Dict[str, Any], path: Path, line: int) -> str:
    answer = record.get("answer")
    if answer not in _ANSWERS:
        raise ConversionError(
            f"the answer is {answer!r}, not accept, reject or ignore. Convert annotations "
            "(`prodigy db-out DATASET`), not the tasks given to Prodigy.",
            path=path,
            line=line,
        )
    return answer


def _infer_exclusive(records) -> bool:
    kinds = [(record_tasks(r)[0], r) for _, _, r in records]
    chosen = [r.get("accept") for kind, r in kinds if kind == "choice"]
    if any(isinstance(a, list) and len(a) > 1 for a in chosen):
        return False
    binary = any(kind == "binary" for kind, _ in kinds)
    return bool(chosen) or not binary


def record_tasks(record: Dict[str, Any]) -> Tuple[Optional[str], Optional[str]]:
    """What a record annotates, by its interface: (categories, entities).

    record (Dict[str, Any]): The answered task.
    RETURNS (Tuple[Optional[str], Optional[str]]): "choice", "binary" or None; "complete",
        "partial" or None.
    """
    view = record.get("_view_id")
    if isinstance(view, str) and view in _VIEWS:
        return _VIEWS[view]
    if "options" in record:
        cats = "choice"
    elif "label" in record:
        cats = "binary"
    else:
        cats = None
    if view not in _COMBINED_VIEWS:
        return cats, "partial" if "spans" in record else None
    if cats == "binary" or ("spans" not in record and "tokens" not in record):
        # A top-level label is the task's one question: spans shown with it are context.
        return cats, None
    # Tokens are added for a manual entity interface (a ner_manual block), spans or none.
    return cats, "complete"


def judge(
    record: Dict[str, Any], answer: str, exclusive: bool, judgement: Judgement, path: Path
) -> Judgement:
    """What an accepted or rejected record says about its text."""
    text = record.get("text")
    if "text" in record:
        check_text(text, path, judgement)
    else:
        raise ConversionError(
            f'the record has no "text" (it has {_keys(record)}). Prodigy tasks of text '
            'recipes have one: {"text": "...", ...}.',
            path=path,
            line=judgement.line,
        )
    starts = None
    if record.get("tokens") is not None:
        judgement.words, starts = _tokens(record["tokens"], text, judgement, path)
    cats, ents = record_tasks(record)
    if cats == "choice" and answer == "accept":
        judgement.cats = _choices(record, judgement, path)
    elif cats == "binary":
        judgement.cats = _binary(record, answer, exclusive, judgement, path)
    if ents is not None and answer == "accept":
        spans = _spans(record, starts, judgement, path)
        # No spans: "no entities" in a manual task; nothing at all in a binary one.
        if spans or ents == "complete":
            judgement.spans, judgement.complete = spans, ents == "complete"
    return judgement


def _choices(record, judgement: Judgement, path: Path) -> Dict[str, float]:
    options = record.get("options")
    if not isinstance(options, list) or not all(
        isinstance(o, dict) and isinstance(o.get("id"), (str, int)) for o in options
    ):
        raise ConversionError(
            '"options" must be a list of {"id": ..., "text": ...} objects.',
            path=path,
            line=judgement.line,
        )
    ids = [str(option["id"]) for option in options]
    accepted = record.get("accept", [])
    if not isinstance(accepted, list) or any(str(a) not in ids for a in accepted):
        raise ConversionError(
            f'"accept" must list ids of the options ({", ".join(ids)}), not {accepted!r}.',
            path=path,
            line=judgement.line,
        )
    chosen = {str(a) for a in accepted}
    return {label: 1.0 if label in chosen else 0.0 for label in ids}


def _binary(record, answer: str, exclusive: bool, judgement: Judgement, path: Path):
    label = record.get("label")
    if not isinstance(label, str) or not label.strip():
        raise ConversionError(
            f'"label" must be a non-empty string, not {label!r}.', path=path, line=judgement.line
        )
    if answer == "accept":
        return {label: 1.0}
    # "Not this label" is a 0.0 for a multi-label head; an exclusive one cannot use it.
    return None if exclusive else {label: 0.0}


def _tokens(tokens, text: str, judgement: Judgement, path: Path):
    """The Doc's words and spaces, and each given token's character offsets."""
    if not isinstance(tokens, list) or not tokens or not all(_is_token(t) for t in tokens):
        raise ConversionError(
            '"tokens" must be a non-empty list of {"text": ..., "ws": true/false} objects.',
            path=path,
            line=judgement.line,
        )
    words = [token["text"] for token in tokens]
    spaces = [bool(token.get("ws", True)) for token in tokens]
    spelled = words_of(text, words, spaces, judgement.where, path, judgement.line)
    if all(isinstance(t.get("start"), int) and isinstance(t.get("end"), int) for t in tokens):
        return spelled, [(token["start"], token["end"]) for token in tokens]
    return spelled, _token_starts(words, spaces)


def _is_token(token) -> bool:
    return isinstance(token, dict) and isinstance(token.get("text"), str) and token["text"] != ""


def _spans(record, starts, judgement: Judgement, path: Path) -> List[Tuple[int, int, str]]:
    # An accepted manual task without spans: the annotator found no entities.
    spans = record.get("spans", [])
    if not isinstance(spans, list) or not all(isinstance(span, dict) for span in spans):
        raise ConversionError(
            '"spans" must be a list of {"start", "end", "label"} objects.',
            path=path,
            line=judgement.line,
        )
    return [_char_span(span, starts, judgement, path) for span in spans]


def _char_span(span, starts, judgement: Judgement, path: Path) -> Tuple[int, int, str]:
    label = span.get("label", "")
    if "start" in span and "end" in span:
        return span["start"], span["end"], label
    first, last = span.get("token_start"), span.get("token_end")
    if starts is None or not all(isinstance(i, int) for i in (first, last)):
        raise ConversionError(
            'a span needs character offsets ("start", "end") or token offsets '
            '("token_start", "token_end") with the record\'s "tokens".',
            path=path,
            line=judgement.line,
        )
    if not 0 <= first <= last < len(starts):
        raise ConversionError(
            f"the span's tokens {first}..{last} are not among the record's {len(starts)} "
            "tokens (token_end is inclusive).",
            path=path,
            line=judgement.line,
        )
    return starts[first][0], starts[last][1], label


def _token_starts(words, spaces) -> List[Tuple[int, int]]:
    offsets, at = [], 0
    for word, space in zip(words, spaces):
        offsets.append((at, at + len(word)))
        at += len(word) + bool(space)
    return offsets


def _keys(record: Dict[str, Any]) -> str:
    keys = list(record)[:8]
    return ", ".join(repr(k) for k in keys) if keys else "no keys"
