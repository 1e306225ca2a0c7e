"""Entity tags (spacy_mtl/convert/tags.py): unknown tags, and continuations repaired or refused."""

import warnings

import pytest
from convert_files import (
    JOINT_TAGS,
    assert_error,
    ents_of,
    write_joint,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.convert import (
    ConversionError,
    ConversionWarning,
    read_iob,
    read_joint,
)


@pytest.mark.parametrize("tag", ["X-foo", "B", "B-", "b-city", "PER"])
def test_unknown_tag(tag):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", ["a O", "", "b O", f"c {tag}"])
        with pytest.raises(ConversionError, match="unknown tag") as exc_info:
            read_iob(path)
    assert_error(exc_info, path, 4)


def test_joint_unknown_tag():
    tags = list(JOINT_TAGS)
    tags[2] = "O S-"
    with make_tempdir() as tmp:
        write_joint(tmp, tags=tags)
        with pytest.raises(ConversionError, match="unknown tag 'S-'") as exc_info:
            read_joint(tmp)
    assert_error(exc_info, tmp / "seq.out", 3)


@pytest.mark.parametrize(
    "tags,expected",
    [
        ("O I-city", [(1, 2, "city")]),
        ("B-time I-city", [(0, 1, "time"), (1, 2, "city")]),
        ("I-city I-city", [(0, 2, "city")]),
    ],
)
def test_joint_broken_continuation_is_repaired_with_warning(tags, expected):
    with make_tempdir() as tmp:
        write_joint(tmp, tokens=["a", "x y"], tags=["O", tags], labels=["p", "q"])
        with pytest.warns(ConversionWarning) as record:
            docs = read_joint(tmp)
    assert ents_of(docs[1]) == expected
    (warning,) = record
    assert str(tmp / "seq.out") in str(warning.message) and "line 2" in str(warning.message)


def test_joint_broken_continuation_raises_when_strict():
    with make_tempdir() as tmp:
        write_joint(tmp, tokens=["a", "x y"], tags=["O", "O I-city"], labels=["p", "q"])
        problem = "'I-city' continues an entity but follows 'O'"
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_joint(tmp, strict=True)
    assert_error(exc_info, tmp / "seq.out", 2)


def test_iob_continuation_after_entity_end_raises_when_strict():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", ["a B-x", "b E-x", "c I-x"])
        with pytest.raises(ConversionError, match="last token of an entity") as exc_info:
            read_iob(path, strict=True)
    assert_error(exc_info, path, 3)


def test_no_warning_for_valid_iob2():
    with make_tempdir() as tmp:
        write_joint(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            assert len(read_joint(tmp, strict=True)) == 4
