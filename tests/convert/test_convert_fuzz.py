"""Property-based tests of every converter: valid corpora round-trip, corrupted ones fail well.

Each test draws a random valid corpus (joint, iob, jsonl or csv), maybe corrupts it, writes it
with random line endings, converts it to a .spacy file over a target that is absent or holds
earlier bytes, and checks:

- a valid input converts, and the DocBin read back has the same tokens, cats and spans;
- an invalid input raises the converter's ConversionError naming the file (and the line,
  where the problem has one), never another exception;
- the target is complete or untouched, no temporary file is left, no input is modified.

The annotation tools' exports (prodigy, labelstudio, rasa) are drawn valid, then edited with
hostile values (empty records, NaN, huge offsets, other types, conflicting answers, damaged
bytes): each converts to documents that make sense, or fails with a ConversionError naming
the file and the line or the task.

The budget is a hypothesis profile: "spacy_mtl_ci" (the default, a few hundred examples in
all) or "spacy_mtl_long" with SPACY_MTL_FUZZ=long (SPACY_MTL_FUZZ_EXAMPLES examples per test,
2000 by default). With SPACY_MTL_FUZZ_TALLY=path the outcomes are counted into a JSON file.
"""

import copy
import json
import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import pytest
import srsly
from fuzz_corpora import (
    ENDINGS,
    FILE_LEVEL,
    FORMATS,
    FUZZ,
    HUGE,
    TALLY,
    TOOL_FORMATS,
    Span3,
    check_error,
    check_tool_outcome,
    check_valid,
    encode,
    hostile_st,
    json_paths,
    run_case,
    set_path,
    summary,
    type_st,
)
from hypothesis import event, given
from hypothesis import strategies as st


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    path = os.environ.get("SPACY_MTL_FUZZ_TALLY")
    if path:
        Path(path).write_text(srsly.json_dumps(dict(TALLY), indent=2, sort_keys=True) + "\n")


# Properties


@FUZZ
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    data=st.data(),
    ending=st.sampled_from(ENDINGS),
    bom=st.booleans(),
    final=st.booleans(),
    old=st.sampled_from([None, b"earlier output"]),
)
def test_valid_corpus_round_trips(fmt, data, ending, bom, final, old):
    strategy, render, expect = FORMATS[fmt]
    corpus = data.draw(strategy)
    files = encode(render(corpus), ending, bom, final)
    check_valid(fmt, run_case(fmt, files, old, strict=True), expect(corpus))


@FUZZ
@given(fmt=st.sampled_from(sorted(FORMATS)), data=st.data(), mixed=st.lists(st.integers(0, 2)))
def test_mixed_line_endings_read_alike(fmt, data, mixed):
    strategy, render, expect = FORMATS[fmt]
    corpus = data.draw(strategy)
    files = {}
    for name, lines in render(corpus).items():
        ends = [ENDINGS[mixed[i % len(mixed)] if mixed else 0] for i in range(len(lines))]
        for i in range(1, len(lines)):
            # "\r" then an empty line ended by "\n" is one "\r\n": a line would vanish.
            if ends[i - 1] == "\r" and not lines[i] and ends[i] == "\n":
                ends[i] = "\r\n"
        files[name] = "".join(line + end for line, end in zip(lines, ends)).encode("utf-8")
    check_valid(fmt, run_case(fmt, files, None), expect(corpus))


def pick_line(data, lines: List[str], content: bool = True) -> int:
    """A random line index, of a non-blank line when `content`."""
    choices = [i for i, line in enumerate(lines) if line.strip() or not content]
    return data.draw(st.sampled_from(choices))


@FUZZ
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    data=st.data(),
    how=st.sampled_from(["latin-1 byte", "utf-16", "nul", "lone surrogate escape"]),
    ending=st.sampled_from(ENDINGS),
)
def test_bad_encoding_is_named(fmt, data, how, ending):
    strategy, render, _ = FORMATS[fmt]
    rendered = render(data.draw(strategy))
    name = data.draw(st.sampled_from(sorted(rendered)))
    lines = rendered[name]
    i = pick_line(data, lines)
    files = encode(rendered, ending, False, True)
    line = i + 1
    if how == "utf-16":
        files[name] = (ending.join(lines) + ending).encode("utf-16")
        line = 1
    elif how == "lone surrogate escape":
        if fmt != "jsonl":
            return
        lines = list(lines)
        lines[i] = lines[i].replace('"text": "', '"text": "\\ud800', 1)
        lines[i] = lines[i].replace('"tokens": ["', '"tokens": ["\\udfff', 1)
        files[name] = (ending.join(lines) + ending).encode("utf-8")
    else:
        bad = b"caf\xe9" if how == "latin-1 byte" else b"a\x00b"
        raw = [line.encode("utf-8") for line in lines]
        raw[i] = raw[i] + bad if fmt != "jsonl" else raw[i][:-1] + b', "x": "' + bad + b'"}'
        files[name] = ending.encode().join(raw) + ending.encode()
    check_error(fmt, run_case(fmt, files, b"earlier"), [name], line)


