"""convert rasa (convert/rasa.py): Rasa 3 NLU YAML, entities, unused items, hostile files.

Rasa's own example data cannot be downloaded here, so NLU_YML is written after the format
of Rasa's documentation (Training Data Format: NLU training data, entities, synonyms,
regular expressions, lookup tables).
"""

import os
import textwrap
import warnings

import pytest
from convert_files import assert_error, load
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.convert import ConversionError, read_rasa
from spacy_mtl.convert.rasa import parse_example

FUZZ = settings(
    max_examples=300 if os.environ.get("SPACY_MTL_FUZZ") == "long" else 25, deadline=None
)
NLU_YML = textwrap.dedent(
    """\
    version: "3.1"

    nlu:
    - intent: greet
      examples: |
        - hey
        - good morning

    - intent: check_balance
      examples: |
        - how much do I have on my [savings](account) account
        - what's my [credit card]{"entity": "account", "value": "credit"} balance

    - intent: book_flight
      examples: |
        - fly from [berlin]{"entity": "city", "role": "departure"} to [oslo](city)
        - book a flight to [NYC](city:New York City)

    - intent: inform
      metadata:
        sentiment: neutral
      examples:
      - text: |
          my name is [Sara](name)
      - text: I live in [Lima](city)

    - synonym: credit
      examples: |
        - credit card account

    - regex: account_number
      examples: |
        - \\d{10,12}

    - lookup: city
      examples: |
        - Berlin
        - Oslo
    """
)


def read(tmp, text, **kwargs):
    path = tmp / "nlu.yml"
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = read_rasa(path, **kwargs)
    return docs, [str(w.message) for w in caught]


def test_rasa_nlu_file_intents_entities_and_what_is_not_used():
    with make_tempdir() as tmp:
        docs, caught = read(tmp, NLU_YML)
    texts = [doc.text for doc in docs]
    assert texts[:3] == ["hey", "good morning", "how much do I have on my savings account"]
    assert texts[-2:] == ["my name is Sara", "I live in Lima"]
    intents = ["greet", "check_balance", "book_flight", "inform"]
    assert docs[0].cats == {label: float(label == "greet") for label in intents}
    assert [max(d.cats, key=d.cats.get) for d in docs] == [
        "greet", "greet", "check_balance", "check_balance", "book_flight", "book_flight",
        "inform", "inform",
    ]  # fmt: skip
    assert [(e.text, e.label_) for e in docs[3].ents] == [("credit card", "account")]
    assert [(e.text, e.label_) for e in docs[4].ents] == [("berlin", "city"), ("oslo", "city")]
    # Every example is a complete annotation: no entity is "O", not missing.
    assert all(t.ent_iob_ == "O" for t in docs[0])
    assert "1 entities have a role or group (line 16)" in caught[0]
    assert "1 synonym items; 1 regex items; 1 lookup items; 2 synonym values" in caught[1]
    with make_tempdir() as tmp:
        with pytest.raises(ConversionError, match="line 16: 1 entities have a role"):
            read(tmp, NLU_YML, strict=True)


@pytest.mark.parametrize(
    "body,line,problem",
    [
        (
            "nlu:\n- intent: a\n  examples: |\n    - ok\n    - [x]{bad json}(y)\n",
            5,
            "not valid JSON",
        ),
        ("nlu:\n- intent: a\n  examples: |\n    - [x]()\n", 4, "no entity type"),
        ('nlu:\n- intent: a\n  examples: |\n    - [x][{"entity": "y"}]\n', 4, "several"),
        ("nlu:\n- intent: a\n  examples: [\n", 3, "invalid YAML"),
        ("nlu:\n- intent: a\n", 2, "no examples"),
        ('nlu:\n- intent: a\n  examples:\n  - text: "ab\\ud800"\n', 4, "lone surrogate"),
        ("nlu:\n- intent: a\n  examples: |\n    - ok\n    -\n", 5, "an empty example"),
        ("stories:\n- story: x\n", 1, 'no "nlu:" list'),
        ("nlu:\n- intent: a\n  examples: |\n    - o\x01k\n", 4, "control character U\\+0001"),
    ],
)
def test_bad_file_names_the_line(body, line, problem):
    with make_tempdir() as tmp:
        path = tmp / "nlu.yml"
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_rasa(path)
    assert_error(exc_info, path, line)


