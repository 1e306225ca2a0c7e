import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.util import make_tempdir
from spacy.vocab import Vocab

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.atomic import PARTIAL_SUFFIX
from spacy_mtl.convert import (
    ConversionError,
    ConversionWarning,
    convert,
    convert_csv,
    convert_iob,
    convert_joint,
    convert_jsonl,
    read_corpus,
    read_csv,
    read_iob,
    read_joint,
    read_jsonl,
)
from spacy_mtl.convert.common import load_tokenizer

# Made-up sentences. Tokens such as "o'clock", "6:30pm" and "u.s." would be
# split by spaCy's English tokenizer, so they show that given tokens are kept.
JOINT_TOKENS = [
    "book a table at 6:30pm in new york",
    "what is the fare to u.s. cities",
    "hello there",
    "wake me at 7 o'clock",
]
JOINT_TAGS = [
    "O O O O B-time O B-city I-city",
    "O O O O O B-country O",
    "O O",
    "O O O B-time I-time",
]
JOINT_LABELS = ["book_table", "fare#flight", "greet", "alarm"]


def write_lines(path: Path, lines, ending: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + ending for line in lines), encoding="utf8")
    return path


def write_joint(folder: Path, tokens=JOINT_TOKENS, tags=JOINT_TAGS, labels=JOINT_LABELS) -> Path:
    write_lines(folder / "seq.in", tokens)
    write_lines(folder / "seq.out", tags)
    write_lines(folder / "label", labels)
    return folder


def ents_of(doc):
    return [(ent.start, ent.end, ent.label_) for ent in doc.ents]


def load(path: Path):
    return list(DocBin().from_disk(path).get_docs(Vocab()))


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "spacy_mtl", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# joint


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


# iob


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


# jsonl


def test_read_jsonl_labels_tokens_and_missing_entities():
    lines = [
        '{"text": "Refund my order, please!", "label": "refund"}',
        "",
        '{"text": "ignored when tokens are given", "tokens": ["new", "york\'s", "u.s."], '
        '"label": "other"}',
        '{"text": "Where is it?", "labels": ["track", "refund"]}',
        '{"text": "Nothing to see", "labels": []}',
    ]
    with make_tempdir() as tmp:
        # "label" and "labels" mixed: multi-label, declared so.
        docs = read_jsonl(write_lines(tmp / "a.jsonl", lines), exclusive=False)
    assert [t.text for t in docs[0]] == ["Refund", "my", "order", ",", "please", "!"]
    assert [t.text for t in docs[1]] == ["new", "york's", "u.s."]
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


# csv


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


def test_read_corpus_rejects_tasks_a_format_lacks():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ['{"text": "a", "label": "x"}'])
        with pytest.raises(ConversionError, match="does not annotate ents"):
            read_corpus("jsonl", path, tasks=("ents",))
        with pytest.raises(ConversionError, match="unknown task"):
            read_joint(write_joint(tmp / "j"), tasks=("tags",))


# the command line


def test_cli_convert_writes_and_reports():
    with make_tempdir() as tmp:
        write_joint(tmp / "in")
        result = run_cli("convert", "joint", tmp / "in", tmp / "out.spacy", "--tasks", "cats")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines() == [
            f"Wrote 4 documents to {tmp / 'out.spacy'}; tasks: cats (ents missing)."
        ]
        docs = load(tmp / "out.spacy")
    assert len(docs) == 4 and all(has_cats(doc) and not has_ents(doc) for doc in docs)


def test_cli_convert_error_exits_1_without_traceback():
    with make_tempdir() as tmp:
        write_joint(tmp / "in", labels=JOINT_LABELS[:3])
        result = run_cli("convert", "joint", tmp / "in", tmp / "out.spacy")
        assert not (tmp / "out.spacy").exists()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Conversion failed:")
    assert "label" in result.stderr and "line 4" in result.stderr
    assert result.stdout == ""


