"""annotate on random inputs (issue 22): rows, encodings, ids, field types, shard layouts.

Every run either writes one record per row, each good row's id and text as given
(an id as the output stores it), every other row an error record, with no
`.parts/` left behind; or refuses with an AnnotateError where the issue says it
must (a JSONL shard whose first part has no text field). Never another exception.
The budget is small in CI; SPACY_MTL_FUZZ=long (SPACY_MTL_FUZZ_EXAMPLES=N) runs more.
"""

import codecs
import csv
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.language import Language

from spacy_mtl.annotate import AnnotateError, annotate, read_records

LONG = os.environ.get("SPACY_MTL_FUZZ") == "long"
FUZZ = settings(
    max_examples=int(os.environ.get("SPACY_MTL_FUZZ_EXAMPLES", "1000")) if LONG else 30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Texts of a line: no line breaks (a text file has one a line); no U+FEFF (a leading one is a BOM).
LINE_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\ufeff"), max_size=12
)
GOOD_TEXT = LINE_TEXT.filter(lambda text: text.strip())
GOOD_ID = st.one_of(
    st.integers(-(2**70), 2**70),
    LINE_TEXT.filter(bool),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(0, 9), max_size=2),
)
BAD_TEXT = st.sampled_from(["", "  ", "\u3000", "x\ud800y", 5, None, [1], "MISSING"])
BAD_ID = st.sampled_from(["\udc00", float("nan"), ["\ud83d"], {"k": "\ud800"}])
ROW = st.one_of(
    st.tuples(st.just("good"), st.one_of(st.none(), GOOD_ID), GOOD_TEXT),
    st.tuples(st.just("bad_text"), st.one_of(st.none(), GOOD_ID), BAD_TEXT),
    st.tuples(st.just("bad_id"), BAD_ID, GOOD_TEXT),
    st.tuples(st.just("raw"), st.none(), st.sampled_from([b"caf\xe9", b"{not json", b"[1]"])),
)


@pytest.fixture(scope="module")
def blank_pipeline(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "blank"
    spacy.blank("en").to_disk(path)
    return str(path)


def jsonl_line(kind, row_id, value) -> bytes:
    if kind == "raw":
        return value
    row = {} if row_id is None else {"id": row_id}
    if value != "MISSING":
        row["text"] = value
    return json.dumps(row).encode()


def csv_rows(rows) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["id", "text"])
    for kind, row_id, value in rows:
        cell = "BAD" if kind == "raw" else value if isinstance(value, str) else ""
        writer.writerow(["" if row_id is None else str(row_id), cell])
    return out.getvalue().encode().replace(b"BAD", b"caf\xe9")


def write_shard(path: Path, fmt: str, rows, ending: bytes, bom: bool) -> None:
    if fmt == "csv":
        data = csv_rows(rows)
    elif fmt == "txt":
        data = ending.join(v if k == "raw" else v.encode() for k, _, v in rows) + ending
    else:
        data = ending.join(jsonl_line(*row) for row in rows) + ending
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)


def usable(fmt, kind, value) -> bool:
    """Whether a row of this kind can be written in this format (txt: a text, nothing else)."""
    if fmt == "txt":
        return kind == "good" or (kind in ("bad_text", "raw") and isinstance(value, (str, bytes))
                                  and value not in ("MISSING", "x\ud800y"))  # fmt: skip
    if fmt == "csv":
        return kind != "bad_id" and (kind != "bad_text" or value in ("", "  ", "\u3000"))
    return True


def expected(fmt, kind, row_id, value, number, parquet):
    """The (id, text, annotated) a row's record must have; text None: any."""
    if fmt == "txt":
        row_id = number
    elif fmt == "csv":
        row_id = str(row_id) if row_id not in (None, "") else number
    elif kind in ("raw", "bad_id") or row_id in (None, ""):
        row_id = number
    if parquet and fmt != "txt" and not isinstance(row_id, str):
        row_id = json.dumps(row_id, separators=(",", ":"))
    if fmt == "txt" and kind == "raw" and value != b"caf\xe9":
        return row_id, value.decode(), True  # any UTF-8 line is a text
    if kind == "good":
        return row_id, value, True
    return row_id, None, False


def refused(fmt, shards, part_size) -> bool:
    """Whether some JSONL shard's first part has no row with a text field."""
    return fmt == "jsonl" and any(
        not any(
            k in ("good", "bad_id") or (k == "bad_text" and v != "MISSING")
            for k, _, v in rows[:part_size]
        )  # fmt: skip
        for rows in shards
    )


