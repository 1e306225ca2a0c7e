"""convert prodigy (convert/prodigy.py): sessions merged by text, answers, hostile files."""

import json
import os
import warnings

import pytest
from convert_files import assert_error, load, write_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.util import make_tempdir

from spacy_mtl.__main__ import main
from spacy_mtl.annotation import has_cats, has_ents
from spacy_mtl.convert import ConversionError, convert, read_prodigy

FUZZ = settings(
    max_examples=300 if os.environ.get("SPACY_MTL_FUZZ") == "long" else 25, deadline=None
)
OPTIONS = [{"id": "flight", "text": "flight"}, {"id": "hotel", "text": "hotel"}]


def choice(text, accept, answer="accept", **extra):
    return json.dumps(
        {"text": text, "options": OPTIONS, "accept": accept, "answer": answer, **extra}
    )


def manual(text, spans, answer="accept", view="ner_manual"):
    """A ner_manual task with Prodigy's tokens (split at spaces) and character spans."""
    tokens, at = [], 0
    for i, word in enumerate(text.split(" ")):
        tokens.append({"text": word, "start": at, "end": at + len(word), "id": i, "ws": True})
        at += len(word) + 1
    tokens[-1]["ws"] = False
    spans = [{"start": s, "end": e, "label": label} for s, e, label in spans]
    record = {"text": text, "tokens": tokens, "spans": spans, "answer": answer, "_view_id": view}
    return json.dumps(record)


def binary(text, label, answer):
    return json.dumps({"text": text, "label": label, "answer": answer})