def test_cli_prints_repairs_as_warnings_and_rejects_bad_tasks(capsys):
    with make_tempdir() as tmp:
        write_joint(tmp / "in", tokens=["a", "x y"], tags=["O", "O I-city"], labels=["p", "q"])
        assert main(["convert", "joint", str(tmp / "in"), str(tmp / "a.spacy")]) == 0
        out, err = capsys.readouterr()
        assert out.startswith("Wrote 2 documents") and "tasks: cats, ents." in out
        assert err.startswith("Warning: ") and "seq.out" in err and "line 2" in err
        assert main(["convert", "joint", str(tmp / "in"), str(tmp / "b.spacy"), "--strict"]) == 1
        iob_args = ["iob", str(tmp / "in" / "seq.out"), str(tmp / "c.spacy"), "--tasks", "cats"]
        assert main(["convert", *iob_args]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert "line 2" in err and "does not annotate cats" in err
        assert not (tmp / "b.spacy").exists() and not (tmp / "c.spacy").exists()


# bad input


def assert_error(exc_info, path: Path, line: int) -> None:
    message = str(exc_info.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert exc_info.value.line == line


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


def test_iob_line_without_tag():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.iob", ["a O", "b"])
        with pytest.raises(ConversionError, match="one column") as exc_info:
            read_iob(path)
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


# atomic output


def test_failed_conversion_leaves_no_output_and_keeps_existing():
    with make_tempdir() as tmp:
        bad = write_lines(tmp / "bad.jsonl", ['{"text": "a", "label": "x"}', "{oops"])
        new_target = tmp / "new" / "out.spacy"
        with pytest.raises(ConversionError):
            convert_jsonl(bad, new_target)
        assert not new_target.exists()
        assert not new_target.parent.exists()
        old_target = tmp / "old.spacy"
        old_target.write_bytes(b"previous content")
        with pytest.raises(ConversionError):
            convert("jsonl", bad, old_target)
        assert old_target.read_bytes() == b"previous content"
        assert sorted(p.name for p in tmp.iterdir()) == ["bad.jsonl", "old.spacy"]
        # A good run replaces the file, leaving no temporary file beside it.
        good = write_lines(tmp / "good.jsonl", ['{"text": "a", "label": "x"}'])
        assert convert_jsonl(good, old_target) == 1
        assert sorted(p.name for p in tmp.iterdir()) == ["bad.jsonl", "good.jsonl", "old.spacy"]
        assert [doc.cats for doc in load(old_target)] == [{"x": 1.0}]


def test_failure_while_writing_keeps_existing_output(monkeypatch):
    def fail(fd):
        raise OSError(28, "No space left on device")

    with make_tempdir() as tmp:
        good = write_lines(tmp / "good.jsonl", ['{"text": "a", "label": "x"}'])
        target = tmp / "out.spacy"
        target.write_bytes(b"previous content")
        monkeypatch.setattr("spacy_mtl.atomic.os.fsync", fail)
        with pytest.raises(OSError, match="No space"):
            convert_jsonl(good, target)
        assert target.read_bytes() == b"previous content"
        assert sorted(p.name for p in tmp.iterdir()) == ["good.jsonl", "out.spacy"]


def test_output_folder_is_rejected():
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", ['{"text": "a", "label": "x"}'])
        with pytest.raises(ConversionError, match="is a folder"):
            convert_jsonl(path, tmp)


def test_no_warning_for_valid_iob2():
    with make_tempdir() as tmp:
        write_joint(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConversionWarning)
            assert len(read_joint(tmp, strict=True)) == 4


# outputs that would destroy something


def file_state(folder: Path):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "relative"])
def test_output_that_is_an_input_is_refused(how, monkeypatch):
    with make_tempdir() as tmp:
        source = write_lines(tmp / "x.jsonl", ['{"text": "a", "label": "x"}'])
        output = {"same": source, "relative": Path("x.jsonl")}.get(how, tmp / "out.spacy")
        if how == "symlink":
            output.symlink_to(source)
        elif how == "hardlink":
            output.hardlink_to(source)
        monkeypatch.chdir(tmp)
        before = source.read_bytes()
        with pytest.raises(ConversionError, match="is the input") as exc_info:
            convert_jsonl(source, output)
        assert str(output) in str(exc_info.value)
        assert source.read_bytes() == before
        assert main(["convert", "jsonl", str(source), str(output)]) == 1
        assert source.read_bytes() == before


