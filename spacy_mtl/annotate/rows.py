"""An input row of `annotate`: its checks, its pre-record, and the record it becomes.

A row is read as a pre-record {"id", "text", "error"} (`make_row`); every
engine (local `nlp.pipe`, Ray actors) turns pre-records into records with
`annotate_rows` and serialises them with `record_to_json`, so identical input
gives identical records whatever the engine and the number of workers. That
rests on one property of the pipeline, which the tests check: a document's
predictions do not depend on the other documents of its batch.

What annotate writes for a row is the record (spacy_mtl.records) between the
row's id and its error (None where the row was annotated): ROW_FIELDS.
"""

import json
import math
from typing import Any, Dict, Iterable, Iterator, List

from spacy.language import Language
from spacy.tokens import Doc

from ..records import RECORD_FIELDS, NonFinitePrediction, doc_to_record
from ..texts import EMPTY_TEXT, is_blank, lone_surrogate

# The longest row annotated, in characters. A batch job has no one waiting on a
# long row, so this only stops a runaway one (a whole file on one line, say);
# the service, answering people on shared threads, takes texts up to 10,000.
DEFAULT_MAX_ROW_CHARS = 100_000
ROW_FIELDS = ("id", *RECORD_FIELDS, "error")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def make_row(
    row_id: Any, value: Any, *, field: str = "text", max_chars: int = DEFAULT_MAX_ROW_CHARS
):
    """Check one input row's text and give its pre-record: id, text and error.

    row_id (Any): The row's id.
    value (Any): The value of the row's text field; `MISSING` if it has none.
    field (str): The name of the text field, for the error message.
    max_chars (int): The longest text accepted, in characters.
    RETURNS (Dict[str, Any]): {"id", "text", "error"}: text is None and error
        says why where the row cannot be annotated.
    """
    error = text_error(value, field=field, max_chars=max_chars)
    # A text with a lone surrogate cannot be written: its record keeps only the error.
    writable = isinstance(value, str) and lone_surrogate(value) is None
    return {"id": row_id, "text": value if writable else None, "error": error}


def text_error(value: Any, *, field: str = "text", max_chars: int = DEFAULT_MAX_ROW_CHARS):
    """Say what is wrong with a row's text, or None if it can be annotated.

    value (Any): The value of the text field, or MISSING.
    field (str): The name of the text field.
    max_chars (int): The longest text accepted, in characters.
    RETURNS (Optional[str]): The error message, or None.
    """
    if value is MISSING:
        return f"no {field!r} field"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{field!r} is null"
    if not isinstance(value, str):
        return f"{field!r} is {type(value).__name__}, not a string"
    if is_blank(value):
        return EMPTY_TEXT
    if len(value) > max_chars:
        return f"text has {len(value)} characters, more than the limit of {max_chars}"
    surrogate = lone_surrogate(value)
    if surrogate is not None:
        at, code = surrogate
        return f"text is not valid Unicode: a lone surrogate {code} at character {at}"
    return None


def error_record(pre: Dict[str, Any]) -> Dict[str, Any]:
    """The full record of a row that was not annotated."""
    return {
        "id": pre["id"],
        "text": pre["text"],
        "intent": None,
        "intent_confidence": None,
        "out_of_scope": None,
        "cats": {},
        "entities": [],
        # A message may quote the input (an exception's text): never one that cannot be written.
        "error": pre["error"].encode("utf-8", "backslashreplace").decode("utf-8"),
    }


def full_record(pre: Dict[str, Any], doc: Doc) -> Dict[str, Any]:
    """The full record of an annotated row; an error record where a score is not a number."""
    try:
        return {"id": pre["id"], **doc_to_record(doc), "error": None}
    except NonFinitePrediction as err:
        return error_record({**pre, "error": str(err)})


def annotate_rows(
    nlp: Language,
    rows: Iterable[Dict[str, Any]],
    *,
    batch_size: int = 64,
    n_process: int = 1,
) -> Iterator[Dict[str, Any]]:
    """Annotate pre-records (see make_row) with a pipeline, in order.

    Rows with an error pass through as error records. If the pipeline fails on
    a batch, its rows are annotated one by one, and the row that fails gets
    the exception as its error; the other rows are unaffected.

    nlp (Language): The pipeline.
    rows (Iterable[Dict[str, Any]]): Pre-records {"id", "text", "error"}.
    batch_size (int): Documents per batch of nlp.pipe.
    n_process (int): Processes of nlp.pipe (1: this one).
    YIELDS (Dict[str, Any]): One record per row, in the order of `rows`.
    """
    if n_process > 1:
        yield from _annotate_in_processes(nlp, rows, batch_size, n_process)
        return
    pending: List[Dict[str, Any]] = []
    for pre in rows:
        pending.append(pre)
        if len(pending) >= batch_size:
            yield from _annotate_batch(nlp, pending)
            pending = []
    if pending:
        yield from _annotate_batch(nlp, pending)


class AnnotateProcessError(RuntimeError):
    """The pipeline failed inside nlp.pipe's worker processes."""


def _annotate_in_processes(nlp, rows, batch_size: int, n_process: int):
    # One multi-process stream: spaCy forks its workers once, not per batch.
    stream = ((pre["text"] or "", pre) for pre in rows)
    try:
        for doc, pre in nlp.pipe(
            stream, as_tuples=True, batch_size=batch_size, n_process=n_process
        ):
            yield error_record(pre) if pre["error"] else full_record(pre, doc)
    except Exception as err:
        raise AnnotateProcessError(
            f"The pipeline failed in a worker process: {err}. Run again with one worker "
            f"to record the failing row as an error instead."
        ) from err


def _annotate_batch(nlp: Language, rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    texts = [pre["text"] for pre in rows if not pre["error"]]
    try:
        docs = iter(list(nlp.pipe(texts, batch_size=max(1, len(texts)))))
    except Exception:
        docs = iter([_annotate_one(nlp, text) for text in texts])
    records = []
    for pre in rows:
        if pre["error"]:
            records.append(error_record(pre))
            continue
        doc = next(docs)
        if isinstance(doc, str):
            records.append(error_record({**pre, "error": doc}))
        else:
            records.append(full_record(pre, doc))
    return records


def _annotate_one(nlp: Language, text: str):
    try:
        return nlp(text)
    except Exception as err:
        return f"the pipeline failed: {type(err).__name__}: {err}"


# Records are written and read back with the standard json module, not srsly:
# srsly's ujson writes floats with 9 digits and reads them back inexactly, and a
# resumed run, the merged file and the Ray engine (which ships records as JSON
# lines) must reproduce a local run's bytes exactly.


def record_to_json(record: Dict[str, Any]) -> str:
    """Serialise a record as one JSON line (without the newline), fields in order.

    Strict JSON: a NaN or infinite score raises ValueError rather than writing a bare NaN
    (doc_to_record gives no such record; this keeps every writer to the rule).
    """
    record = {key: record[key] for key in ROW_FIELDS}
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


def record_from_json(line: str) -> Dict[str, Any]:
    """Read back a line that record_to_json wrote."""
    return json.loads(line)
