"""Rasa NLU training data (YAML, Rasa 3), read without Rasa.

::

    nlu:
    - intent: book_flight
      examples: |
        - fly from [berlin](from_city) to [oslo]{"entity": "to_city"}

Each example is a document with its intent (exclusive categories: every intent of the file,
1.0 for its own) and its entities, ``[text](type)`` or ``[text]{"entity": type}``, every
other token "O". Examples may also be a list of ``- text: ...`` items. An entity's
``role`` or ``group`` is not supported (the entity is kept under its type, with a warning);
a synonym's ``value``, and ``synonym``, ``regex`` and ``lookup`` items, are not used and
counted in a warning. A line of an ``examples: |`` block that does not begin with ``-`` is
skipped with a warning naming it, as Rasa skips it (an error when strict). Errors name the
file and the line of the example.
"""

import json
import re
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml
from spacy.tokens import Doc

from ..annotation import TASK_ENTS, TASKS
from .common import ConversionError, ConversionWarning, PathLike, lines_shown, read_lines
from .sessions import Judgement, TextDocs, report_counts

FORMAT_RASA = "rasa"
RASA_TASKS = TASKS
# Rasa's entity markup: [text](type), [text](type:value), [text]{"entity": ...}, [text][{...}].
_ENTITY = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<short>[^)]*)\)|(?P<dict>\{[^}]*\})|\[)")
_UNUSED_ITEMS = ("synonym", "regex", "lookup")