BAD_TAGS = ["X-foo", "B", "B-", "b-city", "PER", "-", "O-x", "I_x", "B--", "S"]


def ref_spans(tags: Sequence[str]) -> Optional[List[Span3]]:
    """The documented decoding of IOB2/BIOES/BILUO tags, repairs included; None if invalid."""
    spans, start, label = [], None, ""
    for i, tag in enumerate(tags):
        if tag == "O":
            if start is not None:
                spans.append((start, i, label))
            start = None
            continue
        prefix, _, kind = tag.partition("-")
        if prefix not in ("B", "I", "E", "L", "S", "U") or not kind:
            return None
        continues = prefix in ("I", "E", "L") and start is not None and label == kind
        if not continues:
            if start is not None:
                spans.append((start, i, label))
            start, label = i, kind
        if prefix in ("E", "L", "S", "U"):
            spans.append((start, i + 1, label))
            start = None
    if start is not None:
        spans.append((start, len(tags), label))
    return sorted(spans)


@FUZZ
@given(
    fmt=st.sampled_from(["joint", "iob"]),
    corpus=st.data(),
    new_tags=st.lists(
        st.one_of(
            st.sampled_from(BAD_TAGS),
            st.builds(lambda p, t: f"{p}-{t}", st.sampled_from("BIESUL"), type_st),
            st.just("O"),
        ),
        min_size=1,
        max_size=4,
    ),
    strict=st.booleans(),
)
def test_corrupted_tags(fmt, corpus, new_tags, strict):
    strategy, render, expect = FORMATS[fmt]
    drawn = corpus.draw(strategy)
    sentences = drawn["sentences"]
    s = corpus.draw(st.integers(0, len(sentences) - 1))
    words, tags, _ = sentences[s]
    tags = list(tags)
    positions = [corpus.draw(st.integers(0, len(tags) - 1)) for _ in new_tags]
    for position, tag in zip(positions, new_tags):
        tags[position] = tag
    spans = ref_spans(tags)
    sentences = list(sentences)
    sentences[s] = (words, tags, spans or [])
    drawn = {**drawn, "sentences": sentences}
    files = encode(render(drawn), "\n", False, True)
    expected = expect(drawn)
    outcome = run_case(fmt, files, None, strict=strict)
    name = "seq.out" if fmt == "joint" else "a.iob"
    ends = any(_marks_end(tag) for sentence in sentences for tag in sentence[1])
    # A corrupted end tag can break another sentence: an entity there now lacks its end tag.
    broken = [i for i, sentence in enumerate(sentences) if _needs_repair(sentence[1], ends)]
    if spans is None or (strict and broken):
        # The first sentence that raises: an unknown tag always, a repair when strict.
        first = min(([s] if spans is None else []) + (broken[:1] if strict else []))
        check_error(fmt, outcome, [name], first + 1 if fmt == "joint" else None)
    else:
        check_valid(fmt, outcome, expected)


def _marks_end(tag: str) -> bool:
    prefix, _, kind = tag.partition("-")
    return prefix in ("E", "L", "S", "U") and bool(kind)


def _needs_repair(tags: Sequence[str], ends: bool) -> bool:
    """A continuation that begins an entity; where the file marks ends, an entity without one."""
    start_label = None
    for tag in tags:
        prefix, _, kind = tag.partition("-")
        continues = prefix in ("I", "E", "L") and start_label == kind
        if ends and start_label is not None and not continues:
            return True
        if prefix in ("I", "E", "L") and not continues:
            return True
        start_label = None if tag == "O" or prefix in ("E", "L", "S", "U") else kind
    return ends and start_label is not None