def test_bom_non_utf8_empty_and_output_as_input(capsys):
    with make_tempdir() as tmp:
        path = tmp / "nlu.yml"
        path.write_bytes(b"\xef\xbb\xbfnlu:\r\n- intent: a\r\n  examples: |\r\n    - ok\r\n")
        assert [d.text for d in read_rasa(path)] == ["ok"]
        assert main(["convert", "rasa", str(path), str(path)]) == 1
        assert main(["convert", "rasa", str(path), str(tmp / "a.spacy")]) == 0
        assert [d.cats for d in load(tmp / "a.spacy")] == [{"a": 1.0}]
        path.write_bytes(b"nlu:\n- intent: a\n  examples: |\n    - caf\xe9\n")
        with pytest.raises(ConversionError, match="not valid UTF-8") as exc_info:
            read_rasa(path)
        assert_error(exc_info, path, 4)
        path.write_bytes(b"")
        with pytest.raises(ConversionError, match='no "nlu:" list'):
            read_rasa(path)
    err = capsys.readouterr().err
    assert "is the input" in err and "Traceback" not in err


PLAIN = st.text(st.sampled_from("ab é東.'"), min_size=1, max_size=8)


@FUZZ
@given(st.lists(st.tuples(PLAIN, st.sampled_from([None, "city", "x_y"])), min_size=1, max_size=6))
def test_property_markup_gives_text_and_spans(pieces):
    """Any mix of plain text and [text](type) / [text]{"entity": type}: offsets cut the text."""
    example, expected = "", []
    for i, (text, entity) in enumerate(pieces):
        if entity is None:
            example += text
        else:
            markup = f"({entity})" if i % 2 else '{"entity": "%s"}' % entity
            example += f"[{text}]{markup}"
            expected.append((text, entity))
    if not "".join(text for text, _ in pieces).strip():
        return
    text, spans, notes = parse_example(example, None, 1)
    assert [(text[s:e], label) for s, e, label in spans] == expected
    assert notes == []


def test_example_line_without_dash_is_skipped_as_rasa_skips_it():
    """Rasa warns about an examples line without "- " and skips it: so does convert."""
    body = "nlu:\n- intent: a\n  examples: |\n    - ok\n    oops\n    - [oslo](city) then\n"
    body += "- intent: b\n  examples: |\n    no dash either\n    - fine\n"
    with make_tempdir() as tmp:
        docs, caught = read(tmp, body)
        assert [d.text for d in docs] == ["ok", "oslo then", "fine"]
        assert len(caught) == 1 and "2 lines of an examples block" in caught[0]
        assert "lines 5, 9: 'oops', ..." in caught[0] and "skipped" in caught[0]
        with pytest.raises(ConversionError, match="must begin with '- ', not 'oops'") as exc_info:
            read(tmp, body, strict=True)
        assert_error(exc_info, tmp / "nlu.yml", 5)


def test_tasks_left_out_stay_missing(capsys):
    """Issue 7: --tasks cats keeps the intents and leaves every entity missing."""
    with make_tempdir() as tmp:
        docs, caught = read(tmp, NLU_YML, tasks=("cats",))
        assert len(docs) == 8 and all(d.cats and not has_ents(d) for d in docs)
        # Roles and synonym values concern entities, which are not converted.
        assert not any("role" in message for message in caught)
        docs, _ = read(tmp, NLU_YML, tasks=("ents",))
        assert len(docs) == 8 and not any(has_cats(d) for d in docs)
        path = tmp / "nlu.yml"
        args = ["convert", "rasa", str(path), str(tmp / "a.spacy"), "--tasks", "cats"]
        assert main(args) == 0
    assert "tasks: cats (ents missing)." in capsys.readouterr().out
