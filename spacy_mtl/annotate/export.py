"""Predictions written for correction in an annotation tool: Prodigy or Label Studio.

``annotate --format prodigy`` writes a JSONL stream of tasks that Prodigy's manual recipes
(a blocks recipe with ``ner_manual`` and ``choice``, or ``ner.manual`` and ``textcat.manual``)
show pre-filled: the text, the pipeline's tokens, the entities as ``spans`` and the intent
as the accepted one of the ``options``. ``--format labelstudio`` writes Label Studio's
pre-annotation JSON: one task a record, ``data.text`` and a ``predictions`` entry
(``model_version``, ``score``, ``result`` items of type ``choices`` from ``intent`` and
``labels`` from ``label``, both to ``text``) and the record's id, intent and score in the
task's ``meta``. The corrected data come back through ``convert prodigy`` and
``convert labelstudio``.

A text the calibrated pipeline rejects as out of scope pre-selects no category: its options
are the trained intents, none accepted (Prodigy's ``accept: []``; no ``choices`` result in
Label Studio's prediction), and the rejection is in ``meta`` (``out_of_scope``, ``intent``).
Accepted as it is, such a task leaves its categories missing in the converted corpus rather
than teaching the out-of-scope label as one more intent.

``--sort-by confidence`` puts the least confident records first: a record's confidence is
the lowest of its intent's (``intent_confidence``, else the top category score) and its
entities' (``confidence``); a record with neither comes last. Error records are left out.
"""

import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

from ..atomic import atomic_write
from .rows import record_from_json

EXPORT_PRODIGY = "prodigy"
EXPORT_LABELSTUDIO = "labelstudio"
# The file suffix each format is written to.
EXPORT_FORMATS = {EXPORT_PRODIGY: "jsonl", EXPORT_LABELSTUDIO: "json"}
SORT_KEYS = ("confidence",)
# The names of Label Studio's controls, as its labeling config must call them.
LS_CHOICES = "intent"
LS_LABELS = "label"
LS_TEXT = "text"
# Tasks are strict JSON: a NaN would make the file unreadable to the tool.
STRICT_JSON: Dict[str, Any] = {"ensure_ascii": False, "allow_nan": False}


def confidence(record: Dict[str, Any]) -> Optional[float]:
    """How sure the pipeline is of a record: its least confident intent or entity.

    record (Dict[str, Any]): An annotate record.
    RETURNS (Optional[float]): The lowest of the intent's confidence (the top
        category score where the record has no intent_confidence) and the
        entities' confidences; None if the record has none of them.
    """
    values = []
    intent = record.get("intent_confidence")
    cats = record.get("cats") or {}
    if intent is None and cats:
        intent = max(cats.values())
    if intent is not None:
        values.append(float(intent))
    for entity in record.get("entities") or []:
        if entity.get("confidence") is not None:
            values.append(float(entity["confidence"]))
    return min(values) if values else None


def sort_records(records: List[Dict[str, Any]], sort_by: Optional[str]) -> List[Dict[str, Any]]:
    """The records in input order, or least confident first (ties in input order)."""
    if sort_by is None:
        return records
    scored = [(confidence(record), record) for record in records]
    scored.sort(key=lambda pair: (pair[0] is None, pair[0] or 0.0))
    return [record for _, record in scored]


def prodigy_task(record: Dict[str, Any], make_doc: Callable) -> Dict[str, Any]:
    """A Prodigy task of a record: text, tokens, spans, options and the accepted intent."""
    doc = make_doc(record["text"])
    tokens = [
        {
            "text": t.text,
            "start": t.idx,
            "end": t.idx + len(t),
            "id": t.i,
            "ws": bool(t.whitespace_),
        }
        for t in doc
    ]
    spans = []
    for entity in record["entities"]:
        span = doc.char_span(entity["start"], entity["end"], alignment_mode="expand")
        spans.append(
            {
                "start": entity["start"],
                "end": entity["end"],
                "label": entity["label"],
                "token_start": span.start,
                "token_end": span.end - 1,
            }
        )
    task: Dict[str, Any] = {"text": record["text"], "tokens": tokens, "spans": spans}
    if record.get("cats"):
        task["options"] = [{"id": label, "text": label} for label in record["cats"]]
        intent = chosen_intent(record)
        task["accept"] = [intent] if intent is not None else []
    task["meta"] = _meta(record)
    return task