@FUZZ
@given(fmt=st.sampled_from(sorted(FORMATS)), data=st.data(), ending=st.sampled_from(ENDINGS))
def test_column_counts(fmt, data, ending):
    strategy, render, expect = FORMATS[fmt]
    corpus = data.draw(strategy)
    rendered = render(corpus)
    expected = expect(corpus)
    if fmt == "joint":
        name = data.draw(st.sampled_from(["seq.in", "seq.out"]))
        i = pick_line(data, rendered[name])
        words = rendered[name][i].split(" ")
        if data.draw(st.booleans()) or len(words) == 1:
            words.append("O" if name == "seq.out" else "extra")
        else:
            words.pop()
        rendered[name][i] = " ".join(words)
        outcome = run_case(fmt, encode(rendered, ending, False, True), None)
        check_error(fmt, outcome, ["seq.out"], i + 1)
    elif fmt == "iob":
        lines = rendered["a.iob"]
        i = pick_line(data, [line if "-DOCSTART-" not in line else "" for line in lines])
        if data.draw(st.booleans()):
            lines[i] = lines[i].split(corpus["separator"])[0]
            check_error(
                fmt, run_case(fmt, encode(rendered, ending, False, True), None), ["a.iob"], i + 1
            )
        else:
            parts = lines[i].split(corpus["separator"])
            lines[i] = corpus["separator"].join(parts[:1] + ["EXTRA"] + parts[1:])
            outcome = run_case(fmt, encode(rendered, ending, False, True), None)
            check_error(fmt, outcome, [], allow_ok=expected)
    elif fmt == "csv":
        lines = rendered["a.csv"]
        i = data.draw(st.integers(1, len(lines) - 1))
        if data.draw(st.booleans()):
            lines[i] = lines[i] + ",extra"
        else:
            lines[i] = lines[i].split(",")[0] if not lines[i].startswith('"') else '"x"'
        outcome = run_case(fmt, encode(rendered, ending, False, True), None)
        check_error(fmt, outcome, ["a.csv"], i + 1)
    else:
        # jsonl has no columns: a record cut short is the nearest thing.
        lines = rendered["a.jsonl"]
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i]) - 1))]
        outcome = run_case(fmt, encode(rendered, ending, False, True), None)
        if not lines[i].strip():
            del corpus["records"][i]
            allow = expect(corpus) if corpus["records"] else None
            check_error(fmt, outcome, ["a.jsonl"], None, allow_ok=allow)
        else:
            check_error(fmt, outcome, ["a.jsonl"], i + 1)


@FUZZ
@given(fmt=st.sampled_from(sorted(FORMATS)), data=st.data(), ending=st.sampled_from(ENDINGS))
def test_empty_lines(fmt, data, ending):
    strategy, render, expect = FORMATS[fmt]
    corpus = data.draw(strategy)
    rendered = render(corpus)
    name = data.draw(st.sampled_from(sorted(rendered)))
    lines = rendered[name]
    i = data.draw(st.integers(0, len(lines)))
    blank = data.draw(st.sampled_from(["", " ", "\t", "  \t "]))
    lines.insert(i, blank)
    outcome = run_case(fmt, encode(rendered, ending, False, True), None)
    if fmt == "joint":
        at_end = all(not line.strip() for line in lines[i:])
        if at_end:
            check_valid(fmt, outcome, expect(corpus))
        else:
            check_error(fmt, outcome, [name], i + 1)
    elif fmt == "iob":
        # A blank line ends a sentence: the one it falls in splits in two.
        expected = [(words, {}, ref_spans(tags)) for words, tags in _split_iob(lines)]
        check_valid(fmt, outcome, expected)
    else:
        check_valid(fmt, outcome, expect(corpus))


def _split_iob(lines: Sequence[str]) -> List[Tuple[List[str], List[str]]]:
    sentences, words, tags = [], [], []
    for line in lines:
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        sentences.append((words, tags))
    return sentences