def read(tmp, lines, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = read_prodigy(write_lines(tmp / "a.jsonl", lines), **kwargs)
    return docs, [str(w.message) for w in caught]


def test_two_sessions_merge_into_one_document_per_text():
    with make_tempdir() as tmp:
        write_lines(tmp / "s" / "1-intents.jsonl", [choice("fly to oslo", ["flight"])])
        write_lines(
            tmp / "s" / "2-slots.jsonl",
            [manual("fly to oslo", [(7, 11, "city")]), manual("a room", [])],
        )
        write_lines(tmp / "s" / "3-more.jsonl", [choice("a bed in lima", ["hotel"])])
        docs = read_prodigy(tmp / "s")
    assert [d.text for d in docs] == ["fly to oslo", "a room", "a bed in lima"]
    assert docs[0].cats == {"flight": 1.0, "hotel": 0.0}
    assert [(e.text, e.label_) for e in docs[0].ents] == [("oslo", "city")]
    assert [t.ent_iob_ for t in docs[0]] == ["O", "O", "B"]
    # Slots only: "no entities" is annotated, the categories stay missing, never negative.
    assert not has_cats(docs[1]) and [t.ent_iob_ for t in docs[1]] == ["O", "O"]
    # Intents only: the entities stay missing.
    assert docs[2].cats == {"flight": 0.0, "hotel": 1.0} and not has_ents(docs[2])


def test_token_offsets_and_binary_entity_answers():
    tokens = [{"text": w, "ws": True} for w in ["to", "new", "york"]]
    tokens[-1]["ws"] = False
    by_tokens = {"text": "to new york", "tokens": tokens, "answer": "accept"}
    by_tokens["spans"] = [{"token_start": 1, "token_end": 2, "label": "city"}]
    teach = {"text": "go to rome now", "spans": [{"start": 6, "end": 10, "label": "city"}]}
    with make_tempdir() as tmp:
        lines = [
            json.dumps(by_tokens),
            json.dumps({**teach, "answer": "accept", "_view_id": "ner"}),
            json.dumps(
                {**teach, "text": "go to rome later", "answer": "reject", "_view_id": "ner"}
            ),
        ]
        docs, caught = read(tmp, lines)
    assert [(e.text, e.label_) for e in docs[0].ents] == [("new york", "city")]
    # An accepted binary entity annotates its tokens only; the rest stay missing.
    assert [t.ent_iob_ for t in docs[1]] == ["", "", "B", ""]
    assert len(docs) == 2 and "1 rejected answers that teach nothing" in caught[0]


def test_binary_categories_multilabel_and_exclusive():
    lines = [
        binary("fly to oslo", "flight", "accept"),
        binary("fly to oslo", "hotel", "reject"),
        binary("a room", "hotel", "ignore"),
    ]
    with make_tempdir() as tmp:
        docs, caught = read(tmp, lines)
        # Binary answers only: multi-label, a rejection is a 0.0, the labels not asked are masked.
        assert [d.cats for d in docs] == [{"flight": 1.0, "hotel": 0.0}]
        assert "1 ignored answers" in caught[0]
        docs, caught = read(tmp, lines[:2], exclusive=True)
    assert [d.cats for d in docs] == [{"flight": 1.0}]
    assert "1 rejected answers" in caught[0] and "--multilabel" in caught[0]


def test_conflicting_answers_are_reported_with_their_lines():
    lines = [choice("fly to oslo", ["flight"]), choice("a room", ["hotel"])]
    lines.append(choice("fly to oslo", ["hotel"]))
    with make_tempdir() as tmp:
        docs, caught = read(tmp, lines)
        assert not has_cats(docs[0]) and docs[1].cats == {"flight": 0.0, "hotel": 1.0}
        assert "line 1, line 3" in caught[0] and "conflicting" in caught[0]
        with pytest.raises(ConversionError, match="line 1, line 3"):
            read(tmp, lines, strict=True)


def test_misaligned_span_is_reported_and_left_missing():
    with make_tempdir() as tmp:
        spans = [{"start": 8, "end": 11, "label": "c"}]
        record = {"text": "fly to oslo", "answer": "accept", "spans": spans}
        docs, caught = read(tmp, [json.dumps(record)])
    assert "'slo' as c (line 1)" in caught[0]
    assert [t.ent_iob_ for t in docs[0]] == ["O", "O", ""]


@pytest.mark.parametrize(
    "content,line,problem",
    [
        (b'{"answer": "accept", "label": "x"}\n', 1, 'no "text"'),
        (b'{"text": 5, "answer": "accept", "label": "x"}\n', 1, "non-empty string, not 5"),
        (b'{"text": "a", "label": "x"}\n', 1, "not accept, reject or ignore"),
        (b'\n{"text": "ab\\ud800", "label": "x", "answer": "accept"}\n', 2, "lone surrogate"),
        (b'{"text": "caf\xe9", "label": "x", "answer": "accept"}\n', 1, "not valid UTF-8"),
        (
            b'{"text": "abc", "spans": [{"start": 2, "end": 9, "label": "x"}], "answer": "accept"}',
            1,
            "not inside the text",
        ),  # fmt: skip
        (
            b'{"text": "abc", "spans": [{"token_start": 0, "token_end": 1, "label": "x"}], '
            b'"tokens": [{"text": "abc", "ws": false}], "answer": "accept"}',
            1,
            "not among",
        ),  # fmt: skip
        (
            b'{"text": "a b", "tokens": [{"text": "x"}], "answer": "accept", "spans": []}',
            1,
            "do not spell",
        ),  # fmt: skip
    ],
)
def test_bad_record_names_the_line(content, line, problem):
    with make_tempdir() as tmp:
        path = tmp / "a.jsonl"
        path.write_bytes(content)
        with pytest.raises(ConversionError, match=problem) as exc_info:
            read_prodigy(path)
    assert_error(exc_info, path, line)


def test_bom_empty_file_and_output_as_input():
    with make_tempdir() as tmp:
        path = tmp / "a.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + choice("fly", ["flight"]).encode() + b"\r\n")
        assert [d.cats["flight"] for d in read_prodigy(path)] == [1.0]
        with pytest.raises(ConversionError, match="same file|is the input"):
            convert("prodigy", path, path)
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
        (tmp / "e.jsonl").write_text("\n \n")
        with pytest.raises(ConversionError, match="no annotated documents"):
            read_prodigy(tmp / "e.jsonl")


def test_cli_writes_the_corpus_and_fails_in_one_line(capsys):
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", [choice("fly to oslo", ["flight"])])
        assert main(["convert", "prodigy", str(path), str(tmp / "a.spacy")]) == 0
        assert [d.cats for d in load(tmp / "a.spacy")] == [{"flight": 1.0, "hotel": 0.0}]
        write_lines(path, ["{not json"])
        assert main(["convert", "prodigy", str(path), str(tmp / "a.spacy")]) == 1
        assert load(tmp / "a.spacy")[0].text == "fly to oslo"  # the old output is kept
    err = capsys.readouterr().err
    assert "line 1: invalid JSON" in err and "Traceback" not in err


VOCAB = ["fly", "to", "new", "york", "a", "room", "é", "東京"]
WORDS = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8)


