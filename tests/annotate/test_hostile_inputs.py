"""annotate's inputs and outputs under hostile input (issue 22): every bad row becomes its
error record, every bad file a clear refusal naming it, never a traceback or a stray .parts/."""

import csv
import json

import pytest
import spacy

from spacy_mtl.__main__ import main
from spacy_mtl.annotate import AnnotateError, annotate, read_records


@pytest.fixture(scope="session")
def blank_pipeline(tmp_path_factory):
    """A pipeline without components: records are the text and its errors, fast to make."""
    path = tmp_path_factory.mktemp("hostile") / "blank"
    spacy.blank("en").to_disk(path)
    return str(path)


def run(pipeline, source, out, **kwargs):
    summary = annotate(pipeline, source, out, **kwargs)
    assert not out.with_name(out.name + ".parts").exists()
    return summary, list(read_records(out))


def errors_of(records):
    return [record["error"] for record in records]


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_lone_surrogate_in_jsonl_text_or_id_is_that_rows_error(blank_pipeline, tmp_path, suffix):
    if suffix == "parquet":
        pytest.importorskip("pyarrow")
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": 1, "text": "x \\ud800 y"}\n'
        '{"id": "a\\udc00", "text": "fine"}\n'
        '{"id": ["\\ud83d"], "text": "fine"}\n'
        '{"id": 4, "text": "fine \\ud83d\\ude00"}\n',
        encoding="utf-8",
    )
    out = tmp_path / f"out.{suffix}"
    summary, records = run(blank_pipeline, source, out)
    assert summary.rows == 4 and summary.errors == 3
    first, second, third, fourth = records
    assert first["text"] is None
    assert first["error"] == "text is not valid Unicode: a lone surrogate U+D800 at character 2"
    # A bad id is replaced by the row number; the error shows it escaped.
    assert second["id"] in (2, "2") and second["text"] == "fine"
    assert second["error"] == "id is not valid Unicode: a lone surrogate U+DC00 in 'a\\udc00'"
    assert third["id"] in (3, "3") and "U+D83D" in third["error"]
    assert fourth["error"] is None and fourth["text"] == "fine \U0001f600"
    assert summary.error_kinds == {"text is not valid Unicode": 1, "id is not valid Unicode": 2}