@FUZZ
@given(fmt=st.sampled_from(sorted(FORMATS)), data=st.data(), ending=st.sampled_from(ENDINGS))
def test_huge_lines(fmt, data, ending):
    strategy, render, expect = FORMATS[fmt]
    corpus = data.draw(strategy)
    word = "w" * data.draw(st.sampled_from([HUGE, HUGE * 3]))
    if fmt in ("joint", "iob"):
        s = data.draw(st.integers(0, len(corpus["sentences"]) - 1))
        words, tags, spans = corpus["sentences"][s]
        corpus["sentences"][s] = ([word] + words[1:], tags, spans)
    elif fmt == "jsonl":
        record = corpus["records"][0]
        record["tokens"], record["text"] = [word, "end"], None
    else:
        corpus["records"][0]["text"] = word + " end"
    outcome = run_case(fmt, encode(render(corpus), ending, False, True), None)
    if fmt == "csv":
        # Longer than the csv module's field limit: named as such, with its line.
        check_error(fmt, outcome, ["a.csv"], 2)
    else:
        check_valid(fmt, outcome, expect(corpus))


@FUZZ
@given(
    fmt=st.sampled_from(sorted(FORMATS)),
    data=st.data(),
    ending=st.sampled_from(ENDINGS),
    how=st.sampled_from(["truncate", "flip", "insert", "delete line"]),
)
def test_random_damage_is_an_error_or_converts_cleanly(fmt, data, ending, how):
    """Damage with no single right answer: an error that names the file, or a conversion
    whose output holds no line break or NUL in a token, label or entity type."""
    strategy, render, _ = FORMATS[fmt]
    files = encode(render(data.draw(strategy)), ending, False, True)
    name = data.draw(st.sampled_from(sorted(files)))
    raw = bytearray(files[name])
    if how == "delete line":
        lines = bytes(raw).split(ending.encode())
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        raw = bytearray(ending.encode().join(lines))
    elif not raw:
        return
    else:
        at = data.draw(st.integers(0, len(raw) - 1))
        if how == "truncate":
            del raw[at:]
        elif how == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    files[name] = bytes(raw)
    TALLY["tried"] += 1
    kind, value = run_case(fmt, files, b"earlier")
    if kind == "error":
        message = str(value)
        assert value.path is not None and message.startswith(value.path), message
        assert value.line is not None or any(p in message for p in FILE_LEVEL), message
        TALLY["good error"] += 1
        event(f"{fmt}: {how}: good error")
        return
    for _, cats, ents in summary(value):
        for label in list(cats) + [label for _, _, label in ents or []]:
            if any(c in label for c in "\r\n\x00"):
                TALLY["silent wrong"] += 1
                raise AssertionError(f"the label {label!r} holds a line break or NUL")
    TALLY["damaged, converted cleanly"] += 1
    event(f"{fmt}: {how}: converted")


# The annotation tools' exports


JSON_TOOLS = ["prodigy", "labelstudio"]


def tool_files(fmt: str, corpus) -> dict:
    return encode(TOOL_FORMATS[fmt][1](corpus), "\n", False, True)


@FUZZ
@given(fmt=st.sampled_from(sorted(TOOL_FORMATS)), data=st.data())
def test_valid_tool_exports_convert(fmt, data):
    corpus = data.draw(TOOL_FORMATS[fmt][0])
    kind, value = outcome = run_case(fmt, tool_files(fmt, corpus), None)
    # Every answer rejected, ignored or cancelled: nothing to convert, and it says so.
    if kind == "error":
        assert "no annotated documents" in str(value), value
    check_tool_outcome(fmt, outcome, next(iter(tool_files(fmt, corpus))))


@FUZZ
@given(
    fmt=st.sampled_from(JSON_TOOLS),
    data=st.data(),
    edits=st.lists(
        st.sampled_from(["replace", "delete", "empty", "conflict"]), min_size=1, max_size=3
    ),
    strict=st.booleans(),
)
def test_hostile_json_exports_fail_well(fmt, data, edits, strict):
    """Prodigy records and Label Studio tasks with fields replaced by hostile values, deleted,
    emptied or answered twice, differently."""
    strategy, render = TOOL_FORMATS[fmt]
    corpus = copy.deepcopy(list(data.draw(strategy)))
    # Conflicts first: a twin is the same task answered otherwise, before other edits.
    for edit in sorted(edits, key=lambda edit: edit != "conflict"):
        i = data.draw(st.integers(0, len(corpus) - 1))
        if edit == "empty":
            corpus[i] = data.draw(st.sampled_from([{}, [], None, "x", {"text": ""}, {"data": {}}]))
        elif edit == "conflict":
            twin = json.loads(json.dumps(corpus[i]))
            if isinstance(twin, dict):
                twin = _answered_otherwise(twin)
            corpus.insert(data.draw(st.integers(0, len(corpus))), twin)
        else:
            paths = [path for path in json_paths(corpus[i]) if path or edit == "replace"]
            if not paths:
                continue
            path = data.draw(st.sampled_from(paths))
            value = data.draw(hostile_st) if edit == "replace" else None
            corpus[i] = set_path(corpus[i], path, value, delete=edit == "delete")
        event(f"{fmt}: {edit}")
    files = encode(render(corpus), "\n", False, True)
    check_tool_outcome(fmt, run_case(fmt, files, b"earlier", strict=strict), next(iter(files)))


