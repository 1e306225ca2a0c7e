"""Label Studio's JSON export, read into Docs.

The export is one JSON list of tasks: ``{"id": 17, "data": {"text": ...}, "annotations":
[{"result": [...], "was_cancelled": false}, ...]}``. Each annotation that was not cancelled
judges its task's text: a ``choices`` result gives its categories, ``labels`` results its
entities as character offsets (``value.start``, ``value.end``, ``value.labels``). In a
project that marks entities (some annotation has a ``labels`` result) an annotation without
one says "no entities here"; an annotation without ``choices`` leaves the categories missing.
Predictions are not annotations and are not read. Several annotations of one task merge,
and disagreements are reported (sessions.py). Errors name the task by its id.
"""

import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy.tokens import Doc

from ..annotation import TASKS
from .common import ConversionError, PathLike, read_lines
from .jsonl import _json_object, _JSONValueError
from .sessions import Judgement, TextDocs, report_counts

FORMAT_LABELSTUDIO = "labelstudio"
LABELSTUDIO_TASKS = TASKS
_USED_TYPES = ("choices", "labels")


def read_labelstudio(
    input_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> List[Doc]:
    """Read a Label Studio JSON export into one Doc per text.

    input_path (Union[str, Path]): The exported .json file.
    lang (str): Language code of the tokenizer.
    strict (bool): Raise on conflicting annotations and misaligned spans.
    exclusive (Optional[bool]): Whether a text has exactly one category. None:
        exclusive unless an annotation chooses several.
    RETURNS (List[Doc]): One document per annotated text.
    """
    input_path = Path(input_path)
    tasks = _load_tasks(input_path)
    annotated = [
        (task, annotation) for task in tasks for annotation in _annotations(task, input_path)
    ]
    kinds = {r.get("type") for _, a in annotated for r in a["result"] if isinstance(r, dict)}
    marks_entities = "labels" in kinds
    if exclusive is None:
        exclusive = not any(len(_chosen(a)) > 1 for _, a in annotated)
    counts = _counts(tasks, annotated)
    collected = TextDocs(input_path, lang, exclusive, strict)
    for task, annotation in annotated:
        where = _where(task, annotation)
        text = _text(task, where, input_path)
        judgement = _judge(annotation, Judgement(where), marks_entities, input_path)
        _check_span_texts(annotation, text, where, input_path)
        collected.add(text, judgement)
    report_counts(input_path, counts)
    return collected.docs()


def _where(task: Dict[str, Any], annotation: Dict[str, Any]) -> str:
    """The task by its id, and the annotation by its number where it has several."""
    where = f"task {task.get('id', '?')!r}"
    annotations = task.get("annotations", task.get("completions"))
    if len(annotations) > 1:
        where += f" annotation {next(i for i, a in enumerate(annotations, 1) if a is annotation)}"
    return where


def _load_tasks(path: Path) -> List[Dict[str, Any]]:
    text = "\n".join(line for _, line in read_lines(path))
    if not text.strip():
        raise ConversionError("the file is empty: expected Label Studio's JSON export.", path=path)
    try:
        tasks = json.loads(text, object_pairs_hook=_json_object)
    except _JSONValueError as err:
        raise ConversionError(str(err), path=path) from None
    except json.JSONDecodeError as err:
        raise ConversionError(
            f"invalid JSON ({err.msg}, column {err.colno}). Export the project as JSON "
            "(not JSON-MIN or CSV).",
            path=path,
            line=err.lineno,
        ) from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise ConversionError(
            'expected a JSON list of tasks, each an object with "data" and "annotations". '
            "Export the project as JSON.",
            path=path,
        )
    return tasks


def _annotations(task: Dict[str, Any], path: Path) -> List[Dict[str, Any]]:
    where = f"task {task.get('id', '?')!r}"
    if not isinstance(task.get("data"), dict):
        raise ConversionError(
            f'{where}: no "data" object (it has {", ".join(map(repr, list(task)[:8]))}). '
            "Export the project as JSON; JSON-MIN puts the text at the top and is not read.",
            path=path,
        )
    annotations = task.get("annotations", task.get("completions", []))
    if not isinstance(annotations, list) or not all(
        isinstance(a, dict) and isinstance(a.get("result"), list) for a in annotations
    ):
        raise ConversionError(
            f'{where}: "annotations" must be a list of objects with a "result" list.', path=path
        )
    return [a for a in annotations if not a.get("was_cancelled")]


def _counts(tasks, annotated) -> Dict[str, int]:
    with_annotation = {id(task) for task, _ in annotated}
    other = [
        r.get("type")
        for _, a in annotated
        for r in a["result"]
        if not isinstance(r, dict) or r.get("type") not in _USED_TYPES
    ]
    kinds = ", ".join(sorted({str(kind) for kind in other}))
    return {
        "tasks without an annotation (cancelled, or only predictions)": sum(
            id(task) not in with_annotation for task in tasks
        ),
        f"results of other types ({kinds})": len(other),
    }


def _text(task: Dict[str, Any], where: str, path: Path):
    data = task["data"]
    if "text" in data:
        return data["text"]
    strings = [key for key, value in data.items() if isinstance(value, str)]
    if len(strings) == 1:
        return data[strings[0]]
    raise ConversionError(
        f'{where}: its "data" has no "text" field (it has {", ".join(map(repr, data))}): '
        'name the text "text" in the labeling config ($text).',
        path=path,
    )


def _chosen(annotation: Dict[str, Any]) -> List[str]:
    chosen: List[str] = []
    for result in annotation["result"]:
        if isinstance(result, dict) and result.get("type") == "choices":
            choices = (result.get("value") or {}).get("choices")
            chosen.extend(choices if isinstance(choices, list) else [choices])
    return chosen


def _judge(annotation, judgement: Judgement, marks_entities: bool, path: Path) -> Judgement:
    has_choices = any(
        isinstance(r, dict) and r.get("type") == "choices" for r in annotation["result"]
    )
    if has_choices:
        chosen = _chosen(annotation)
        if not all(isinstance(c, str) and c.strip() for c in chosen):
            raise ConversionError(
                f"{judgement.where}: the choices {chosen!r} must be non-empty strings.", path=path
            )
        judgement.cats = {choice: 1.0 for choice in chosen}
        judgement.group = "choices"
    if marks_entities:
        judgement.spans = [
            _span(r.get("value"), judgement, path)
            for r in annotation["result"]
            if isinstance(r, dict) and r.get("type") == "labels"
        ]
    return judgement


def _check_span_texts(annotation, text, where: str, path: Path) -> None:
    """A span's own "text" must be what its offsets cut from the task's text."""
    for result in annotation["result"]:
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            continue
        start, end = value.get("start"), value.get("end")
        if isinstance(text, str) and isinstance(start, int) and isinstance(end, int):
            if 0 <= start < end <= len(text) and text[start:end] != value["text"]:
                raise ConversionError(
                    f"{where}: the span {start}..{end} reads {text[start:end]!r} in the "
                    f"text, but the result says {value['text']!r}: the offsets do not fit "
                    "this text (was it edited after annotating?).",
                    path=path,
                )


def _span(value, judgement: Judgement, path: Path):
    labels = value.get("labels") if isinstance(value, dict) else None
    if not isinstance(labels, list) or len(labels) != 1:
        raise ConversionError(
            f"{judgement.where}: a labels result needs a value with start, end and one label "
            f'in "labels", not {value!r}. A token has one entity label.',
            path=path,
        )
    return value.get("start"), value.get("end"), labels[0]
