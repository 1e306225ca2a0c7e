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
    read_columns,
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


# Issue 22: in BIOES "B-city B-city E-city" gave two entities with no warning, while "O I-x" warned.
BROKEN_BIOES = ["上 B-city", "海 B-city", "市 E-city", "", "去 O", "北 S-city"]


def test_bioes_entity_without_its_end_tag_warns_and_reads_as_iob2():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", BROKEN_BIOES)
        with pytest.warns(ConversionWarning) as record:
            docs = read_iob(path)
    assert ents_of(docs[0]) == [(0, 1, "city"), (1, 3, "city")]
    assert ents_of(docs[1]) == [(1, 2, "city")]
    (warning,) = record
    message = str(warning.message)
    assert "line 1: tag 1 'B-city' begins an entity that no E- or L- tag ends" in message
    assert "BIOES/BILUO end tags, the first on line 3" in message


def test_bioes_entity_without_its_end_tag_raises_when_strict():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", ["a O", "b S-x", "", "c B-x", "d I-x"])
        with pytest.raises(ConversionError, match="'B-x' begins an entity that no E-") as info:
            read_iob(path, strict=True)
    assert_error(info, path, 4)


def test_columns_and_joint_check_end_tags_across_the_file():
    slots = "上 B-city\n海 B-city\n市 E-city\n"
    with make_tempdir() as tmp:
        (tmp / "s.txt").write_text(slots, encoding="utf8")
        with pytest.warns(ConversionWarning, match="line 1: tag 1 'B-city' begins"):
            read_columns(tmp / "s.txt", lang="zh")
        # The end tags are on line 1, the entity without one on line 2.
        write_joint(tmp, tokens=["a b", "c d"], tags=["S-x O", "B-y I-y"], labels=["p", "q"])
        with pytest.warns(ConversionWarning, match="line 2: tag 1 'B-y' begins") as record:
            docs = read_joint(tmp)
    assert ents_of(docs[1]) == [(0, 2, "y")] and len(record) == 1


@pytest.mark.parametrize(
    "lines", [["a B-x", "b B-x", "c I-x"], ["a B-x", "b I-x", "c E-x", "d S-y", "e U-z"]]
)
def test_no_warning_for_iob2_or_well_formed_bioes(lines):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", lines)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            read_iob(path, strict=True)