@FUZZ
@given(st.lists(st.tuples(WORDS, st.data()), min_size=1, max_size=5))
def test_property_sessions_round_trip(items):
    """Random texts, an intent session and a slots session: each document gets both, exactly."""
    intents, slots, expected = [], [], {}
    for words, data in items:
        text = " ".join(words)
        starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        chosen = sorted(data.draw(st.sets(st.integers(0, len(words) - 1), max_size=3)))
        spans = [(starts[i], starts[i] + len(words[i]), f"L{i % 2}") for i in chosen]
        intent = data.draw(st.sampled_from(["flight", "hotel"]))
        if text in expected:
            continue
        expected[text] = (intent, [(text[s:e], label) for s, e, label in spans])
        intents.append(choice(text, [intent]))
        slots.append(manual(text, spans))
    with make_tempdir() as tmp:
        write_lines(tmp / "s" / "a.jsonl", intents)
        write_lines(tmp / "s" / "b.jsonl", slots[::-1])
        assert convert("prodigy", tmp / "s", tmp / "out.spacy") == len(expected)
        docs = load(tmp / "out.spacy")
    for doc in docs:
        intent, ents = expected[doc.text]
        assert max(doc.cats, key=doc.cats.get) == intent and sum(doc.cats.values()) == 1.0
        assert [(e.text, e.label_) for e in doc.ents] == ents
        assert all(t.ent_iob != 0 for t in doc)


def tokens_of(text):
    """Prodigy's tokens of a text split at spaces: text, start, end, id, ws."""
    tokens, at = [], 0
    for i, word in enumerate(text.split(" ")):
        tokens.append({"text": word, "start": at, "end": at + len(word), "id": i, "ws": True})
        at += len(word) + 1
    tokens[-1]["ws"] = False
    return tokens


def textcat_teach(text, label, answer, view=True):
    """A textcat.teach answer: the label asked about, the pattern matches as (empty) spans."""
    record = {"text": text, "meta": {"section": "AskReddit", "score": 0.73}, "label": label}
    record.update({"score": 0.73, "priority": 0.73, "spans": [], "_input_hash": 1})
    record.update({"_task_hash": 2, "answer": answer})
    if view:
        record["_view_id"] = "classification"
    return json.dumps(record)


def ner_teach(text, start, end, label, answer):
    """A ner.teach answer: the text's tokens and one span the model suggested."""
    tokens = tokens_of(text)
    first = next(t["id"] for t in tokens if t["start"] == start)
    last = next(t["id"] for t in tokens if t["end"] == end)
    span = {"start": start, "end": end, "text": text[start:end], "rank": 0, "label": label}
    span.update({"score": 0.51, "source": "en_core_web_sm", "input_hash": 7})
    span.update({"token_start": first, "token_end": last})
    record = {"text": text, "_input_hash": 7, "_task_hash": 8, "tokens": tokens}
    record.update({"spans": [span], "meta": {"score": 0.51}, "_view_id": "ner"})
    return json.dumps({**record, "answer": answer})


def test_textcat_teach_answers_with_empty_spans_are_categories():
    """Issue 3: "spans": [] on a classification answer says nothing about entities."""
    lines = [
        textcat_teach("you are a fool", "INSULT", "accept"),
        textcat_teach("what a nice day", "INSULT", "reject"),
        textcat_teach("go away idiot", "INSULT", "accept", view=False),
        textcat_teach("thanks a lot", "INSULT", "reject", view=False),
    ]
    with make_tempdir() as tmp:
        docs, caught = read(tmp, lines)
    # Binary answers only: multi-label, each rejection a 0.0.
    assert [d.cats for d in docs] == [{"INSULT": v} for v in (1.0, 0.0, 1.0, 0.0)]
    assert not any(has_ents(doc) for doc in docs) and caught == []


