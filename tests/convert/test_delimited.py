"""The CSV format (spacy_mtl/convert/delimited.py): header, rows, quoting, label cells."""

import warnings

import pytest
from convert_files import (
    assert_error,
    load,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.convert import (
    ConversionError,
    ConversionWarning,
    convert_csv,
    read_csv,
)


def test_read_csv_label_column():
    text = 'id,text,label\n1,"Hello, world",greet\n\n2,"two\nlines",bye\n'
    with make_tempdir() as tmp:
        docs = read_csv(write_lines(tmp / "a.csv", [text], ending=""))
    assert [t.text for t in docs[0]] == ["Hello", ",", "world"]
    assert docs[1].text == "two\nlines"
    assert [doc.cats for doc in docs] == [{"bye": 0.0, "greet": 1.0}, {"bye": 1.0, "greet": 0.0}]
    assert all(t.ent_iob == 0 for doc in docs for t in doc)


def test_convert_csv_labels_column_round_trip():
    lines = ["text,labels", "a b,x|y", "c, y ", "d,"]
    with make_tempdir() as tmp:
        assert convert_csv(write_lines(tmp / "a.csv", lines), tmp / "a.spacy") == 3
        docs = load(tmp / "a.spacy")
    assert [doc.cats for doc in docs] == [
        {"x": 1.0, "y": 1.0},
        {"x": 0.0, "y": 1.0},
        {"x": 0.0, "y": 0.0},
    ]


@pytest.mark.parametrize(
    "lines,line,problem",
    [
        (["text,category", "a,x"], 1, "must name one 'text' column"),
        (["text,label", "a,x", "b,"], 3, "label is empty"),
        (["text,label", "a,x", ",y"], 3, "text is empty"),
        (["text,label", "a,x,extra"], 2, "3 fields where the header has 2"),
    ],
)
def test_csv_bad_rows(lines, line, problem):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.csv", lines)
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_csv(path)
    assert_error(exc_info, path, line)


@pytest.mark.parametrize(
    "lines,problem",
    [
        (["text,labels", "a,x", "b,", "c,y"], "1 with no category (line 3)"),
        (["text,labels", "a,x", "b,x|y", "c,y"], "1 with several (line 3)"),
    ],
)
def test_csv_labels_cells_in_exclusive_mode(lines, problem, capsys):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.csv", lines)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            assert len(read_csv(path)) == 3  # a labels column is multi-label by default
        with pytest.warns(ConversionWarning, match=r"1 of 3 documents") as record:
            read_csv(path, exclusive=True)
        assert problem in str(record[0].message)
        with pytest.raises(ConversionError, match=r"1 of 3 documents") as exc_info:
            convert_csv(path, tmp / "a.spacy", exclusive=True, strict=True)
        assert_error(exc_info, path, 3)
        assert not (tmp / "a.spacy").exists()
        args = ["convert", "csv", str(path), str(tmp / "b.spacy"), "--exclusive", "--strict"]
        assert main(args) == 1
        assert f"{path}, line 3" in capsys.readouterr().err


def test_csv_label_cell_with_separator_warns():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.csv", ["text,label", "a,x", "b,x|y"])
        with pytest.warns(ConversionWarning, match=r"1 'label' cell.*line 3.*'labels'"):
            read_csv(path)
        with pytest.raises(ConversionError, match="'labels'") as exc_info:
            read_csv(path, strict=True)
        assert_error(exc_info, path, 3)


@pytest.mark.parametrize(
    "text,line,problem",
    [
        ('text,label\na,x\n"b,y\nc,z\n', 3, "unclosed double quote"),
        ('text,label\n"a,x\nb,y\nc,"z\n', 2, "unclosed double quote"),
        ('text,label\na,"x\nb,y\n', 2, "unclosed double quote"),
        ('text,label\na,"x\nb,y\n"\n', 2, "label cell holds a line break"),
    ],
)
def test_csv_unclosed_quote_is_named(text, line, problem):
    with make_tempdir() as tmp:
        path = tmp / "a.csv"
        path.write_text(text, encoding="utf8")
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_csv(path)
    assert_error(exc_info, path, line)


def test_csv_text_after_closing_quote_is_an_error():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.csv", ["text,label", "a,x", '"b"c,y'])
        with pytest.raises(ConversionError, match="malformed CSV") as exc_info:
            read_csv(path)
    assert_error(exc_info, path, 3)


@pytest.mark.parametrize("header", ["Text,Label", "TEXT,LABELS", " text , Label "])
def test_csv_header_names_in_any_case(header):
    with make_tempdir() as tmp:
        docs = read_csv(write_lines(tmp / "a.csv", [header, "a,x", "b,y"]))
    assert [doc.cats for doc in docs] == [{"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 1.0}]


def test_csv_header_error_lists_the_expected_names():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.csv", ["Text,Label,label", "a,x,x"])
        with pytest.raises(ConversionError, match="'label' appears twice") as exc_info:
            read_csv(path)
    assert "'text'" in str(exc_info.value) and "'labels'" in str(exc_info.value)
    assert_error(exc_info, path, 1)
