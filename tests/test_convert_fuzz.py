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

import codecs
import csv
import io
import json
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest
import spacy
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin
from spacy.util import make_tempdir
from spacy.vocab import Vocab

from spacy_mtl.atomic import PARTIAL_SUFFIX
from spacy_mtl.convert import ConversionError, convert

settings.register_profile(
    "spacy_mtl_ci",
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "spacy_mtl_long",
    max_examples=int(os.environ.get("SPACY_MTL_FUZZ_EXAMPLES", "2000")),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile(
    "spacy_mtl_long" if os.environ.get("SPACY_MTL_FUZZ") == "long" else "spacy_mtl_ci"
)

TALLY: Counter = Counter()

# A problem of the whole file, which has no line to name.
FILE_LEVEL = ("no documents", "no category labels")
ENDINGS = ("\n", "\r\n", "\r")
HUGE = 200_000

Span3 = Tuple[int, int, str]
# (tokens, cats, ents) of each document; ents None where entities are missing.
Expected = List[Tuple[List[str], Dict[str, float], Optional[List[Span3]]]]


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    path = os.environ.get("SPACY_MTL_FUZZ_TALLY")
    if path:
        Path(path).write_text(json.dumps(dict(TALLY), indent=2, sort_keys=True) + "\n")


# Strategies


# No blanks, line breaks or controls: those separate tokens and lines.
TOKEN_CHARS = st.characters(
    blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="\ufeff"
)
tokens_st = st.text(TOKEN_CHARS, min_size=1, max_size=6).filter(lambda t: t != "-DOCSTART-")
label_st = st.text("abcdefgxyzABC_#.0123", min_size=1, max_size=5)
type_st = st.text("abcXYZ_", min_size=1, max_size=4)


@st.composite
def tagged_sentence(draw) -> Tuple[List[str], List[str], List[Span3]]:
    """Tokens, their tags in a random scheme, and the entity spans the tags encode."""
    words = draw(st.lists(tokens_st, min_size=1, max_size=8))
    scheme = draw(st.sampled_from(["IOB2", "BIOES", "BILUO"]))
    spans: List[Span3] = []
    tags = ["O"] * len(words)
    i = 0
    while i < len(words):
        length = draw(st.integers(0, 3))
        if length and i + length <= len(words):
            label = draw(type_st)
            spans.append((i, i + length, label))
            for j in range(i, i + length):
                tags[j] = f"I-{label}"
            tags[i] = f"B-{label}"
            if scheme != "IOB2":
                single, last = ("S", "E") if scheme == "BIOES" else ("U", "L")
                if length == 1:
                    tags[i] = f"{single}-{label}"
                else:
                    tags[i + length - 1] = f"{last}-{label}"
            i += length
        else:
            i += 1
    return words, tags, spans


@st.composite
def joint_corpus(draw):
    sentences = draw(st.lists(tagged_sentence(), min_size=1, max_size=6))
    labels = [draw(label_st) for _ in sentences]
    return {"sentences": sentences, "labels": labels}


@st.composite
def iob_corpus(draw):
    return {
        "sentences": draw(st.lists(tagged_sentence(), min_size=1, max_size=6)),
        "docstart": draw(st.booleans()),
        "middle": draw(st.integers(0, 2)),
        "separator": draw(st.sampled_from(["\t", " ", "  "])),
    }


TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00\ufeff")


@st.composite
def text_record(draw):
    """A jsonl/csv document: text (tokenized) or given tokens, and its labels."""
    if draw(st.booleans()):
        text = draw(st.text(TEXT_CHARS, min_size=1, max_size=30).filter(str.strip))
        given = None
    else:
        text = None
        given = draw(st.lists(tokens_st, min_size=1, max_size=6))
    return {"text": text, "tokens": given}


@st.composite
def categories_corpus(draw, allow_tokens: bool):
    records = draw(st.lists(text_record(), min_size=1, max_size=6))
    if not allow_tokens:
        for record in records:
            if record["text"] is None:
                record["text"] = " ".join(record["tokens"])
                record["tokens"] = None
    multi = draw(st.booleans())
    for record in records:
        if multi:
            record["labels"] = sorted(set(draw(st.lists(label_st, max_size=3))))
        else:
            record["labels"] = [draw(label_st)]
    if not any(record["labels"] for record in records):
        records[0]["labels"] = [draw(label_st)]
    return {"records": records, "multi": multi}


# Rendering: corpus -> {file name: lines}, and the documents it should give


def render_joint(corpus) -> Dict[str, List[str]]:
    return {
        "seq.in": [" ".join(words) for words, _, _ in corpus["sentences"]],
        "seq.out": [" ".join(tags) for _, tags, _ in corpus["sentences"]],
        "label": list(corpus["labels"]),
    }


def render_iob(corpus) -> Dict[str, List[str]]:
    sep = corpus["separator"]
    lines = ["-DOCSTART- -X- O", ""] if corpus["docstart"] else []
    for words, tags, _ in corpus["sentences"]:
        for word, tag in zip(words, tags):
            lines.append(sep.join([word] + ["X"] * corpus["middle"] + [tag]))
        lines.append("")
    return {"a.iob": lines}


def render_jsonl(corpus) -> Dict[str, List[str]]:
    lines = []
    for record in corpus["records"]:
        obj = {"text": record["text"]} if record["text"] is not None else {}
        if record["tokens"] is not None:
            obj["tokens"] = record["tokens"]
        if corpus["multi"]:
            obj["labels"] = record["labels"]
        else:
            obj["label"] = record["labels"][0]
        lines.append(json.dumps(obj, ensure_ascii=False))
    return {"a.jsonl": lines}


def render_csv(corpus) -> Dict[str, List[str]]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "Text", "Labels" if corpus["multi"] else "label"])
    for i, record in enumerate(corpus["records"]):
        writer.writerow([i, record["text"], "|".join(record["labels"])])
    return {"a.csv": buffer.getvalue().split("\n")[:-1]}