def read_rasa(
    input_path: PathLike,
    *,
    lang: str = "en",
    tasks: Sequence[str] = RASA_TASKS,
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> List[Doc]:
    """Read a Rasa NLU YAML file into one Doc per example text.

    input_path (Union[str, Path]): The YAML file (e.g. data/nlu.yml).
    lang (str): Language code of the tokenizer.
    tasks (Sequence[str]): The tasks to keep; a task left out stays missing.
    strict (bool): Raise on roles, groups, lines of an examples block without "- ",
        conflicting intents and misaligned entities.
    exclusive (Optional[bool]): False keeps an intent per document but masks
        the others (multi-label); None or True: one intent per document.
    RETURNS (List[Doc]): One document per example.
    """
    input_path = Path(input_path)
    root = _compose(input_path)
    counts: Dict[str, int] = {f"{kind} items": 0 for kind in _UNUSED_ITEMS}
    counts["synonym values of entities"] = 0
    roles: List[int] = []
    unmarked: List[Tuple[int, str]] = []
    collected = TextDocs(input_path, lang, exclusive is not False, strict, tasks)
    for intent, line, example in _examples(root, input_path, counts, unmarked):
        text, spans, notes = parse_example(example, input_path, line)
        if TASK_ENTS in tasks:
            roles.extend([line] * notes.count("role"))
            counts["synonym values of entities"] += notes.count("value")
        judgement = Judgement(f"line {line}", line, {intent: 1.0}, "intent", spans)
        collected.add(text, judgement)
    if unmarked:
        _skipped(input_path, unmarked, strict)
    if roles:
        _unsupported(input_path, roles, strict)
    report_counts(input_path, counts)
    return collected.docs()


def _compose(path: Path) -> yaml.Node:
    text = "\n".join(line for _, line in read_lines(path))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise ConversionError(
            f"invalid YAML: {err.problem or err.context}.",
            path=path,
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        raise ConversionError(
            f"invalid YAML: the control character U+{err.character:04X} at column {column}, "
            "which YAML does not allow in a file. Delete it.",
            path=path,
            line=line,
        ) from None
    except yaml.YAMLError as err:
        raise ConversionError(f"invalid YAML: {err}.", path=path) from None
    nlu = _value(root, "nlu") if isinstance(root, yaml.MappingNode) else None
    if not isinstance(nlu, yaml.SequenceNode):
        raise ConversionError(
            'no "nlu:" list: expected Rasa NLU training data (nlu: - intent: NAME '
            "examples: | ...). Stories, rules and the domain hold no examples.",
            path=path,
            line=(root.start_mark.line + 1) if root is not None else None,
        )
    return nlu


def _value(node: yaml.MappingNode, key: str) -> Optional[yaml.Node]:
    found = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key]
    return found[0] if found else None


def _examples(
    nlu: yaml.SequenceNode, path: Path, counts, unmarked: List[Tuple[int, str]]
) -> Iterator[Tuple[str, int, str]]:
    """(intent, line, example) of every example of every intent item.

    Lines of an examples block without the leading "-" go to `unmarked` as (line, text).
    """
    for item in nlu.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise ConversionError(
                "an nlu item must be a mapping (- intent: ...).", path=path, line=line
            )
        kind = next((k for k in ("intent", *_UNUSED_ITEMS) if _value(item, k)), None)
        if kind is None:
            raise ConversionError(
                "an nlu item without intent, synonym, regex or lookup.", path=path, line=line
            )
        if kind != "intent":
            counts[f"{kind} items"] += 1
            continue
        intent = _scalar(_value(item, "intent"), path, "the intent")
        examples = _value(item, "examples")
        if examples is None:
            raise ConversionError(f"the intent {intent!r} has no examples.", path=path, line=line)
        for at, example in _example_lines(examples, path, unmarked):
            yield intent, at, example


def _scalar(node: yaml.Node, path: Path, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not node.value.strip():
        raise ConversionError(
            f"{what} must be a non-empty string.", path=path, line=node.start_mark.line + 1
        )
    return node.value.strip()


def _example_lines(
    node: yaml.Node, path: Path, unmarked: List[Tuple[int, str]]
) -> Iterator[Tuple[int, str]]:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            text = _value(item, "text") if isinstance(item, yaml.MappingNode) else None
            if text is None:
                raise ConversionError(
                    "an example of the list form needs its text (- text: ...).",
                    path=path,
                    line=item.start_mark.line + 1,
                )
            yield text.start_mark.line + 1, _scalar(text, path, "the example")
        return
    value = _scalar(node, path, "examples")
    # A literal block (|) keeps its lines: line i of the value is line i after the "|".
    first = node.start_mark.line + (2 if node.style == "|" else 1)
    for i, raw in enumerate(value.split("\n")):
        if not raw.strip():
            continue
        at = first + i if node.style == "|" else first
        stripped = raw.strip()
        if not stripped.startswith("-"):
            unmarked.append((at, stripped))
            continue
        yield at, stripped[1:].strip()


def parse_example(example: str, path: Path, line: int) -> Tuple[str, List, List[str]]:
    """The plain text of an example, its entities, and what was not used ("role", "value").

    example (str): The example with Rasa's entity markup.
    path (Path): The file, for errors.
    line (int): The example's line, for errors.
    RETURNS (Tuple[str, List[Tuple[int, int, str]], List[str]]): The text, the
        entities as character offsets, and one note per role, group or synonym value.
    """
    text, spans, notes, at = "", [], [], 0
    for match in _ENTITY.finditer(example):
        text += example[at : match.start()]
        start = len(text)
        text += match.group("text")
        label, note = _entity(match, path, line)
        spans.append((start, len(text), label))
        notes.extend(note)
        at = match.end()
    text += example[at:]
    if not text.strip():
        raise ConversionError("an empty example.", path=path, line=line)
    return text, spans, notes


def _entity(match: re.Match, path: Path, line: int) -> Tuple[str, List[str]]:
    if match.group("short") is not None:
        label, _, value = match.group("short").partition(":")
        return _label(label, match, path, line), ["value"] if value else []
    if match.group("dict") is None:
        raise ConversionError(
            f"the entity {match.group(0)!r} lists several entities ([text][{{...}}, ...]), "
            "which is not supported: a token has one entity label. Keep one.",
            path=path,
            line=line,
        )
    try:
        entity = json.loads(match.group("dict"))
    except json.JSONDecodeError as err:
        raise ConversionError(
            f"the entity {match.group(0)!r} is not valid JSON ({err.msg}).", path=path, line=line
        ) from None
    if not isinstance(entity, dict):
        raise ConversionError(
            f"the entity {match.group(0)!r} is not an object.", path=path, line=line
        )
    notes = ["role"] if "role" in entity or "group" in entity else []
    notes += ["value"] if "value" in entity else []
    return _label(entity.get("entity"), match, path, line), notes


def _label(label: Any, match: re.Match, path: Path, line: int) -> str:
    if not isinstance(label, str) or not label.strip():
        raise ConversionError(
            f"the entity {match.group(0)!r} has no entity type: write [text](type) or "
            '[text]{"entity": "type"}.',
            path=path,
            line=line,
        )
    return label.strip()


def _skipped(path: Path, unmarked: List[Tuple[int, str]], strict: bool) -> None:
    first_line, first = unmarked[0]
    if strict:
        raise ConversionError(
            f"an example must begin with '- ', not {first[:40]!r}. Add the '- ', or delete "
            "the line.",
            path=path,
            line=first_line,
        )
    lines = lines_shown([line for line, _ in unmarked])
    warnings.warn(
        f"{path}: {len(unmarked)} lines of an examples block do not begin with '- ' and are "
        f"skipped, as Rasa skips them ({lines}: {first[:40]!r}"
        f"{', ...' if len(unmarked) > 1 else ''}); convert in strict mode to stop here instead.",
        ConversionWarning,
        stacklevel=3,
    )


def _unsupported(path: Path, lines: List[int], strict: bool) -> None:
    message = (
        f"{len(lines)} entities have a role or group ({lines_shown(sorted(set(lines)))}), "
        "which spacy-mtl's NER does not model: each is kept under its entity type"
    )
    if strict:
        raise ConversionError(f"{message}. Remove the roles and groups.", path=path, line=lines[0])
    warnings.warn(f"{path}: {message}.", ConversionWarning, stacklevel=3)