@FUZZ
@given(
    fmt=st.sampled_from(["jsonl", "csv", "txt"]),
    rows=st.lists(ROW, min_size=1, max_size=9),
    cuts=st.lists(st.integers(1, 8), max_size=2),
    single=st.booleans(),
    parquet=st.booleans(),
    part_size=st.integers(1, 4),
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    bom=st.booleans(),
)
def test_random_inputs_give_their_records_or_a_clear_refusal(
    blank_pipeline, fmt, rows, cuts, single, parquet, part_size, ending, bom
):
    if parquet:
        pytest.importorskip("pyarrow")
    rows = [row for row in rows if usable(fmt, row[0], row[2])]
    if not rows:
        return
    bounds = [0] + ([] if single else sorted({c for c in cuts if c < len(rows)})) + [len(rows)]
    shards = [rows[a:b] for a, b in zip(bounds, bounds[1:])]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = tmp / "in" if not single else tmp / f"in.{fmt}"
        if single:
            write_shard(source, fmt, rows, ending, bom)
        else:
            source.mkdir()
            for i, shard in enumerate(shards):
                write_shard(source / f"s{i}.{fmt}", fmt, shard, ending, bom)
        out = tmp / ("out." + ("parquet" if parquet else "jsonl") if single else "out")
        kwargs = {"part_size": part_size, "output_format": "parquet" if parquet else "jsonl"}
        try:
            annotate(blank_pipeline, source, out, **kwargs)
        except AnnotateError as err:
            assert refused(fmt, shards, part_size), str(err)
            assert "--text-field" in str(err) or "JSON object" in str(err)
            return
        assert not refused(fmt, shards, part_size)
        assert not list(tmp.glob("*.parts"))
        files = [out] if single else sorted(out.glob("*.*[tl]"))
        records = [record for path in files for record in read_records(path)]
        want = [
            expected(fmt, *row, number, parquet)
            for shard in shards
            for number, row in enumerate(shard, start=1)
        ]
        assert len(records) == len(want)
        for record, (row_id, text, good) in zip(records, want):
            assert record["id"] == row_id
            assert (record["error"] is None) == good, record
            if good:
                assert record["text"] == text


# A pipeline as hostile as its input: a text with a digit gets NaN or infinite category
# scores (broken weights), one with "?" is rejected as out of scope, the others have cats.
@Language.component("test_fuzz_hostile_cats", assigns=["doc.cats"])
def hostile_cats(doc):
    from spacy_mtl.pipeline.intent_confidence import set_intent_state

    broken = any(ch.isdigit() for ch in doc.text)
    bad = float("nan") if len(doc.text) % 2 else float("inf")
    doc.cats = {"flight": bad if broken else 0.7, "music": 0.3}
    if "?" in doc.text:
        set_intent_state(doc, "out_of_scope", 0.2, True)
    return doc


@pytest.fixture(scope="module")
def hostile_pipeline(tmp_path_factory):
    nlp = spacy.blank("en")
    nlp.add_pipe("test_fuzz_hostile_cats")
    path = tmp_path_factory.mktemp("fuzz") / "hostile"
    nlp.to_disk(path)
    return str(path)


def strict(text):
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} written"))


# A whole run per example (about 2 s): fewer examples in CI than the input fuzz.
@settings(FUZZ, max_examples=FUZZ.max_examples if LONG else 12)
@given(
    texts=st.lists(
        st.one_of(GOOD_TEXT, st.sampled_from(["fly 2 oslo", "why?", "7?", "ok"])),
        min_size=1,
        max_size=8,
    ),  # fmt: skip
    fmt=st.sampled_from(["jsonl", "prodigy", "labelstudio"]),
    sort_by=st.sampled_from([None, "confidence"]),
)
def test_a_pipeline_predicting_nan_or_out_of_scope_gives_errors_or_good_tasks(
    hostile_pipeline, texts, fmt, sort_by
):
    """Each row is an error record (a score not a number) or a good record; every file is
    strict JSON; an export pre-selects only trained intents. Never another exception."""
    broken = [any(ch.isdigit() for ch in text) for text in texts]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.jsonl"
        source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), "utf-8")
        out = Path(tmp) / ("out.json" if fmt == "labelstudio" else "out.jsonl")
        summary = annotate(hostile_pipeline, source, out, output_format=fmt,
                           sort_by=sort_by if fmt != "jsonl" else None)  # fmt: skip
        assert summary.errors == sum(broken)
        written = out.read_text(encoding="utf-8")
        if fmt == "jsonl":
            records = [strict(line) for line in written.splitlines()]
            assert [r["text"] for r in records] == texts
            for record, bad in zip(records, broken):
                assert (record["error"] is not None) == bad
                assert not bad or "not a number" in record["error"]
                assert bad or record["intent"] == ("out_of_scope" if "?" in record["text"]
                                                   else "flight")  # fmt: skip
            return
        tasks = strict(written) if fmt == "labelstudio" else [
            strict(line) for line in written.splitlines()
        ]  # fmt: skip
        assert len(tasks) == len(texts) - sum(broken)
        for task in tasks:
            text = task["data"]["text"] if fmt == "labelstudio" else task["text"]
            if fmt == "prodigy":
                chosen = task["accept"]
                assert set(chosen) <= {option["id"] for option in task["options"]}
            else:
                result = task["predictions"][0]["result"]
                choices = [r["value"]["choices"] for r in result if r["type"] == "choices"]
                chosen = [choice for both in choices for choice in both]
            assert chosen == ([] if "?" in text else ["flight"])
            assert task["meta"].get("out_of_scope") is ("?" in text)
