"""Label Studio's JSON export, read into Docs.

The export is one JSON list of tasks: ``{"id": 17, "data": {"text": ...}, "annotations":
[{"result": [...], "was_cancelled": false}, ...]}``. Each annotation that was not cancelled
judges its task's text: a ``choices`` result gives its categories, ``labels`` results its
entities as character offsets (``value.start``, ``value.end``, ``value.labels``), trimmed of
the blanks an annotator's selection often takes in ("Boston "). In a project that marks
entities (some annotation has a ``labels`` result) an annotation without one says "no
entities here"; an annotation without ``choices`` leaves the categories missing, and one
that judges neither (an image's boxes) makes no document. Predictions are not annotations
and are not read. Several annotations of one task merge, and disagreements are reported
(sessions.py). Errors name the task by its id.

Which ``data`` key holds the text is the labeling config's business (``<Text name="text"
value="$text"/>``), and the export does not carry the config. The results say it instead:
their ``to_name`` names the object they annotate, which in Label Studio's templates is the
data key too, and a ``labels`` result's offsets and ``text`` fit only its own text; failing
those, the key ``text``. A value that is a URL (an image, audio, a file) is never the text.
``text_key`` (``--text-key``) names the key where none of this finds it.
"""

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc

from ..annotation import TASKS
from .common import ConversionError, PathLike, read_lines
from .jsonl import _json_object, _JSONValueError
from .sessions import CharSpan, Judgement, TextDocs, report_counts

FORMAT_LABELSTUDIO = "labelstudio"
LABELSTUDIO_TASKS = TASKS
_USED_TYPES = ("choices", "labels")
# A data value that addresses a file (Label Studio's uploads live under /data/), not text.
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|/data/|data:[a-z]+/)\S*$", re.IGNORECASE)
_BLANK_SPANS = "entities that select only blanks"


def read_labelstudio(
    input_path: PathLike,
    *,
    lang: str = "en",
    tasks: Sequence[str] = LABELSTUDIO_TASKS,
    strict: bool = False,
    exclusive: Optional[bool] = None,
    text_key: Optional[str] = None,
) -> List[Doc]:
    """Read a Label Studio JSON export into one Doc per text.

    input_path (Union[str, Path]): The exported .json file.
    lang (str): Language code of the tokenizer.
    tasks (Sequence[str]): The tasks to keep; a task left out stays missing.
    strict (bool): Raise on conflicting annotations and misaligned spans.
    exclusive (Optional[bool]): Whether a text has exactly one category. None:
        exclusive unless an annotation chooses several.
    text_key (Optional[str]): The data key of the text (the labeling config's
        value="$KEY"); None finds it from the results.
    RETURNS (List[Doc]): One document per annotated text.
    """
    input_path = Path(input_path)
    exported = _load_tasks(input_path)
    annotated = [
        (task, annotation) for task in exported for annotation in _annotations(task, input_path)
    ]
    marks_entities = any(_type(r) == "labels" for _, a in annotated for r in a["result"])
    if exclusive is None:
        exclusive = not any(len(_chosen(a)) > 1 for _, a in annotated)
    counts = _counts(exported, annotated)
    counts[_BLANK_SPANS] = 0
    collected = TextDocs(input_path, lang, exclusive, strict, tasks)
    for task, annotation in annotated:
        where = _where(task, annotation)
        judgement = _judge(annotation, Judgement(where), marks_entities, input_path)
        if not collected.keep(judgement):
            continue
        text = _text(task, annotation, text_key, where, input_path)
        _check_span_texts(annotation, text, where, input_path)
        if judgement.spans and isinstance(text, str):
            trimmed = [_trim(span, text) for span in judgement.spans]
            judgement.spans = [span for span in trimmed if span is not None]
            counts[_BLANK_SPANS] += len(trimmed) - len(judgement.spans)
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
        tasks = json.loads(text, object_pairs_hook=_flagged_object)
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
    for task in tasks:
        flaw = _flaw(task)
        if flaw is not None:
            raise ConversionError(f"task {task.get('id', '?')!r}: {flaw}", path=path)
    return tasks


class _Flagged(dict):
    """A JSON object that parses but means nothing sure, and why (jsonl's checks)."""

    flaw = ""


def _flagged_object(pairs):
    # The parser cannot say where an object lies: it is flagged, and named by its task.
    try:
        return _json_object(pairs)
    except _JSONValueError as err:
        flagged = _Flagged(pairs)
        flagged.flaw = str(err)
        return flagged


