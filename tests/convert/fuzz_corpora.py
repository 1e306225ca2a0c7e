"""Random corpora for the converter property tests, and how a conversion of one is checked.

Strategies draw a valid corpus of each format, renderers write it as files, run_case converts
them and checks what the conversion left. FUZZ is the hypothesis budget (test_convert_fuzz.py).
"""

import codecs
import csv
import io
import json
import os
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy
from hypothesis import HealthCheck, event, settings
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


# Strategies


# No blanks, line breaks or controls: those separate tokens and lines.
TOKEN_CHARS = st.characters(
    blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="\ufeff"
)
tokens_st = st.text(TOKEN_CHARS, min_size=1, max_size=6).filter(lambda t: t != "-DOCSTART-")
label_st = st.text("abcdefgxyzABC_#.0123", min_size=1, max_size=5)
type_st = st.text("abcXYZ_", min_size=1, max_size=4)


SCHEMES = ("IOB2", "BIOES", "BILUO")


@st.composite
def tagged_sentence(draw, scheme: str) -> Tuple[List[str], List[str], List[Span3]]:
    """Tokens, their tags in a scheme, and the entity spans the tags encode."""
    words = draw(st.lists(tokens_st, min_size=1, max_size=8))
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
    # One scheme a file: a file that marks where entities end marks it everywhere.
    scheme = draw(st.sampled_from(SCHEMES))
    sentences = draw(st.lists(tagged_sentence(scheme), min_size=1, max_size=6))
    labels = [draw(label_st) for _ in sentences]
    return {"sentences": sentences, "labels": labels}


@st.composite
def iob_corpus(draw):
    scheme = draw(st.sampled_from(SCHEMES))
    return {
        "sentences": draw(st.lists(tagged_sentence(scheme), min_size=1, max_size=6)),
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
        # json, not srsly: srsly escapes non-ASCII, and the files must hold raw UTF-8.
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


# The annotation tools' formats: valid exports, and hostile edits of them


TOOL_WORDS = ["fly", "to", "oslo", "a", "room", "é", "東京", "lima"]
TOOL_OPTIONS = [{"id": "flight", "text": "flight"}, {"id": "hotel", "text": "hotel"}]
# A problem of the whole export, which has no line or task to name.
TOOL_FILE_LEVEL = (
    "no annotated documents",
    "the file is empty",
    "expected a JSON list of tasks",
    'no "nlu:" list',
)
# Values a field should not hold: nothing, NaN, huge or negative numbers, other types.
HOSTILE_VALUES = [
    None, True, False, 0, -1, 7, 10**12, -(10**12), 2**64, float("nan"), float("inf"),
    -float("inf"), 1.5, "", " ", "x", "\u200b", "https://example.com/1.jpg", [], {}, [None],
    [1, 2], ["x"], [{}], {"a": 1}, {"start": 0, "end": 10**9, "label": "x"},
]  # fmt: skip
hostile_st = st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=4), st.integers())


@st.composite
def tool_text(draw) -> Tuple[str, List[Tuple[int, int]]]:
    """A text of words joined by spaces, and each word's character offsets."""
    words = draw(st.lists(st.sampled_from(TOOL_WORDS), min_size=1, max_size=6))
    offsets, at = [], 0
    for word in words:
        offsets.append((at, at + len(word)))
        at += len(word) + 1
    return " ".join(words), offsets


def _prodigy_tokens(text: str, offsets) -> List[Dict]:
    last = len(offsets) - 1
    return [
        {"text": text[s:e], "start": s, "end": e, "id": i, "ws": i < last}
        for i, (s, e) in enumerate(offsets)
    ]


@st.composite
def prodigy_record(draw) -> Dict:
    """One answer as a Prodigy recipe saves it: textcat.manual, textcat.teach, ner.manual
    or ner.teach."""
    text, offsets = draw(tool_text())
    answer = draw(st.sampled_from(["accept", "accept", "reject", "ignore"]))
    view = draw(st.sampled_from(["choice", "classification", "ner_manual", "ner"]))
    record = {"text": text, "_input_hash": draw(st.integers(-9, 9)), "_task_hash": 1}
    chosen = draw(st.sets(st.integers(0, len(offsets) - 1), max_size=3))
    spans = [
        {
            "start": offsets[i][0],
            "end": offsets[i][1],
            "label": "city",
            "token_start": i,
            "token_end": i,
        }
        for i in sorted(chosen)
    ]
    if view == "choice":
        accept = draw(st.lists(st.sampled_from(["flight", "hotel"]), max_size=1, unique=True))
        record.update({"options": [dict(o) for o in TOOL_OPTIONS], "accept": accept})
    elif view == "classification":
        record.update({"label": draw(st.sampled_from(["INSULT", "flight"])), "spans": []})
        record["meta"] = {"score": 0.5}
    elif view == "ner_manual":
        record["tokens"] = _prodigy_tokens(text, offsets)
        if spans or draw(st.booleans()):
            record["spans"] = spans
    else:
        record.update({"tokens": _prodigy_tokens(text, offsets), "spans": spans[:1]})
        record["meta"] = {"score": 0.5}
    return {**record, "_view_id": view, "answer": answer}