def expect_tagged(sentences, labels: Optional[Sequence[str]]) -> Expected:
    all_labels = sorted(set(labels)) if labels is not None else []
    expected = []
    for i, (words, _, spans) in enumerate(sentences):
        cats = {name: float(name == labels[i]) for name in all_labels} if labels else {}
        expected.append((list(words), cats, sorted(spans)))
    return expected


def expect_categories(corpus) -> Expected:
    tokenizer = TOKENIZER
    all_labels = sorted({label for record in corpus["records"] for label in record["labels"]})
    expected = []
    for record in corpus["records"]:
        if record["tokens"] is not None:
            words = list(record["tokens"])
        else:
            words = [t.text for t in tokenizer(record["text"])]
        cats = {name: float(name in record["labels"]) for name in all_labels}
        expected.append((words, cats, None))
    return expected


TOKENIZER = spacy.blank("en").tokenizer

FORMATS = {
    "joint": (joint_corpus(), render_joint, lambda c: expect_tagged(c["sentences"], c["labels"])),
    "iob": (iob_corpus(), render_iob, lambda c: expect_tagged(c["sentences"], None)),
    "jsonl": (categories_corpus(True), render_jsonl, expect_categories),
    "csv": (categories_corpus(False), render_csv, expect_categories),
}


# Running a conversion and checking what it left


def write_files(folder: Path, files: Dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def encode(files: Dict[str, List[str]], ending: str, bom: bool, final: bool) -> Dict[str, bytes]:
    out = {}
    for name, lines in files.items():
        text = ending.join(lines) + (ending if final and lines else "")
        out[name] = (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")
    return out


def summary(docs) -> Expected:
    result = []
    for doc in docs:
        missing = all(token.ent_iob == 0 for token in doc)
        ents = None if missing else sorted((e.start, e.end, e.label_) for e in doc.ents)
        result.append(([t.text for t in doc], dict(doc.cats), ents))
    return result


def run_case(fmt: str, files: Dict[str, bytes], old_target: Optional[bytes], strict=False):
    """Convert `files`; return ("ok", docs) or ("error", ConversionError), after checking
    that inputs are unmodified and the target is whole or untouched."""
    with make_tempdir() as tmp:
        folder = tmp / "in"
        write_files(folder, files)
        source = folder if fmt == "joint" else folder / next(iter(files))
        target = tmp / "out" / "corpus.spacy"
        if old_target is not None:
            target.parent.mkdir()
            target.write_bytes(old_target)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                n_docs = convert(fmt, source, target, strict=strict)
        except ConversionError as err:
            outcome = ("error", err)
        except Exception:
            TALLY["crash"] += 1
            raise
        else:
            docs = list(DocBin().from_disk(target).get_docs(Vocab()))
            assert len(docs) == n_docs
            outcome = ("ok", docs)
        inputs_now = {p.name: p.read_bytes() for p in folder.iterdir()}
        if inputs_now != files:
            TALLY["data lost"] += 1
            raise AssertionError(f"an input was modified: {sorted(inputs_now)}")
        leftovers = [p.name for p in tmp.rglob(f"*{PARTIAL_SUFFIX}")]
        if outcome[0] == "error":
            if old_target is None:
                whole = not target.exists()
            else:
                whole = target.read_bytes() == old_target
        else:
            whole = True
        if leftovers or not whole:
            TALLY["data lost"] += 1
            raise AssertionError(f"target half-written or temp left: {leftovers}")
    return outcome


def check_valid(fmt: str, outcome, expected: Expected) -> None:
    TALLY["tried"] += 1
    kind, value = outcome
    if kind == "error":
        TALLY["silent wrong"] += 1
        raise AssertionError(f"a valid {fmt} corpus was refused: {value}")
    if summary(value) != expected:
        TALLY["silent wrong"] += 1
        assert summary(value) == expected
    TALLY["valid, exact round trip"] += 1
    event(f"{fmt}: valid, exact")


def check_error(
    fmt: str, outcome, names: Sequence[str], line: Optional[int] = None, allow_ok=None
) -> None:
    """A corrupted input: a ConversionError naming a file of `names` (and `line`), or, where
    `allow_ok` says what the result must be, a correct conversion."""
    TALLY["tried"] += 1
    kind, value = outcome
    if kind == "ok":
        if allow_ok is not None and summary(value) == allow_ok:
            TALLY["corrupted, still correct"] += 1
            event(f"{fmt}: corruption converted correctly")
            return
        TALLY["silent wrong"] += 1
        raise AssertionError(f"a corrupted {fmt} corpus converted: {summary(value)[:3]}")
    message = str(value)
    assert value.path is not None and Path(value.path).name in names, message
    assert message.startswith(value.path), message
    if value.line is None:
        assert any(problem in message for problem in FILE_LEVEL), message
    else:
        assert f"line {value.line}" in message, message
        if line is not None:
            assert value.line == line, message
    TALLY["good error"] += 1
    event(f"{fmt}: good error")


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
    if spans is None or (strict and _needs_repair(tags)):
        line = s + 1 if fmt == "joint" else None
        check_error(fmt, outcome, [name], line)
    else:
        check_valid(fmt, outcome, expected)


def _needs_repair(tags: Sequence[str]) -> bool:
    start_label = None
    for tag in tags:
        if tag == "O":
            start_label = None
            continue
        prefix, _, kind = tag.partition("-")
        if prefix in ("I", "E", "L") and start_label != kind:
            return True
        start_label = None if prefix in ("E", "L", "S", "U") else kind
    return False


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