def _flaw(value) -> Optional[str]:
    """The first flaw of a flagged object inside a JSON value, if any."""
    if isinstance(value, _Flagged):
        return value.flaw
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return next((flaw for flaw in map(_flaw, items) if flaw is not None), None)


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
        _type(r) if isinstance(r, dict) else f"a {type(r).__name__}, not a result"
        for _, a in annotated
        for r in a["result"]
        if _type(r) not in _USED_TYPES
    ]
    kinds = ", ".join(sorted({str(kind) for kind in other}))
    return {
        "tasks without an annotation (cancelled, or only predictions)": sum(
            id(task) not in with_annotation for task in tasks
        ),
        f"results of other types ({kinds})": len(other),
    }


def _text(task: Dict[str, Any], annotation, text_key: Optional[str], where: str, path: Path):
    """The task's text: data[text_key], or the data key its results point into."""
    data = task["data"]
    keys = ", ".join(map(repr, list(data)[:8])) or "no keys"
    if text_key is not None:
        if text_key not in data:
            raise ConversionError(
                f'{where}: its "data" has no {text_key!r} (it has {keys}). Give --text-key '
                'the data key of the text: $KEY in the labeling config\'s <Text value="$KEY"/>.',
                path=path,
            )
        key = text_key
    else:
        key = _text_key(data, annotation["result"])
    if key is None:
        raise ConversionError(
            f'{where}: no text to convert: its "data" has {keys}, no "text", and no result '
            "points into a text. Convert the export of a text project, or name the data key "
            "of the text with --text-key KEY ($KEY in the labeling config's "
            '<Text value="$KEY"/>).',
            path=path,
        )
    value = data[key]
    if isinstance(value, str) and _URL.match(value.strip()):
        raise ConversionError(
            f"{where}: data[{key!r}] is {value[:60]!r}, a URL (an image, audio or other file), "
            "not a text: this is not the export of a text project. Convert a project whose "
            'labeling config has <Text name=... value="$KEY"/>, naming KEY with --text-key '
            "if it is not found.",
            path=path,
        )
    return value


def _text_key(data: Dict[str, Any], results: List[Any]) -> Optional[str]:
    """The data key the results annotate, as far as the export shows it; None if unknown."""
    named: List[str] = []
    for result in results:
        if _type(result) not in _USED_TYPES:
            continue
        source = result.get("source")
        for name in (result.get("to_name"), source[1:] if isinstance(source, str) else None):
            if isinstance(name, str) and name in data and name not in named:
                named.append(name)
    if "text" in data and "text" not in named:
        named.append("text")
    cut = [_cut(r.get("value")) for r in results if _type(r) == "labels"]
    cut = [c for c in cut if c is not None]

    def fits(key: str) -> bool:
        value = data[key]
        return isinstance(value, str) and all(value[s:e] == t for s, e, t in cut)

    fitting = [key for key in named if fits(key)]
    if fitting:
        return fitting[0]
    if cut:
        # The offsets and the selected text fit one string of the data: that is the text.
        others = [key for key in data if key not in named and fits(key)]
        if len(others) == 1:
            return others[0]
    return named[0] if named else None


def _cut(value) -> Optional[Tuple[int, int, str]]:
    """A labels value's offsets and the text it says they select, if it has all three."""
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    start, end = value.get("start"), value.get("end")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        return None
    return start, end, value["text"]


def _trim(span: CharSpan, text: str) -> Optional[CharSpan]:
    """A span without the blanks at its edges; None if it selects only blanks."""
    start, end, label = span
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        return span
    if not 0 <= start < end <= len(text):
        return span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end, label) if start < end else None


def _type(result) -> Optional[str]:
    """A result's type ("choices", "labels", "rectanglelabels"...), None if it has none."""
    kind = result.get("type") if isinstance(result, dict) else None
    return kind if isinstance(kind, str) else None


def _chosen(annotation: Dict[str, Any]) -> List[str]:
    chosen: List[str] = []
    for result in annotation["result"]:
        if _type(result) == "choices":
            value = result.get("value")
            choices = value.get("choices") if isinstance(value, dict) else None
            chosen.extend(choices if isinstance(choices, list) else [choices])
    return chosen


def _judge(annotation, judgement: Judgement, marks_entities: bool, path: Path) -> Judgement:
    has_choices = any(_type(r) == "choices" for r in annotation["result"])
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
            if _type(r) == "labels"
        ]
    return judgement


def _check_span_texts(annotation, text, where: str, path: Path) -> None:
    """A span's own "text" must be what its offsets cut from the task's text."""
    for result in annotation["result"]:
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            continue
        start, end = value.get("start"), value.get("end")
        if isinstance(text, str) and _cut(value) is not None:
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