@st.composite
def labelstudio_task(draw, task_id: int) -> Dict:
    """A task of a text project's JSON export, with its annotations' results."""
    text, offsets = draw(tool_text())
    annotations = []
    for _ in range(draw(st.integers(0, 2))):
        result = []
        if draw(st.booleans()):
            value = {"choices": [draw(st.sampled_from(["flight", "hotel"]))]}
            result.append(
                {"from_name": "intent", "to_name": "text", "type": "choices", "value": value}
            )
        for i in sorted(draw(st.sets(st.integers(0, len(offsets) - 1), max_size=3))):
            s, e = offsets[i]
            value = {"start": s, "end": e, "text": text[s:e], "labels": ["city"]}
            result.append(
                {"from_name": "label", "to_name": "text", "type": "labels", "value": value}
            )
        annotations.append({"result": result, "was_cancelled": draw(st.booleans())})
    return {"id": task_id, "data": {"text": text}, "annotations": annotations}


@st.composite
def rasa_items(draw) -> List[Dict]:
    """Intents and their example lines ("- " and the text with [text](type) markup)."""
    intents = st.lists(st.sampled_from(["greet", "fly", "book"]), min_size=1, max_size=3)
    items = []
    for intent in draw(intents.map(lambda names: list(dict.fromkeys(names)))):
        examples = []
        for _ in range(draw(st.integers(1, 3))):
            words = draw(st.lists(st.sampled_from(TOOL_WORDS), min_size=1, max_size=5))
            marked = draw(st.sets(st.integers(0, len(words) - 1), max_size=2))
            marked_words = [f"[{w}](city)" if i in marked else w for i, w in enumerate(words)]
            examples.append("- " + " ".join(marked_words))
        items.append({"intent": intent, "examples": examples})
    return items


def render_prodigy(records) -> Dict[str, List[str]]:
    # json writes NaN and Infinity as Python's json reads them, as a hostile file might.
    return {"a.jsonl": [json.dumps(r, ensure_ascii=False) for r in records]}


def render_labelstudio(tasks) -> Dict[str, List[str]]:
    return {"export.json": json.dumps(tasks, ensure_ascii=False, indent=1).split("\n")}


def render_rasa(items) -> Dict[str, List[str]]:
    """The items as YAML: a list of example lines as a literal block, anything else as is."""
    lines = ['version: "3.1"', "nlu:"]
    for item in items:
        lines.append(f"- intent: {item['intent']}")
        if isinstance(item["examples"], list):
            lines.append("  examples: |")
            lines.extend(f"    {line}" for line in item["examples"])
        else:
            lines.append(f"  examples: {item['examples']}")
    return {"nlu.yml": lines}


TOOL_FORMATS = {
    "prodigy": (st.lists(prodigy_record(), min_size=1, max_size=5), render_prodigy),
    "labelstudio": (
        st.integers(1, 4).flatmap(lambda n: st.tuples(*[labelstudio_task(i) for i in range(n)])),
        lambda tasks: render_labelstudio(list(tasks)),
    ),
    "rasa": (rasa_items(), render_rasa),
}


def json_paths(value, prefix=()) -> List[Tuple]:
    """Every path to a value inside nested dicts and lists, the root last."""
    paths = []
    if isinstance(value, dict):
        for key, item in value.items():
            paths.extend(json_paths(item, prefix + (key,)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            paths.extend(json_paths(item, prefix + (i,)))
    paths.append(prefix)
    return paths


def set_path(root, path: Sequence, value, delete: bool = False):
    """`root` with the value at `path` replaced (or deleted); the root itself if path is ()."""
    if not path:
        return value
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return root


def check_tool_outcome(fmt: str, outcome, name: str) -> None:
    """A hostile export: documents that make sense, or a ConversionError that names the file
    and the line or the task at fault (or says the whole file is at fault)."""
    TALLY["tried"] += 1
    kind, value = outcome
    if kind == "ok":
        for doc in value:
            assert doc.text.strip(), doc.text
            assert all(v in (0.0, 1.0) for v in doc.cats.values()), doc.cats
            assert all(isinstance(label, str) and label.strip() for label in doc.cats)
            assert all(ent.label_.strip() for ent in doc.ents)
        TALLY["hostile, converted"] += 1
        event(f"{fmt}: hostile, converted")
        return
    message = str(value)
    assert value.path is not None and Path(value.path).name == name, message
    assert message.startswith(value.path), message
    rest = message[len(value.path) :]
    names_place = value.line is not None and rest.startswith(f", line {value.line}: ")
    names_place = names_place or re.search(r"\b(line \d+|task \S)", rest) is not None
    assert names_place or any(problem in rest for problem in TOOL_FILE_LEVEL), message
    TALLY["good error"] += 1
    event(f"{fmt}: good error")
