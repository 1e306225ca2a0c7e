"""Property tests of what issue 22 found: intents lines, jsonl tokens and text.

- an intents line holds one tab: random texts convert exactly; a line given a second tab or none
  is an error naming the file and that line;
- jsonl "tokens" given with "text": tokens that spell the text (with any whitespace between them)
  keep the text and the tokens; tokens changed in one character are an error naming the line;

The budget is fuzz_corpora's FUZZ profile, as for test_convert_fuzz.py.
"""

import json

from fuzz_corpora import FUZZ, TALLY, TEXT_CHARS, label_st, run_case, tokens_st
from hypothesis import assume, given
from hypothesis import strategies as st
from spacy.util import make_tempdir

from spacy_mtl.convert import ConversionError, read_intents

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