def test_non_utf8_csv_rows_are_their_error_records(blank_pipeline, tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b'id,text\n1,caf\xe9\n2,fine\nb\xffd,fine\n4,"two\nlines \xe9"\n5,ok\n')
    summary, records = run(blank_pipeline, source, tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["1", "2", 3, "4", "5"]
    assert errors_of(records) == [
        "row 1 (line 2) is not UTF-8: byte 0xE9 in column 'text'",
        None,
        "row 3 (line 4) is not UTF-8: byte 0xFF in column 'id'",
        "row 4 (line 5) is not UTF-8: byte 0xE9 in column 'text'",
        None,
    ]
    assert records[0]["text"] is None and records[2]["text"] == "fine"
    assert summary.error_kinds == {"row # (line #) is not UTF-8": 3}


def test_non_utf8_lines_are_counted_as_one_kind(blank_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes(b"caf\xe9\nfine\nna\xefve\n")
    summary, records = run(blank_pipeline, source, tmp_path / "out.jsonl")
    assert errors_of(records) == [
        "line 1 is not UTF-8: byte 0xE9 at byte 4 of the line",
        None,
        "line 3 is not UTF-8: byte 0xEF at byte 3 of the line",
    ]
    assert summary.error_kinds == {"line # is not UTF-8": 2}


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "txt"])
def test_utf16_input_is_refused_up_front(blank_pipeline, tmp_path, suffix):
    source = tmp_path / f"in.{suffix}"
    source.write_text("id,text\n1,hello\n", encoding="utf-16")
    with pytest.raises(AnnotateError, match=r"in\.\w+'.* UTF-16 .*re-save it as UTF-8"):
        annotate(blank_pipeline, source, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_corrupt_parquet_is_refused_naming_the_shard(blank_pipeline, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = tmp_path / "shards"
    shards.mkdir()
    pq.write_table(pa.table({"text": ["fine"]}), shards / "a.parquet")
    (shards / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(AnnotateError, match=r"b\.parquet'.*cannot be read"):
        annotate(blank_pipeline, shards, tmp_path / "out")
    with pytest.raises(AnnotateError, match=r"b\.parquet'.*cannot be read"):
        annotate(blank_pipeline, shards / "b.parquet", tmp_path / "out.jsonl")
    # Truncated: the footer is gone.
    data = (shards / "a.parquet").read_bytes()
    (shards / "b.parquet").write_bytes(data[: len(data) // 2])
    assert main(["annotate", blank_pipeline, str(shards), str(tmp_path / "out2")]) == 1
    err = capsys.readouterr().err
    assert "b.parquet" in err and "Traceback" not in err


def test_parquet_output_ids_that_change_type_are_strings(blank_pipeline, tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.jsonl"
    rows = [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}, {"id": "x3", "text": "c"}]
    rows += [{"id": "x4", "text": "d"}, {"text": "e"}, {"id": 1.5, "text": "f"}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "out.parquet"
    _, records = run(blank_pipeline, source, out, part_size=2)
    assert [r["id"] for r in records] == ["1", "2", "x3", "x4", "5", "1.5"]
    assert pq.read_schema(out).field("id").type == pa.string()
    # Integer ids from a Parquet id column stay integers.
    pq.write_table(
        pa.table({"id": [10, None, 30], "text": ["a", "b", "c"]}), tmp_path / "i.parquet"
    )
    _, records = run(
        blank_pipeline, tmp_path / "i.parquet", tmp_path / "i.out.parquet", part_size=1
    )
    assert [r["id"] for r in records] == [10, 2, 30]
    assert pq.read_schema(tmp_path / "i.out.parquet").field("id").type == pa.int64()


def test_parquet_ids_of_any_arrow_type_are_written(blank_pipeline, tmp_path):
    pytest.importorskip("pyarrow")
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {
        "when": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5)]),
        "money": pa.array([decimal.Decimal("1.50")]),
        "raw": pa.array([b"\xffkey"]),
        "big": pa.array([2**64 - 1], pa.uint64()),
    }
    pq.write_table(pa.table({**columns, "text": ["fine"]}), tmp_path / "in.parquet")
    expected = {"when": "2024-01-02T03:04:05", "money": "1.50", "raw": "\\xffkey", "big": 2**64 - 1}
    for name, value in expected.items():
        for suffix in ("jsonl", "parquet"):
            out = tmp_path / f"{name}.{suffix}"
            _, [record] = run(blank_pipeline, tmp_path / "in.parquet", out, id_field=name)
            assert record["error"] is None
            assert record["id"] == (str(value) if suffix == "parquet" else value)


def test_byte_order_mark_is_not_part_of_the_first_row(blank_pipeline, tmp_path):
    bom = "\ufeff"
    (tmp_path / "in.jsonl").write_text(bom + '{"text": "first"}\n', encoding="utf-8")
    _, records = run(blank_pipeline, tmp_path / "in.jsonl", tmp_path / "j.jsonl")
    assert records[0]["error"] is None and records[0]["text"] == "first"
    (tmp_path / "in.txt").write_text(bom + "first line\nsecond\n", encoding="utf-8")
    _, records = run(blank_pipeline, tmp_path / "in.txt", tmp_path / "t.jsonl", part_size=1)
    assert [r["text"] for r in records] == ["first line", "second"]


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"])
def test_every_line_ending_splits_lines(blank_pipeline, tmp_path, ending):
    (tmp_path / "in.txt").write_bytes(ending.join(["one", "two", "", "four"]).encode() + b"\r")
    _, records = run(blank_pipeline, tmp_path / "in.txt", tmp_path / "t.jsonl", part_size=2)
    assert [r["text"] for r in records] == ["one", "two", "", "four"]
    assert [r["id"] for r in records] == [1, 2, 3, 4]
    lines = [json.dumps({"text": t}) for t in ["one", "two", "three"]]
    (tmp_path / "in.jsonl").write_bytes(ending.join(lines).encode())
    _, records = run(blank_pipeline, tmp_path / "in.jsonl", tmp_path / "j.jsonl", part_size=2)
    assert [r["text"] for r in records] == ["one", "two", "three"]


def test_unterminated_csv_quote_is_refused_with_its_line(blank_pipeline, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,text\n1,fine\n2,"never closed\n3,swallowed\n4,too\n', encoding="utf-8")
    with pytest.raises(AnnotateError, match=r"in\.csv', line 3: .*quote.*never closed"):
        annotate(blank_pipeline, source, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl.parts").exists()


def test_a_long_csv_field_is_read_and_the_csv_modules_limit_is_put_back(blank_pipeline, tmp_path):
    # The limit is process-wide: the converters in the same process rely on csv's own.
    before = csv.field_size_limit()
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1," + "word " * 40_000 + "\n", encoding="utf-8")
    records = run(blank_pipeline, source, tmp_path / "out.jsonl", max_chars=300_000)[1]
    assert len(records[0]["text"]) == 200_000 and records[0]["error"] is None
    assert csv.field_size_limit() == before


def test_duplicate_csv_column_is_refused(blank_pipeline, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("id,text,text\n1,first,second\n", encoding="utf-8")
    with pytest.raises(AnnotateError, match=r"in\.csv' has 2 columns named 'text'.*rename"):
        annotate(blank_pipeline, source, tmp_path / "out.jsonl")
    source.write_text("id,text,id\n1,first,2\n", encoding="utf-8")
    with pytest.raises(AnnotateError, match="2 columns named 'id'"):
        annotate(blank_pipeline, source, tmp_path / "out.jsonl")
    # A duplicate column that is not read is harmless.
    source.write_text("id,text,x,x\n1,first,a,b\n", encoding="utf-8")
    assert run(blank_pipeline, source, tmp_path / "ok.jsonl")[1][0]["text"] == "first"


def test_text_field_typo_on_jsonl_is_refused_up_front(blank_pipeline, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "a"}\nnot json\n{"id": 2, "text": "b"}\n')
    with pytest.raises(AnnotateError, match=r"in\.jsonl'.*'txt'.*fields: id, text.*--text-field"):
        annotate(blank_pipeline, source, tmp_path / "out.jsonl", text_field="txt")
    args = ["annotate", blank_pipeline, str(source), str(tmp_path / "o.jsonl"), "--text-field", "x"]
    assert main(args) == 1
    assert "Traceback" not in capsys.readouterr().err
    # One row with the field is enough: the others are error records.
    source.write_text('{"id": 1, "txt": "a"}\n{"id": 2, "text": "b"}\n')
    _, records = run(blank_pipeline, source, tmp_path / "ok.jsonl", text_field="txt")
    assert errors_of(records) == [None, "no 'txt' field"]


def test_huge_single_line_is_an_error_record(blank_pipeline, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("short\n" + "x" * 3_000_000 + "\nafter\n", encoding="utf-8")
    summary, records = run(blank_pipeline, source, tmp_path / "out.jsonl", max_chars=1000)
    assert [r["text"] for r in records] == ["short", None, "after"]
    assert records[1]["error"].startswith("line 2 has more than 1000 characters")
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "' + "x" * 3_000_000 + '"}\n{"text": "after"}\n')
    _, records = run(blank_pipeline, source, tmp_path / "j.jsonl", max_chars=1000)
    assert records[0]["error"].startswith("line 1 has more than")
    assert records[1]["text"] == "after"


@pytest.mark.parametrize("suffix", ["jsonl", "txt"])
def test_empty_file_gives_an_empty_output(blank_pipeline, tmp_path, suffix):
    (tmp_path / f"in.{suffix}").write_bytes(b"")
    summary, records = run(blank_pipeline, tmp_path / f"in.{suffix}", tmp_path / "out.jsonl")
    assert records == [] and summary.rows == 0
    (tmp_path / "in.csv").write_bytes(b"")
    with pytest.raises(AnnotateError, match="is empty: expected a header"):
        annotate(blank_pipeline, tmp_path / "in.csv", tmp_path / "c.jsonl")


def test_special_and_unreadable_inputs_are_refused(blank_pipeline, tmp_path):
    with pytest.raises(AnnotateError, match="'/dev/null' is not a file or a directory"):
        annotate(blank_pipeline, "/dev/null", tmp_path / "out.jsonl")
    source = tmp_path / "locked.jsonl"
    source.write_text('{"text": "a"}\n')
    source.chmod(0)
    try:
        if source.open("rb"):  # pragma: no cover - running as root reads anything
            pytest.skip("root reads unreadable files")
    except PermissionError:
        pass
    try:
        with pytest.raises(AnnotateError, match=r"locked\.jsonl'.*cannot be read"):
            annotate(blank_pipeline, source, tmp_path / "out.jsonl")
    finally:
        source.chmod(0o644)
