"""The JSONL format (spacy_mtl/convert/jsonl.py): records, bad JSON, exclusive categories."""

import warnings

import pytest
from convert_files import (
    assert_error,
    load,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_ents
from spacy_mtl.convert import (
    ConversionError,
    ConversionWarning,
    convert_jsonl,
    read_jsonl,
)


def test_read_jsonl_labels_tokens_and_missing_entities():
    lines = [
        '{"text": "Refund my order, please!", "label": "refund"}',
        "",
        '{"text": "new york\'s  u.s.", "tokens": ["new", "york\'s", "u.s."], "label": "other"}',
        '{"text": "Where is it?", "labels": ["track", "refund"]}',
        '{"text": "Nothing to see", "labels": []}',
    ]
    with make_tempdir() as tmp:
        # "label" and "labels" mixed: multi-label, declared so.
        docs = read_jsonl(write_lines(tmp / "a.jsonl", lines), exclusive=False)
    assert [t.text for t in docs[0]] == ["Refund", "my", "order", ",", "please", "!"]
    # The given tokens, with the text's own whitespace (spaCy's rule: a second space is a token).
    assert [t.text for t in docs[1]] == ["new", "york's", " ", "u.s."]
    assert docs[1].text == "new york's  u.s."
    assert docs[0].cats == {"other": 0.0, "refund": 1.0, "track": 0.0}
    assert docs[1].cats == {"other": 1.0, "refund": 0.0, "track": 0.0}
    assert docs[2].cats == {"other": 0.0, "refund": 1.0, "track": 1.0}
    assert docs[3].cats == {"other": 0.0, "refund": 0.0, "track": 0.0}
    assert all(t.ent_iob == 0 for doc in docs for t in doc)
    assert not any(has_ents(doc) for doc in docs)


def test_convert_jsonl_round_trip():
    with make_tempdir() as tmp:
        lines = ['{"text": "good stuff", "label": "pos"}', '{"text": "bad", "label": "neg"}']
        write_lines(tmp / "a.jsonl", lines)
        assert convert_jsonl(tmp / "a.jsonl", tmp / "a.spacy") == 2
        docs = load(tmp / "a.spacy")
    assert [doc.cats for doc in docs] == [{"neg": 0.0, "pos": 1.0}, {"neg": 1.0, "pos": 0.0}]
    assert all(t.ent_iob == 0 for doc in docs for t in doc)


def test_invalid_json():
    with make_tempdir() as tmp:
        lines = ['{"text": "a", "label": "x"}', '{"text": "b", "label": }']
        path = write_lines(tmp / "a.jsonl", lines)
        with pytest.raises(ConversionError, match="invalid JSON") as exc_info:
            read_jsonl(path)
    assert_error(exc_info, path, 2)


@pytest.mark.parametrize(
    "record,problem",
    [
        ('{"label": "x"}', 'no "text"'),
        ('{"text": "", "label": "x"}', "non-empty string"),
        ('{"text": "b"}', 'no "label" or "labels"'),
        ('{"text": "b", "label": ["x"]}', '"label" must be'),
        ('{"text": "b", "labels": "x"}', '"labels" must be'),
        ('{"text": "b", "label": "x", "labels": ["x"]}', "both"),
        ('{"tokens": [], "label": "x"}', '"tokens" must be'),
        ('["b", "x"]', "a JSON list"),
    ],
)
def test_jsonl_bad_record(record, problem):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ['{"text": "a", "label": "x"}', "", record])
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_jsonl(path)
    assert_error(exc_info, path, 3)


MIXED_JSONL = [
    '{"text": "a", "label": "x"}',
    '{"text": "b", "labels": []}',
    '{"text": "c", "labels": ["x", "y"]}',
    '{"text": "d", "labels": ["y"]}',
]


def test_jsonl_mixing_label_and_labels_warns_with_counts_and_lines(capsys):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "m.jsonl", MIXED_JSONL)
        with pytest.warns(ConversionWarning) as record:
            docs = read_jsonl(path)
        (warning,) = record
        message = str(warning.message)
        assert str(path) in message and "2 of 4 documents" in message
        assert "1 with no category (line 2)" in message
        assert "1 with several (line 3)" in message
        assert len(docs) == 4
        with pytest.raises(ConversionError, match="2 of 4 documents") as exc_info:
            read_jsonl(path, strict=True)
        assert_error(exc_info, path, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            assert len(read_jsonl(path, exclusive=False)) == 4
        # The command line: warning by default, exit 1 and no output under --strict.
        capsys.readouterr()
        assert main(["convert", "jsonl", str(path), str(tmp / "a.spacy")]) == 0
        err = capsys.readouterr().err
        assert err.startswith("Warning:") and "line 2" in err
        assert main(["convert", "jsonl", str(path), str(tmp / "b.spacy"), "--strict"]) == 1
        assert not (tmp / "b.spacy").exists()
        assert main(["convert", "jsonl", str(path), str(tmp / "c.spacy"), "--multilabel"]) == 0
        assert capsys.readouterr().err.count("Warning") == 0


@pytest.mark.parametrize(
    "text",
    [
        '[{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]\n',
        '[{"text": "a", "label": "x"},\n {"text": "b", "label": "y"}]\n',
        '[\n  {"text": "a", "label": "x"}\n]\n',
    ],
)
def test_jsonl_that_is_a_json_array_says_so(text):
    with make_tempdir() as tmp:
        path = tmp / "a.jsonl"
        path.write_text(text, encoding="utf8")
        with pytest.raises(ConversionError, match="looks like one JSON array") as exc_info:
            read_jsonl(path)
    assert_error(exc_info, path, 1)
    assert "JSONL is expected" in str(exc_info.value)


def test_jsonl_pretty_printed_object_says_so():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ["{", '  "text": "a",', '  "label": "x"', "}"])
        with pytest.raises(ConversionError, match="spread over several lines") as exc_info:
            read_jsonl(path)
    assert_error(exc_info, path, 1)


@pytest.mark.parametrize(
    "record,problem",
    [
        # Issue 22, case 13: "tokens" silently replaced the text.
        ('{"text": "play jazz", "tokens": ["rock", "music"], "label": "x"}', "'r' where"),
        ('{"text": "play jazz", "tokens": ["play"], "label": "x"}', "end after 'play'"),
        ('{"text": "play", "tokens": ["play", "jazz"], "label": "x"}', "go on with 'jazz'"),
        # Whitespace aside they agree, but a token spans a space the text does not have.
        ('{"text": "new  york", "tokens": ["new york"], "label": "x"}', "'new york' is not"),
    ],
)
def test_jsonl_tokens_that_do_not_spell_the_text(record, problem):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ['{"text": "a", "label": "x"}', record])
        with pytest.raises(ConversionError, match='"tokens" do not spell "text"') as exc_info:
            read_jsonl(path)
    assert_error(exc_info, path, 2)
    assert problem in str(exc_info.value)


def test_jsonl_tokens_that_spell_the_text_keep_its_whitespace():
    lines = [
        '{"text": "我要去长沙", "tokens": ["我", "要", "去", "长沙"], "label": "x"}',
        '{"text": " play\\tjazz ", "tokens": ["play", "jazz"], "label": "y"}',
    ]
    with make_tempdir() as tmp:
        docs = read_jsonl(write_lines(tmp / "a.jsonl", lines))
    assert [t.text for t in docs[0]] == ["我", "要", "去", "长沙"] and docs[0].text == "我要去长沙"
    assert docs[1].text == " play\tjazz "
    assert [t.text for t in docs[1] if not t.is_space] == ["play", "jazz"]