@pytest.mark.parametrize("name", ["seq.in", "seq.out", "label"])
def test_joint_output_onto_one_of_its_files_is_refused(name, capsys):
    with make_tempdir() as tmp:
        write_joint(tmp)
        before = file_state(tmp)
        assert main(["convert", "joint", str(tmp), str(tmp / name)]) == 1
        assert f"{tmp / name}: is the input" in capsys.readouterr().err
        with pytest.raises(ConversionError, match="is the input"):
            convert_joint(tmp, tmp / name)
        assert file_state(tmp) == before
        # Beside the inputs is fine.
        assert convert_joint(tmp, tmp / "train.spacy") == 4


def make_special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "chardev":
        if os.geteuid() != 0:
            pytest.skip("mknod of a character device needs root")
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "symlink":
        (path.parent / "elsewhere.spacy").write_bytes(b"keep me")
        path.symlink_to(path.parent / "elsewhere.spacy")
    elif kind == "dangling":
        path.symlink_to(path.parent / "nowhere.spacy")


@pytest.mark.parametrize(
    "kind,what",
    [
        ("fifo", "a FIFO"),
        ("chardev", "a character device"),
        ("symlink", "a symbolic link"),
        ("dangling", "a symbolic link"),
    ],
)
def test_special_output_is_refused_and_kept(kind, what, capsys):
    with make_tempdir() as tmp:
        source = write_lines(tmp / "x.jsonl", ['{"text": "a", "label": "x"}'])
        target = tmp / "out.spacy"
        make_special(target, kind)
        before = os.lstat(target)
        with pytest.raises(ConversionError, match=f"is {what}.*not a regular file"):
            convert_jsonl(source, target)
        assert main(["convert", "jsonl", str(source), str(target)]) == 1
        assert f"{target}: is {what}" in capsys.readouterr().err
        after = os.lstat(target)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
        if kind == "symlink":
            assert (tmp / "elsewhere.spacy").read_bytes() == b"keep me"
        assert not any(p.name.endswith(PARTIAL_SUFFIX) for p in tmp.iterdir())


# line endings


JSONL_LINES = ['{"text": "fly to oslo", "label": "flight"}', '{"text": "a room", "label": "hotel"}']
CSV_LINES = ["text,label", "fly to oslo,flight", '"a ""room""",hotel']
IOB_LINES = ["fly O", "to O", "oslo B-city", "", "new B-city", "york I-city"]


def write_corpus(tmp: Path, fmt: str, ending: str) -> Path:
    if fmt == "joint":
        folder = tmp / "joint"
        write_lines(folder / "seq.in", JOINT_TOKENS, ending)
        write_lines(folder / "seq.out", JOINT_TAGS, ending)
        write_lines(folder / "label", JOINT_LABELS, ending)
        return folder
    lines = {"iob": IOB_LINES, "jsonl": JSONL_LINES, "csv": CSV_LINES}[fmt]
    return write_lines(tmp / f"a.{fmt}", lines, ending)


def summary(docs):
    return [([t.text for t in doc], doc.cats, ents_of(doc)) for doc in docs]


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


def test_cr_line_numbers_in_errors():
    with make_tempdir() as tmp:
        path = tmp / "a.iob"
        path.write_bytes(b"a O\rb O\r\rc\r")
        with pytest.raises(ConversionError, match="one column") as exc_info:
            read_iob(path)
    assert_error(exc_info, path, 4)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "iob"])
def test_utf16_input_is_refused_with_its_line(fmt):
    with make_tempdir() as tmp:
        path = write_corpus(tmp, fmt, "\n")
        path.write_bytes(path.read_text(encoding="utf8").encode("utf-16-le"))
        with pytest.raises(ConversionError, match="NUL byte") as exc_info:
            read_corpus(fmt, path)
    assert_error(exc_info, path, 1)


# categories that an exclusive textcat rejects


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


# format hints


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


# languages whose tokenizer needs another package


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


def test_cli_missing_tokenizer_package_without_traceback(capsys, monkeypatch):
    # As on a bare install, where the Japanese tokenizer's package is missing (the test
    # extra installs it, so its absence is simulated).
    monkeypatch.setitem(sys.modules, "sudachipy", None)
    load_tokenizer.cache_clear()
    try:
        with make_tempdir() as tmp:
            path = write_lines(tmp / "a.jsonl", JSONL_LINES)
            assert main(["convert", "jsonl", str(path), str(tmp / "a.spacy"), "--lang", "ja"]) == 1
    finally:
        load_tokenizer.cache_clear()
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "sudachipy" in err and f"{path}, line 1" in err
