"""The character-column converter (spacy_mtl/convert/columns.py): Chinese intent and slot files."""

from pathlib import Path
from typing import List, Tuple

import pytest
import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin
from spacy.util import make_tempdir
from spacy.vocab import Vocab

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.convert import (
    ConversionError,
    convert_columns,
    convert_intents,
    read_columns,
    read_corpus,
    read_intents,
)

# Made-up sentences in the CAIS layout: BIOES tags, a space token written "  O".
SLOTS = """\
我 O
要 O
听 O
吴 B-singer
雨 I-singer
霏 E-singer
的 O
歌 O

播 O
放 O
L B-song
e I-song
t I-song
  I-song
I I-song
t E-song

北 B-city
京 E-city
  O
明 B-date
天 E-date
天 O
气 O
"""
INTENTS = "music\nmusic\nweather\n"
ZH = spacy.blank("zh")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf8")
    return path


def ents_of(doc) -> List[Tuple[str, str]]:
    return [(ent.text, ent.label_) for ent in doc.ents]


def test_read_columns_joint():
    with make_tempdir() as tmp:
        docs = read_columns(write(tmp / "s.txt", SLOTS), intents_path=write(tmp / "i", INTENTS))
    assert [doc.text for doc in docs] == ["我要听吴雨霏的歌", "播放Let It", "北京 明天天气"]
    assert ents_of(docs[0]) == [("吴雨霏", "singer")]
    # The space inside the English title is whitespace, and the entity stays aligned.
    assert ents_of(docs[1]) == [("Let It", "song")]
    assert ents_of(docs[2]) == [("北京", "city"), ("明天", "date")]
    assert docs[0].cats == {"music": 1.0, "weather": 0.0}
    assert docs[2].cats == {"music": 0.0, "weather": 1.0}
    for doc in docs:
        # The tokens a trained pipeline sees: spaCy's Chinese character segmenter.
        assert [t.text for t in doc] == [t.text for t in ZH(doc.text)]
        assert " " not in [t.text for t in doc]


def test_read_columns_without_intents_is_slots_only():
    with make_tempdir() as tmp:
        docs = read_columns(write(tmp / "s.txt", SLOTS))
    assert all(has_ents(doc) and not has_cats(doc) for doc in docs)


def test_read_columns_cats_only_and_cats_without_intents_file():
    with make_tempdir() as tmp:
        slots = write(tmp / "s.txt", SLOTS)
        docs = read_columns(slots, intents_path=write(tmp / "i", INTENTS), tasks=["cats"])
        assert all(has_cats(doc) and not has_ents(doc) for doc in docs)
        with pytest.raises(ConversionError, match="no intents file"):
            read_columns(slots, tasks=["cats"])


def test_intents_lines_with_text_are_checked_against_the_sentences():
    with make_tempdir() as tmp:
        slots = write(tmp / "s.txt", SLOTS)
        ok = "我要听吴雨霏的歌\tmusic\n播放Let It\tmusic\n北京明天天气\tweather\n"
        docs = read_columns(slots, intents_path=write(tmp / "i", ok))
        assert docs[1].cats["music"] == 1.0
        shifted = "我要听吴雨霏的歌\tmusic\n北京明天天气\tweather\n播放Let It\tmusic\n"
        with pytest.raises(ConversionError) as err:
            read_columns(slots, intents_path=write(tmp / "i", shifted))
    assert err.value.line == 2 and err.value.path.endswith("i")
    assert "not sentence 2" in str(err.value)


def test_read_intents_tokenizes_with_the_language():
    with make_tempdir() as tmp:
        path = write(tmp / "train.tsv", "明天北京天气怎么样\tweather\n放一首 Let It Be\tmusic\n")
        docs = read_intents(path)
    assert [t.text for t in docs[0]] == list("明天北京天气怎么样")
    assert docs[1].text == "放一首 Let It Be"
    assert all(has_cats(doc) and not has_ents(doc) for doc in docs)


@pytest.mark.parametrize(
    "content,line,problem",
    [
        ("明天天气\n", 1, "no tab: expected TEXT<TAB>INTENT"),
        ("明天天气 weather\n", 1, "no tab: expected TEXT<TAB>INTENT"),
        ("\tweather\n", 1, "no text before the tab"),
        ("明天天气\tweather\n\n放歌\tmusic\n", 2, "empty line"),
        ("明天天气\t \n", 1, "no intent"),
        # Issue 22, case 12: a third column was silently read as the intent.
        ("放歌\tmusic\n我要去长沙\tbook_flight\textra\n", 2, "3 tab-separated fields"),
        ("我要去长沙\tbook_flight\t\n", 1, "3 tab-separated fields"),
    ],
)
def test_read_intents_bad_lines(content, line, problem):
    with make_tempdir() as tmp:
        path = write(tmp / "i.tsv", content)
        with pytest.raises(ConversionError, match=problem) as err:
            read_intents(path)
    assert err.value.line == line and str(err.value).startswith(f"{path}, line {line}: ")


