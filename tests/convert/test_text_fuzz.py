"""Property tests of what issue 22 found: intents lines, jsonl tokens and text, encodings.

- an intents line holds one tab: random texts convert exactly; a line given a second tab or none
  is an error naming the file and that line;
- jsonl "tokens" given with "text": tokens that spell the text (with any whitespace between them)
  keep the text and the tokens; tokens changed in one character are an error naming the line;
- a line of Chinese, Japanese or Western text saved in its legacy encoding is named with that
  encoding, and the text it reads as is the original.

The budget is fuzz_corpora's FUZZ profile, as for test_convert_fuzz.py.
"""

import json

from fuzz_corpora import FUZZ, TALLY, TEXT_CHARS, label_st, run_case, tokens_st
from hypothesis import assume, given
from hypothesis import strategies as st
from spacy.util import make_tempdir

from spacy_mtl.convert import ConversionError, read_intents
from spacy_mtl.convert.encoding import guess_encodings

INTENT_TEXT = st.text(
    st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\t\r\n\x00\ufeff\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    min_size=1,
    max_size=20,
).filter(str.strip)


def _intents_case(lines):
    with make_tempdir() as tmp:
        path = tmp / "i.tsv"
        path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
        try:
            return path, read_intents(path, lang="en")
        except ConversionError as err:
            return path, err


@FUZZ
@given(
    rows=st.lists(st.tuples(INTENT_TEXT, label_st), min_size=1, max_size=6),
    data=st.data(),
)
def test_intents_lines(rows, data):
    lines = [f"{text}\t{label}" for text, label in rows]
    how = data.draw(st.sampled_from(["valid", "extra tab", "no tab"]))
    i = data.draw(st.integers(0, len(lines) - 1))
    if how == "extra tab":
        lines[i] += "\t" + data.draw(label_st | st.just(""))
    elif how == "no tab":
        lines[i] = lines[i].replace("\t", " ")
    path, outcome = _intents_case(lines)
    TALLY["tried"] += 1
    if how == "valid":
        assert not isinstance(outcome, ConversionError), str(outcome)
        assert [doc.text for doc in outcome] == [text for text, _ in rows]
        assert [max(doc.cats, key=doc.cats.get) for doc in outcome] == [label for _, label in rows]
        TALLY["valid, exact round trip"] += 1
        return
    assert isinstance(outcome, ConversionError), "a broken intents line converted"
    assert outcome.line == i + 1 and str(outcome).startswith(f"{path}, line {i + 1}: ")
    assert ("tab-separated fields" if how == "extra tab" else "no tab") in str(outcome)
    TALLY["good error"] += 1


@FUZZ
@given(
    tokens=st.lists(tokens_st, min_size=1, max_size=6),
    gaps=st.lists(st.sampled_from(["", " ", "  ", "\t", " \n "]), min_size=7, max_size=7),
    change=st.none() | st.tuples(st.integers(0, 5), st.integers(0, 5), TEXT_CHARS),
)
def test_jsonl_tokens_against_text(tokens, gaps, change):
    # Tokens touching without a gap must still be found: a gap "" joins them.
    text = gaps[0] + "".join(token + gap for token, gap in zip(tokens, gaps[1:]))
    assume(text.strip())
    given_tokens = list(tokens)
    if change is not None:
        t, c, char = change
        t %= len(tokens)
        token = given_tokens[t]
        c %= len(token)
        assume(not char.isspace() and char != token[c])
        given_tokens[t] = token[:c] + char + token[c + 1 :]
    record = {"text": text, "tokens": given_tokens, "label": "x"}
    files = {"a.jsonl": (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")}
    kind, value = run_case("jsonl", files, None)
    TALLY["tried"] += 1
    if change is None:
        assert kind == "ok", str(value)
        (doc,) = value
        assert doc.text == text
        assert "".join(t.text for t in doc if not t.text.isspace()) == "".join(tokens)
        TALLY["valid, exact round trip"] += 1
    else:
        assert kind == "error" and value.line == 1, value
        assert '"tokens" do not spell "text"' in str(value), str(value)
        TALLY["good error"] += 1


def _common(codec: str, leads: range, trails: range) -> st.SearchStrategy:
    """Characters of an encoding's common area (GB2312 level 1, JIS level 1 kanji)."""
    pair = st.tuples(st.sampled_from(leads), st.sampled_from(trails))
    return pair.map(lambda p: bytes(p).decode(codec, "ignore")).filter(lambda c: len(c) == 1)


COMMON_HANZI = _common("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF))
JAPANESE = st.characters(min_codepoint=0x3041, max_codepoint=0x3093) | _common(
    "shift_jis", range(0x89, 0x98), range(0x40, 0x7F)
)
WESTERN = st.sampled_from(list("éèàçôöüßñÉÀáíóú’–"))
ASCII_WORDS = st.text("abcdefgh ", min_size=1, max_size=4)
ANY_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@FUZZ
@given(
    parts=st.sampled_from(
        [
            ("gbk", "GB18030", COMMON_HANZI),
            ("shift_jis", "SHIFT_JIS", JAPANESE),
            ("cp1252", "CP1252", WESTERN),
            ("gbk", None, ANY_CJK),
            ("big5", None, ANY_CJK),
        ]
    ),
    data=st.data(),
)
def test_legacy_encodings_are_named(parts, data):
    """Common text is named with its encoding; any text is named rightly or not at all."""
    codec, name, chars = parts
    if codec == "cp1252":
        # Western text: accented letters between ASCII ones (never four in a row).
        pieces = data.draw(st.lists(st.tuples(ASCII_WORDS, chars), min_size=1, max_size=6))
        text = "".join(a + b for a, b in pieces) + "x"
    else:
        text = data.draw(st.text(chars, min_size=4, max_size=20))
    try:
        raw = text.encode(codec)
    except UnicodeEncodeError:
        assume(False)
    TALLY["tried"] += 1
    guesses = guess_encodings(raw)
    named = {guess.name: guess.text for guess in guesses}
    if name is None:
        # Rare characters: a guess that reads the text back, or none that claims to.
        wrong = [guess for guess in guesses if guess.text != text]
        assert not guesses or len(wrong) < len(guesses), (text, guesses)
        TALLY["good error"] += 1
        return
    # Common text: its encoding is among the two an error shows ("aÀa" reads as well in Big5,
    # where "Àa" is one character), and reads the text back.
    assert named.get(name) == text and name in [g.name for g in guesses[:2]], (text, guesses)
    TALLY["good error"] += 1
