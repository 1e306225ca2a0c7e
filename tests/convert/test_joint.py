"""The joint format (spacy_mtl/convert/joint.py): a folder of seq.in, seq.out and label."""

import pytest
from convert_files import (
    JOINT_LABELS,
    JOINT_TAGS,
    JOINT_TOKENS,
    assert_error,
    ents_of,
    load,
    write_joint,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.annotation import has_cats
from spacy_mtl.convert import (
    ConversionError,
    convert_joint,
    read_joint,
)


def test_read_joint_keeps_tokens_cats_and_entities():
    with make_tempdir() as tmp:
        docs = read_joint(write_joint(tmp))
    assert [[t.text for t in doc] for doc in docs] == [line.split() for line in JOINT_TOKENS]
    assert [doc.text for doc in docs] == JOINT_TOKENS
    # "fare#flight" is one class, and each document lists every label.
    assert [doc.cats for doc in docs] == [
        {name: float(name == label) for name in sorted(JOINT_LABELS)} for label in JOINT_LABELS
    ]
    assert ents_of(docs[0]) == [(4, 5, "time"), (6, 8, "city")]
    assert ents_of(docs[1]) == [(5, 6, "country")]
    assert ents_of(docs[3]) == [(3, 5, "time")]
    # A sentence without entities is annotated "no entities", not missing.
    assert docs[2].ents == () and all(t.ent_iob_ == "O" for t in docs[2])
    assert all(t.ent_iob_ == "O" for t in docs[0][:4])


def test_read_joint_cats_only_leaves_entities_missing_without_seq_out():
    with make_tempdir() as tmp:
        write_joint(tmp)
        (tmp / "seq.out").unlink()
        docs = read_joint(tmp, tasks=("cats",))
    assert all(has_cats(doc) for doc in docs)
    assert all(t.ent_iob == 0 for doc in docs for t in doc)


def test_read_joint_ents_only_leaves_cats_missing():
    with make_tempdir() as tmp:
        write_joint(tmp)
        (tmp / "label").unlink()
        docs = read_joint(tmp, tasks=("ents",))
    assert all(doc.cats == {} for doc in docs)
    assert ents_of(docs[0]) == [(4, 5, "time"), (6, 8, "city")]


def test_read_joint_tolerates_trailing_spaces_crlf_and_final_blank_line():
    with make_tempdir() as tmp:
        write_lines(tmp / "seq.in", ["a b ", "c"], ending="\r\n")
        write_lines(tmp / "seq.out", ["B-x I-x ", "O", ""])
        write_lines(tmp / "label", ["p", "q"])
        docs = read_joint(tmp)
    assert [doc.text for doc in docs] == ["a b", "c"]
    assert ents_of(docs[0]) == [(0, 2, "x")]


def test_convert_joint_round_trip_through_docbin():
    with make_tempdir() as tmp:
        write_joint(tmp / "in")
        assert convert_joint(tmp / "in", tmp / "out" / "nested" / "train.spacy") == 4
        assert convert_joint(tmp / "in", tmp / "cats.spacy", tasks=("cats",)) == 4
        docs = load(tmp / "out" / "nested" / "train.spacy")
        cats_only = load(tmp / "cats.spacy")
    assert [doc.text for doc in docs] == JOINT_TOKENS
    assert docs[1].cats["fare#flight"] == 1.0 and docs[1].cats["greet"] == 0.0
    assert ents_of(docs[0]) == [(4, 5, "time"), (6, 8, "city")]
    assert all(t.ent_iob_ == "O" for t in docs[2])
    # Missing stays missing on disk, distinct from the explicit "O" above.
    assert all(t.ent_iob == 0 for doc in cats_only for t in doc)
    assert cats_only[0].cats == docs[0].cats


def test_joint_line_counts_differ():
    with make_tempdir() as tmp:
        write_joint(tmp, labels=JOINT_LABELS[:3])
        with pytest.raises(ConversionError) as exc_info:
            read_joint(tmp)
    message = str(exc_info.value)
    assert str(tmp / "seq.in") in message and str(tmp / "label") in message
    assert "has 4 lines" in message and "has 3" in message
    assert_error(exc_info, tmp / "seq.in", 4)


def test_joint_token_tag_count_mismatch():
    tags = list(JOINT_TAGS)
    tags[1] = "O O O"
    with make_tempdir() as tmp:
        write_joint(tmp, tags=tags)
        with pytest.raises(ConversionError, match="3 tags for the 7 tokens") as exc_info:
            read_joint(tmp)
    assert_error(exc_info, tmp / "seq.out", 2)


@pytest.mark.parametrize("name", ["seq.in", "seq.out", "label"])
def test_joint_empty_line(name):
    columns = {"seq.in": ["a b", "c", "d"], "seq.out": ["O O", "O", "O"], "label": ["p", "q", "p"]}
    columns[name][1] = "  "
    with make_tempdir() as tmp:
        write_joint(tmp, tokens=columns["seq.in"], tags=columns["seq.out"], labels=columns["label"])
        with pytest.raises(ConversionError, match="empty") as exc_info:
            read_joint(tmp)
    assert_error(exc_info, tmp / name, 2)


def test_bad_encoding_joint():
    with make_tempdir() as tmp:
        write_joint(tmp, tokens=["a", "b", "c"], tags=["O", "O", "O"], labels=["p", "q", "p"])
        (tmp / "seq.in").write_bytes("a\nb\ncaf\u00e9\n".encode("latin-1"))
        with pytest.raises(ConversionError, match="not valid UTF-8") as exc_info:
            read_joint(tmp)
    assert_error(exc_info, tmp / "seq.in", 3)


def test_joint_no_documents():
    with make_tempdir() as tmp:
        write_joint(tmp, tokens=[], tags=[], labels=[])
        with pytest.raises(ConversionError, match="no documents") as exc_info:
            read_joint(tmp)
    assert str(tmp / "seq.in") in str(exc_info.value)


def test_missing_input_file():
    with make_tempdir() as tmp:
        write_joint(tmp)
        (tmp / "label").unlink()
        with pytest.raises(ConversionError, match="no such file") as exc_info:
            read_joint(tmp)
    assert str(tmp / "label") in str(exc_info.value)


def test_cr_only_joint_file_keeps_its_lines_apart():
    with make_tempdir() as tmp:
        write_lines(tmp / "seq.in", ["to boston", "a room"], "\r")
        write_lines(tmp / "seq.out", ["O B-city", "O O"], "\r")
        write_lines(tmp / "label", ["flight", "hotel"], "\r")
        docs = read_joint(tmp)
    assert [doc.cats for doc in docs] == [
        {"flight": 1.0, "hotel": 0.0},
        {"flight": 0.0, "hotel": 1.0},
    ]
    assert ents_of(docs[0]) == [(1, 2, "city")]
