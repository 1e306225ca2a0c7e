"""The CoNLL-style column format (spacy_mtl/convert/iob.py)."""

import pytest
from convert_files import (
    assert_error,
    ents_of,
    load,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.annotation import has_cats
from spacy_mtl.convert import (
    ConversionError,
    ConversionWarning,
    convert_iob,
    read_iob,
)


def test_read_iob_columns_docstart_and_explicit_outside():
    text = (
        "-DOCSTART- -X- O O\n"
        "\n"
        "Anna\tNNP\tB-PER\n"
        "visited   VBD   O\n"
        "New\tI-LOC\n"  # IOB2 would say B-LOC: repaired with a warning
        "York\tI-LOC\n"
        ".\tO\n"
        "\n"
        "\n"
        "Nothing O\n"
        "here O\n"
        "\n"
        "Ed S-PER\n"
        "met O\n"
        "Bo B-PER\n"
        "Li E-PER\n"
        "Al U-PER\n"
    )
    with make_tempdir() as tmp:
        path = tmp / "train.iob"
        path.write_text(text, encoding="utf8")
        with pytest.warns(ConversionWarning, match=r"train\.iob.*line 5"):
            docs = read_iob(path)
    assert [[t.text for t in doc] for doc in docs] == [
        ["Anna", "visited", "New", "York", "."],
        ["Nothing", "here"],
        ["Ed", "met", "Bo", "Li", "Al"],
    ]
    assert ents_of(docs[0]) == [(0, 1, "PER"), (2, 4, "LOC")]
    assert ents_of(docs[2]) == [(0, 1, "PER"), (2, 4, "PER"), (4, 5, "PER")]
    assert all(doc.cats == {} for doc in docs)
    assert all(t.ent_iob_ == "O" for t in docs[1])


def test_convert_iob_round_trip():
    with make_tempdir() as tmp:
        path = tmp / "dev.conll"
        path.write_text("Paris B-LOC\nis O\nbig O\n", encoding="utf8")
        assert convert_iob(path, tmp / "dev.spacy") == 1
        (doc,) = load(tmp / "dev.spacy")
    assert ents_of(doc) == [(0, 1, "LOC")]
    assert [t.ent_iob_ for t in doc] == ["B", "O", "O"]
    assert doc.cats == {} and not has_cats(doc)


def test_iob_line_without_tag():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", ["a O", "b"])
        with pytest.raises(ConversionError, match="one column") as exc_info:
            read_iob(path)
    assert_error(exc_info, path, 2)


def test_cr_line_numbers_in_errors():
    with make_tempdir() as tmp:
        path = tmp / "a.iob"
        path.write_bytes(b"a O\rb O\r\rc\r")
        with pytest.raises(ConversionError, match="one column") as exc_info:
            read_iob(path)
    assert_error(exc_info, path, 4)
