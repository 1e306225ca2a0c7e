"""What every format shares in reading: tasks, encodings, line endings, empty files, tokenizers."""

import sys

import pytest
from convert_files import (
    assert_error,
    ents_of,
    summary,
    write_corpus,
    write_joint,
    write_lines,
)
from spacy.util import make_tempdir

from spacy_mtl.convert import (
    ConversionError,
    read_corpus,
    read_csv,
    read_iob,
    read_joint,
    read_jsonl,
)
from spacy_mtl.convert.common import load_tokenizer


def test_read_corpus_rejects_tasks_a_format_lacks():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ['{"text": "a", "label": "x"}'])
        with pytest.raises(ConversionError, match="does not annotate ents"):
            read_corpus("jsonl", path, tasks=("ents",))
        with pytest.raises(ConversionError, match="unknown task"):
            read_joint(write_joint(tmp / "j"), tasks=("tags",))


@pytest.mark.parametrize(
    "reader,name,first",
    [
        (read_jsonl, "a.jsonl", b'{"text": "a", "label": "x"}'),
        (read_csv, "a.csv", b"text,label"),
        (read_iob, "a.iob", b"a O"),
    ],
)
def test_bad_encoding_other_formats(reader, name, first):
    with make_tempdir() as tmp:
        path = tmp / name
        # The byte-order mark is fine; the latin-1 "\xe9" on line 2 is not.
        path.write_bytes(b"\xef\xbb\xbf" + first + b"\ncaf\xe9 O\n")
        with pytest.raises(ConversionError, match="not valid UTF-8") as exc_info:
            reader(path)
    assert_error(exc_info, path, 2)


@pytest.mark.parametrize(
    "fmt,name,content",
    [
        ("jsonl", "a.jsonl", "\n\n"),
        ("csv", "a.csv", "text,label\n"),
        ("csv", "b.csv", ""),
        ("iob", "a.iob", "-DOCSTART- O\n\n"),
    ],
)
def test_no_documents(fmt, name, content):
    with make_tempdir() as tmp:
        path = tmp / name
        path.write_text(content, encoding="utf8")
        with pytest.raises(ConversionError, match="no documents") as exc_info:
            read_corpus(fmt, path)
    assert str(path) in str(exc_info.value)


@pytest.mark.parametrize("fmt", ["joint", "iob", "jsonl", "csv"])
@pytest.mark.parametrize("ending", ["\r", "\r\n", "mixed"])
def test_cr_and_crlf_line_endings_read_like_lf(fmt, ending):
    with make_tempdir() as tmp:
        expected = summary(read_corpus(fmt, write_corpus(tmp / "lf", fmt, "\n")))
        path = write_corpus(tmp / "other", fmt, "\r" if ending == "mixed" else ending)
        if ending == "mixed":
            for file_ in [path] if path.is_file() else sorted(path.iterdir()):
                data = file_.read_bytes().split(b"\r")
                mixed = b"".join(
                    part + (b"\r", b"\n", b"\r\n")[i % 3] for i, part in enumerate(data)
                )
                file_.write_bytes(mixed[: -len(b"\r\n")] if mixed.endswith(b"\r\n") else mixed)
        docs = read_corpus(fmt, path)
    assert summary(docs) == expected
    labels = {label for doc in docs for label in doc.cats} | {
        e[2] for d in docs for e in ents_of(d)
    }
    assert not any("\r" in label or "\n" in label for label in labels)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "iob"])
def test_utf16_input_is_refused_with_its_line(fmt):
    with make_tempdir() as tmp:
        path = write_corpus(tmp, fmt, "\n")
        path.write_bytes(path.read_text(encoding="utf8").encode("utf-16-le"))
        with pytest.raises(ConversionError, match="NUL byte") as exc_info:
            read_corpus(fmt, path)
    assert_error(exc_info, path, 1)


@pytest.mark.parametrize(
    "lang,module,package", [("ja", "sudachipy", "sudachipy"), ("ko", "natto", "natto-py")]
)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_missing_tokenizer_package_is_named_in_one_line(fmt, lang, module, package, monkeypatch):
    # None in sys.modules makes `import module` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, module, None)
    load_tokenizer.cache_clear()
    try:
        with make_tempdir() as tmp:
            path = write_corpus(tmp, fmt, "\n")
            with pytest.raises(ConversionError, match=package) as exc_info:
                read_corpus(fmt, path, lang=lang)
            assert_error(exc_info, path, 1 if fmt == "jsonl" else 2)
            assert "\n" not in str(exc_info.value)
            # Given tokens need no tokenizer.
            if fmt == "jsonl":
                tokens = write_lines(tmp / "t.jsonl", ['{"tokens": ["a", "b"], "label": "x"}'])
                assert [t.text for t in read_jsonl(tokens, lang=lang)[0]] == ["a", "b"]
    finally:
        load_tokenizer.cache_clear()