def _answered_otherwise(record: dict) -> dict:
    """The same task answered differently: another choice, answer or entity."""
    if "answer" in record:
        flipped = {"accept": "reject", "reject": "accept"}.get(record["answer"], "accept")
        record["answer"] = flipped
        if isinstance(record.get("accept"), list):
            record["accept"] = ["hotel"] if record["accept"] != ["hotel"] else ["flight"]
            record["answer"] = "accept"
        return record
    for annotation in record.get("annotations") or []:
        for result in annotation.get("result") or []:
            value = result.get("value") or {}
            if "choices" in value:
                value["choices"] = ["hotel"] if value["choices"] != ["hotel"] else ["flight"]
            if "start" in value:
                value["start"] = max(0, value["start"] - 1)
    return record


RASA_LINES = [
    "oops",
    "-",
    "- [x](",
    "- [x]()",
    "- [](city)",
    "- [x]{bad json}",
    '- [x]{"entity": NaN}',
    '- [x]{"entity": 5}',
    '- [x]{"entity": "city", "role": "from"}',
    '- [x][{"entity": "city"}]',
    "- [x](city:)",
    "- [ a ](city) b",
    "- " + "w" * 1000,
    "- [a](city)[b](city)",
    "- \u200b",
]
RASA_SCALARS = ["", "null", "~", ".nan", ".inf", "-1", "1e400", "[]", "{}", "[1, 2]", "{a: 1}"]
RASA_SCALARS += ["true", "'x'", "&a x", "*a", "!!binary aGk=", "- text: [1]", "[- x]", "|"]


@FUZZ
@given(
    data=st.data(),
    edits=st.lists(
        st.sampled_from(["line", "intent", "examples", "conflict", "item"]), min_size=1, max_size=3
    ),
    strict=st.booleans(),
)
def test_hostile_rasa_files_fail_well(data, edits, strict):
    """Rasa items with broken example lines and markup, hostile YAML values, an example under
    two intents, items of other kinds."""
    items = copy.deepcopy(data.draw(TOOL_FORMATS["rasa"][0]))
    for edit in edits:
        item = data.draw(st.sampled_from(items))
        if edit == "line" and isinstance(item["examples"], list):
            at = data.draw(st.integers(0, len(item["examples"])))
            item["examples"].insert(at, data.draw(st.sampled_from(RASA_LINES)))
        elif edit in ("intent", "examples"):
            item[edit] = data.draw(st.sampled_from(RASA_SCALARS))
        elif edit == "conflict" and isinstance(item["examples"], list) and item["examples"]:
            other = {"intent": "other", "examples": [data.draw(st.sampled_from(item["examples"]))]}
            items.append(other)
        elif edit == "item":
            items.append({"intent": data.draw(st.sampled_from(RASA_SCALARS)), "examples": "x"})
        event(f"rasa: {edit}")
    files = encode(TOOL_FORMATS["rasa"][1](items), "\n", False, True)
    check_tool_outcome("rasa", run_case("rasa", files, None, strict=strict), "nlu.yml")


@FUZZ
@given(
    fmt=st.sampled_from(sorted(TOOL_FORMATS)),
    data=st.data(),
    how=st.sampled_from(["truncate", "flip", "insert", "delete line"]),
)
def test_damaged_tool_exports_fail_well(fmt, data, how):
    files = tool_files(fmt, data.draw(TOOL_FORMATS[fmt][0]))
    name = next(iter(files))
    raw = bytearray(files[name])
    if how == "delete line":
        lines = bytes(raw).split(b"\n")
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        raw = bytearray(b"\n".join(lines))
    else:
        at = data.draw(st.integers(0, len(raw) - 1))
        if how == "truncate":
            del raw[at:]
        elif how == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    files[name] = bytes(raw)
    check_tool_outcome(fmt, run_case(fmt, files, b"earlier"), name)