def test_cli_reads_textcat_teach_answers_as_categories(capsys):
    lines = [textcat_teach("you fool", "INSULT", "accept"), textcat_teach("hi", "INSULT", "reject")]
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", lines)
        assert main(["convert", "prodigy", str(path), str(tmp / "out.spacy")]) == 0
    out, err = capsys.readouterr()
    assert "Wrote 2 documents" in out and "tasks: cats (ents missing)." in out and err == ""


def test_ner_manual_accept_without_spans_means_no_entities():
    """Issue 4: an accepted ner_manual text without "spans" has no entities: every token O."""
    record = {"text": "hello there", "tokens": tokens_of("hello there"), "_view_id": "ner_manual"}
    record.update({"_input_hash": 3, "_task_hash": 4, "answer": "accept"})
    with make_tempdir() as tmp:
        docs, caught = read(tmp, [json.dumps(record), manual("fly to oslo", [(7, 11, "city")])])
    assert [t.ent_iob_ for t in docs[0]] == ["O", "O"] and not has_cats(docs[0])
    assert caught == []


def test_ner_teach_accepts_confirm_their_spans_only():
    """Issue 5: a binary accept annotates its span; the other tokens stay missing, also where
    a textcat.teach session judged the same text."""
    text = "fly from oslo to lima"
    with make_tempdir() as tmp:
        write_lines(
            tmp / "s" / "1-ner.jsonl",
            [
                ner_teach(text, 9, 13, "city", "accept"),
                ner_teach(text, 17, 21, "city", "accept"),
                ner_teach(text, 0, 3, "city", "reject"),
                ner_teach("rome is far", 0, 4, "city", "accept"),
            ],
        )
        write_lines(tmp / "s" / "2-textcat.jsonl", [textcat_teach(text, "TRAVEL", "accept")])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            docs = read_prodigy(tmp / "s")
    assert [t.ent_iob_ for t in docs[0]] == ["", "", "B", "", "B"]
    assert [(e.text, e.label_) for e in docs[0].ents] == [("oslo", "city"), ("lima", "city")]
    assert docs[0].cats == {"TRAVEL": 1.0}
    assert [t.ent_iob_ for t in docs[1]] == ["B", "", ""] and not has_cats(docs[1])
    assert "1 rejected answers" in str(caught[0].message)


def test_the_interface_decides_what_a_record_annotates():
    """A task shows more than it asks: textcat.manual over tasks with spans judges the
    categories only; ner.manual over tasks with options judges the entities only."""
    text = "fly to oslo"
    spans = [{"start": 7, "end": 11, "label": "city", "token_start": 2, "token_end": 2}]
    shown = {"text": text, "tokens": tokens_of(text), "spans": spans, "options": OPTIONS}
    lines = [
        json.dumps({**shown, "accept": ["hotel"], "_view_id": "choice", "answer": "accept"}),
        json.dumps({**shown, "text": "a room", "tokens": tokens_of("a room"), "spans": []}),
    ]
    # The model's intent ("accept") rides along in a ner_manual task: no one judged it.
    ner = json.loads(lines[1])
    lines[1] = json.dumps(
        {**ner, "accept": ["flight"], "_view_id": "ner_manual", "answer": "accept"}
    )
    with make_tempdir() as tmp:
        docs, _ = read(tmp, lines)
    assert docs[0].cats == {"flight": 0.0, "hotel": 1.0} and not has_ents(docs[0])
    assert not has_cats(docs[1]) and [t.ent_iob_ for t in docs[1]] == ["O", "O"]


def test_tasks_left_out_stay_missing():
    """Issue 7: --tasks is passed on; a text annotated only for a task left out is dropped."""
    lines = [choice("fly to oslo", ["flight"]), manual("fly to oslo", [(7, 11, "city")])]
    lines.append(manual("a room", []))
    with make_tempdir() as tmp:
        path = write_lines(tmp / "a.jsonl", lines)
        cats_only = read_prodigy(path, tasks=["cats"])
        ents_only = read_prodigy(path, tasks=["ents"])
        assert convert("prodigy", path, tmp / "out.spacy", tasks="ents") == 2
    assert [d.text for d in cats_only] == ["fly to oslo"] and not has_ents(cats_only[0])
    assert [d.text for d in ents_only] == ["fly to oslo", "a room"]
    assert not any(has_cats(doc) for doc in ents_only) and ents_only[0].ents[0].text == "oslo"