def chosen_intent(record: Dict[str, Any]) -> Optional[str]:
    """The intent a task pre-selects: the record's, if it is a trained intent (one of its cats).

    A text rejected as out of scope pre-selects none: its intent (the out-of-scope label) is
    no category the pipeline is trained on, and accepted as a category it would become one.

    record (Dict[str, Any]): An annotate record.
    RETURNS (Optional[str]): The intent, or None.
    """
    intent = record.get("intent")
    if record.get("out_of_scope") or intent not in (record.get("cats") or {}):
        return None
    return intent


def _meta(record: Dict[str, Any]) -> Dict[str, Any]:
    meta = {"id": record["id"]}
    if record.get("intent") is not None:
        meta["intent"] = record["intent"]
    score = confidence(record)
    if score is not None:
        meta["score"] = round(score, 4)
    if record.get("out_of_scope") is not None:
        meta["out_of_scope"] = record["out_of_scope"]
    return meta


def labelstudio_task(record: Dict[str, Any], model_version: str) -> Dict[str, Any]:
    """A Label Studio task of a record, its predictions pre-annotated for correction."""
    result: List[Dict[str, Any]] = []
    intent = chosen_intent(record)
    if intent is not None:
        item = _ls_result(len(result), LS_CHOICES, "choices", {"choices": [intent]})
        sure = record.get("intent_confidence")
        item["score"] = float(sure if sure is not None else record["cats"][intent])
        result.append(item)
    for entity in record["entities"]:
        value = {k: entity[k] for k in ("start", "end", "text")}
        item = _ls_result(len(result), LS_LABELS, "labels", {**value, "labels": [entity["label"]]})
        if entity.get("confidence") is not None:
            item["score"] = float(entity["confidence"])
        result.append(item)
    prediction: Dict[str, Any] = {"model_version": model_version, "result": result}
    score = confidence(record)
    if score is not None:
        prediction["score"] = score
    return {
        "data": {LS_TEXT: record["text"], "id": record["id"]},
        "meta": _meta(record),
        "predictions": [prediction],
    }


def _ls_result(n: int, from_name: str, kind: str, value: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "id": f"r{n}",
        "from_name": from_name,
        "to_name": LS_TEXT,
        "type": kind,
        "value": value,
    }


def read_part_records(paths: Iterable[Path]) -> List[Dict[str, Any]]:
    """Every record of JSONL part files, in order."""
    records = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            records.extend(record_from_json(line) for line in handle)
    return records


def write_export(
    paths: Iterable[Path],
    target: Path,
    fmt: str,
    *,
    sort_by: Optional[str],
    make_doc: Optional[Callable] = None,
    model_version: str = "",
) -> int:
    """Write the records of part files as a tool's tasks, whole or not at all.

    paths (Iterable[Path]): The JSONL part files, in input order.
    target (Path): The export file.
    fmt (str): One of EXPORT_FORMATS.
    sort_by (Optional[str]): None (input order) or "confidence" (least confident first).
    make_doc (Optional[Callable]): The pipeline's tokenizer (Prodigy's tokens).
    model_version (str): What Label Studio shows as the predictions' model.
    RETURNS (int): The number of tasks written (error records are left out).
    """
    records = [r for r in read_part_records(paths) if r["error"] is None]
    records = sort_records(records, sort_by)
    with atomic_write(target, "w") as handle:
        if fmt == EXPORT_PRODIGY:
            for record in records:
                handle.write(json.dumps(prodigy_task(record, make_doc), **STRICT_JSON) + "\n")
        else:
            tasks = [labelstudio_task(record, model_version) for record in records]
            handle.write(json.dumps(tasks, indent=1, **STRICT_JSON) + "\n")
    return len(records)


def export_parts(
    paths: List[Path], target: Path, fmt: str, pipeline: str, sort_by: Optional[str]
) -> int:
    """Export a finished run's parts for a tool, with the pipeline's tokens and name.

    paths (List[Path]): The JSONL part files, in input order.
    target (Path): The export file.
    fmt (str): One of EXPORT_FORMATS.
    pipeline (str): The pipeline that made the records.
    sort_by (Optional[str]): None or "confidence".
    RETURNS (int): The number of tasks written.
    """
    from ..loader import load_pipeline
    from .io import pipeline_fingerprint

    make_doc = None
    if fmt == EXPORT_PRODIGY:
        # The tokens the entities were predicted on: Prodigy shows and edits these.
        make_doc = load_pipeline(pipeline, threads=None).make_doc
    print_name = pipeline_fingerprint(pipeline)
    version = f"{print_name.get('name') or pipeline}-{print_name.get('version') or ''}".rstrip("-")
    return write_export(
        paths, target, fmt, sort_by=sort_by, make_doc=make_doc, model_version=version
    )
