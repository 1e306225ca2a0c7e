"""Property-based tests of every converter: valid corpora round-trip, corrupted ones fail well.

Each test draws a random valid corpus (joint, iob, jsonl or csv), maybe corrupts it, writes it
with random line endings, converts it to a .spacy file over a target that is absent or holds
earlier bytes, and checks:

- a valid input converts, and the DocBin read back has the same tokens, cats and spans;
- an invalid input raises the converter's ConversionError naming the file (and the line,
  where the problem has one), never another exception;
- the target is complete or untouched, no temporary file is left, no input is modified.

The budget is a hypothesis profile: "spacy_mtl_ci" (the default, a few hundred examples in
all) or "spacy_mtl_long" with SPACY_MTL_FUZZ=long (SPACY_MTL_FUZZ_EXAMPLES examples per test,
2000 by default). With SPACY_MTL_FUZZ_TALLY=path the outcomes are counted into a JSON file.
"""

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
    Span3,
    check_error,
    check_valid,
    encode,
    run_case,
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