def test_intents_file_of_a_columns_corpus_refuses_three_fields():
    with make_tempdir() as tmp:
        slots = write(tmp / "s.txt", SLOTS)
        intents = write(tmp / "i", "music\n播放Let It\tmusic\textra\nweather\n")
        with pytest.raises(ConversionError, match="3 tab-separated fields") as err:
            read_columns(slots, intents_path=intents)
    assert err.value.path == str(intents) and err.value.line == 2


def test_cli_three_columns_exit_1_naming_file_and_line(capsys):
    with make_tempdir() as tmp:
        path = write(tmp / "i.tsv", "我要去长沙\tbook_flight\textra\n")
        assert main(["convert", "intents", str(path), str(tmp / "o.spacy"), "--lang", "zh"]) == 1
        assert not (tmp / "o.spacy").exists()
    err = capsys.readouterr().err
    assert f"{path}, line 1: 3 tab-separated fields" in err and "Traceback" not in err


def test_convert_round_trip_and_cli(capsys):
    with make_tempdir() as tmp:
        slots, intents = write(tmp / "s.txt", SLOTS), write(tmp / "i", INTENTS)
        assert convert_columns(slots, tmp / "a.spacy", intents_path=intents) == 3
        args = ["convert", "columns", str(slots), str(tmp / "b.spacy"), "--lang", "zh"]
        assert main([*args, "--intents", str(intents)]) == 0
        assert "Wrote 3 documents" in capsys.readouterr().out
        for name in ("a.spacy", "b.spacy"):
            docs = list(DocBin().from_disk(tmp / name).get_docs(Vocab()))
            assert [ents_of(doc) for doc in docs][1] == [("Let It", "song")]
            assert docs[2].cats["weather"] == 1.0
        tsv = write(tmp / "t.tsv", "明天天气\tweather\n")
        assert convert_intents(tsv, tmp / "c.spacy") == 1
        assert len(read_corpus("intents", tsv, lang="zh")) == 1
        # A failed conversion names file and line and leaves no output behind.
        bad = write(tmp / "bad.txt", "我 O\n要\n")
        assert main(["convert", "columns", str(bad), str(tmp / "d.spacy")]) == 1
        assert f"{bad}, line 2" in capsys.readouterr().err
        assert not (tmp / "d.spacy").exists()


# --- Property tests: valid input round-trips; each corruption names its file and line.

CHARS = st.sampled_from(list("我要听播放明天北京上海天气的歌打开灯空调") + list("abcXYZ"))
LABELS = st.sampled_from(["city", "date", "song", "device"])
INTENT_LABELS = st.sampled_from(["music", "weather", "home"])
# Entity text: characters, maybe with single spaces inside (an English title).
ENTITY = st.lists(st.one_of(CHARS, CHARS.map(lambda c: " " + c)), min_size=1, max_size=5).map(
    lambda parts: "".join(parts).lstrip()
)
CHUNK = st.one_of(
    st.tuples(CHARS, st.none()),
    st.tuples(st.just(" "), st.none()),
    st.tuples(ENTITY, LABELS),
)


def _tidy(chunks):
    """No space at either end of a sentence and none next to another."""
    out = []
    for text, label in chunks:
        if text == " " and (not out or out[-1][0] == " "):
            continue
        out.append((text, label))
    while out and out[-1][0] == " ":
        out.pop()
    return out


SENTENCE = st.lists(CHUNK, min_size=1, max_size=8).map(_tidy).filter(bool)
CORPUS = st.lists(st.tuples(SENTENCE, INTENT_LABELS), min_size=1, max_size=5)
SCHEMES = st.sampled_from(["BIO", "BIOES", "BILOU"])


def tag_entity(n: int, label: str, scheme: str) -> List[str]:
    if scheme == "BIO":
        return [f"B-{label}"] + [f"I-{label}"] * (n - 1)
    single, last = ("S", "E") if scheme == "BIOES" else ("U", "L")
    if n == 1:
        return [f"{single}-{label}"]
    return [f"B-{label}"] + [f"I-{label}"] * (n - 2) + [f"{last}-{label}"]


def render(corpus, scheme: str):
    """The slots and intents files of a corpus, and what each sentence must become."""
    lines, intents, expected = [], [], []
    for sentence, intent in corpus:
        text, ents = "", []
        for chunk, label in sentence:
            chars = list(chunk)
            tags = tag_entity(len(chars), label, scheme) if label else ["O"] * len(chars)
            if label:
                # Adjacent entities of one type would merge in BIO: keep them apart.
                if ents and ents[-1][2] == label and ents[-1][1] == len(text):
                    tags[0] = tag_entity(len(chars), label, "BIOES")[0]
                    if scheme == "BIO":
                        tags = ["O"] * len(chars)
                        label = None
                if label:
                    ents.append((len(text), len(text) + len(chunk), label))
            lines += [f"{c} {t}" for c, t in zip(chars, tags)]
            text += chunk
        lines.append("")
        intents.append(intent)
        expected.append((text, ents, intent))
    return "\n".join(lines) + "\n", "\n".join(intents) + "\n", expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus=CORPUS, scheme=SCHEMES)
def test_valid_columns_round_trip(corpus, scheme):
    slots_text, intents_text, expected = render(corpus, scheme)
    with make_tempdir() as tmp:
        slots, intents = write(tmp / "s.txt", slots_text), write(tmp / "i", intents_text)
        convert_columns(slots, tmp / "out.spacy", intents_path=intents)
        docs = list(DocBin().from_disk(tmp / "out.spacy").get_docs(ZH.vocab))
    assert len(docs) == len(expected)
    for doc, (text, ents, intent) in zip(docs, expected):
        assert doc.text == text
        assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == ents
        assert doc.cats[intent] == 1.0 and sum(doc.cats.values()) == 1.0
        assert [t.text for t in doc] == [t.text for t in ZH(text)]


CORRUPTIONS = ["drop_tag", "bad_tag", "extra_intent", "missing_intent", "blank_intent", "empty"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    corpus=CORPUS,
    scheme=SCHEMES,
    corruption=st.sampled_from(CORRUPTIONS),
    where=st.integers(min_value=0, max_value=10_000),
    bad_tag=st.sampled_from(["X-city", "B-", "b-city", "B_city", "-city", "I"]),
)
def test_corrupt_columns_name_file_and_line(corpus, scheme, corruption, where, bad_tag):
    slots_text, intents_text, _ = render(corpus, scheme)
    slots_lines = slots_text.split("\n")
    intent_lines = intents_text.split("\n")[:-1]
    token_lines = [i for i, line in enumerate(slots_lines) if line]
    first_lines = [i for i in token_lines if i == 0 or not slots_lines[i - 1]]
    if corruption == "drop_tag":
        i = token_lines[where % len(token_lines)]
        char = slots_lines[i].rsplit(" ", 1)[0].strip() or "字"
        slots_lines[i] = char
        expect = ("s.txt", i + 1)
    elif corruption == "bad_tag":
        i = token_lines[where % len(token_lines)]
        slots_lines[i] = slots_lines[i].rsplit(" ", 1)[0] + " " + bad_tag
        expect = ("s.txt", i + 1)
    elif corruption == "extra_intent":
        intent_lines.append("music")
        expect = ("i", len(intent_lines))
    elif corruption == "missing_intent":
        intent_lines.pop()
        expect = ("s.txt", first_lines[-1] + 1)
    elif corruption == "blank_intent":
        i = where % len(intent_lines)
        intent_lines.insert(i, "")
        intent_lines.append("music")  # the blank line is what is wrong, not the count
        expect = ("i", i + 1)
    else:  # a sentence of nothing but space tokens, before sentence `where`
        i = first_lines[where % len(first_lines)]
        slots_lines[i:i] = ["  O", "  O", ""]
        intent_lines.append("music")
        expect = ("s.txt", i + 1)
    with make_tempdir() as tmp:
        slots = write(tmp / "s.txt", "\n".join(slots_lines))
        intents = write(tmp / "i", "\n".join(intent_lines) + "\n")
        with pytest.raises(ConversionError) as err:
            convert_columns(slots, tmp / "out.spacy", intents_path=intents, strict=True)
        assert not (tmp / "out.spacy").exists()
    assert (Path(err.value.path).name, err.value.line) == expect, str(err.value)
    assert str(err.value).startswith(f"{err.value.path}, line {err.value.line}: ")
