"""augment: every new sentence is a template of the corpus with values of its own intent and
slot type, annotated like it; none repeats a training sentence or another; a seed fixes the
output; bad input stops with one sentence naming the file and what to fix."""

from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, DocBin, Span
from spacy.util import make_tempdir
from spacy.vocab import Vocab

from spacy_mtl.__main__ import main
from spacy_mtl.augment.api import augment_corpus
from spacy_mtl.augment.generate import sentence_key

WORDS = ["fly", "to", "play", "in", "the", "rain", "me", "a"]
VALUES = ["oslo", "new york", "lima", "bach", "queen", "san jose", "today", "jazz"]

# A sentence: (intent or None, [word | (slot label, value)], entities annotated?)
part = st.one_of(
    st.sampled_from(WORDS), st.tuples(st.sampled_from(["CITY", "DATE"]), st.sampled_from(VALUES))
)
sentence = st.tuples(
    st.sampled_from(["flight", "music", None]),
    st.lists(part, min_size=1, max_size=6),
    st.booleans(),
)


def make_docs(vocab: Vocab, sentences) -> list:
    docs = []
    for intent, parts, annotated in sentences:
        words, spans = [], []
        for item in parts:
            if isinstance(item, tuple):
                spans.append((len(words), len(words) + len(item[1].split()), item[0]))
                words.extend(item[1].split())
            else:
                words.append(item)
        doc = Doc(vocab, words=words)
        if annotated:
            doc.set_ents([Span(doc, *span) for span in spans], default="outside")
        if intent:
            doc.cats = {"flight": float(intent == "flight"), "music": float(intent == "music")}
        docs.append(doc)
    return docs


def write(path: Path, docs) -> Path:
    DocBin(docs=docs).to_disk(path)
    return path


def read(path: Path, vocab: Vocab) -> list:
    return list(DocBin().from_disk(path).get_docs(vocab))


def skeleton(doc: Doc):
    """The sentence with each slot replaced by its label: what a template is."""
    out, i = [], 0
    for ent in doc.ents:
        out += [t.text for t in doc[i : ent.start]] + [f"<{ent.label_}>"]
        i = ent.end
    return tuple(out + [t.text for t in doc[i:]])


def intent_of(doc: Doc):
    return tuple(sorted(label for label, value in doc.cats.items() if value >= 0.5))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sentence, min_size=1, max_size=12), st.integers(0, 3), st.sampled_from([1, 3]))
def test_new_sentences_are_templates_refilled_within_their_intent(sentences, seed, factor):
    vocab = Vocab()
    gold = make_docs(vocab, sentences)
    templates = [d for d in gold if d.ents and all(t.ent_iob for t in d)]
    with make_tempdir() as tmp:
        train = write(tmp / "train.spacy", gold)
        try:
            summary = augment_corpus(train, tmp / "new.spacy", factor=factor, seed=seed)
        except ValueError as err:  # no template, or nothing to swap: said, nothing written
            if "can be a template" in str(err):
                assert not templates
            else:
                assert "no new sentence can be made" in str(err)
            assert not (tmp / "new.spacy").exists()
            return
        new = read(tmp / "new.spacy", vocab)
        again = augment_corpus(train, tmp / "again.spacy", factor=factor, seed=seed)
        assert (tmp / "again.spacy").read_bytes() == (tmp / "new.spacy").read_bytes()
    assert summary == again and summary.n_made == len(new) <= factor * len(gold)
    values = defaultdict(set)
    for doc in templates:
        for ent in doc.ents:
            values[(intent_of(doc), ent.label_)].add(ent.text)
    shapes = {(skeleton(doc), intent_of(doc), tuple(sorted(doc.cats.items()))) for doc in templates}
    keys = [sentence_key(doc.text) for doc in new]
    assert len(set(keys)) == len(keys), "a sentence made twice"
    assert not set(keys) & {sentence_key(doc.text) for doc in gold}, "a training sentence"
    for doc in new:
        assert all(token.ent_iob != 0 and token.text for token in doc)
        assert (skeleton(doc), intent_of(doc), tuple(sorted(doc.cats.items()))) in shapes
        assert all(ent.text in values[(intent_of(doc), ent.label_)] for ent in doc.ents)


def test_a_small_corpus_gives_what_it_has_and_says_so(tmp_path, capsys):
    vocab = Vocab()
    gold = make_docs(
        vocab,
        [
            ("flight", ["fly", "to", ("CITY", "oslo")], True),
            ("flight", ["fly", "to", ("CITY", "lima")], True),
            ("flight", ["the", ("CITY", "new york"), "rain"], True),
            ("music", ["play", ("CITY", "queen")], True),  # alone in its intent: nothing to swap
            ("music", ["play", "jazz"], False),
        ],
    )
    train = write(tmp_path / "train.spacy", gold)
    out = tmp_path / "new.spacy"
    assert main(["augment", str(train), str(out), "--factor", "3", "--seed", "7"]) == 0
    captured = capsys.readouterr()
    assert "15 new sentences asked, 3 made" in captured.err
    texts = sorted(doc.text.strip() for doc in read(out, vocab))
    assert texts == ["fly to new york", "the lima rain", "the oslo rain"]
    assert "Wrote 3 new sentences from 4 of 5 documents" in captured.out


def _fails(capsys, *args) -> str:
    assert main(["augment", *map(str, args)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("augment failed: ") and "Traceback" not in err
    return err


def test_bad_inputs_and_outputs_are_named(tmp_path, capsys):
    vocab = Vocab()
    sentences = [("flight", ["fly", ("CITY", c)], True) for c in ("oslo", "lima")]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    out = tmp_path / "new.spacy"
    assert f"{tmp_path / 'no.spacy'}: no such file" in _fails(capsys, tmp_path / "no.spacy", out)
    assert "is a folder, where a .spacy" in _fails(capsys, tmp_path, out)
    garbage = tmp_path / "bom.spacy"
    garbage.write_bytes(b'\xef\xbb\xbf{"text": "\xed\xa0\x80"}\n')
    assert f"{garbage}: not a .spacy file" in _fails(capsys, garbage, out)
    empty = write(tmp_path / "empty.spacy", [])
    assert f"{empty}: holds no documents" in _fails(capsys, empty, out)
    intents_only = write(tmp_path / "cats.spacy", make_docs(vocab, [("music", ["play"], False)]))
    assert "none of its 1 documents can be a template" in _fails(capsys, intents_only, out)
    one_value = write(tmp_path / "one.spacy", make_docs(vocab, sentences[:1] * 2))
    assert "no new sentence can be made" in _fails(capsys, one_value, out)
    for factor in ("0", "-1", "nan", "inf"):
        assert f"--factor {float(factor)}" in _fails(capsys, train, out, "--factor", factor)
    assert "is the input" in _fails(capsys, train, train)
    assert "is a folder, not a regular file" in _fails(capsys, train, tmp_path)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "not a folder" in _fails(capsys, train, a_file / "new.spacy")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["train.spacy", "bom.spacy", "empty.spacy", "cats.spacy", "one.spacy", "file"]
    )


def test_a_rerun_replaces_the_output_whole(tmp_path):
    vocab = Vocab()
    pairs = [("oslo", "lima"), ("lima", "rome"), ("rome", "oslo")]
    sentences = [("flight", ["fly", ("CITY", a), "to", ("CITY", b)], True) for a, b in pairs]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    out = tmp_path / "new.spacy"
    out.write_bytes(b"old")
    assert augment_corpus(train, out, factor=1, seed=0).n_made == 3
    assert len(read(out, vocab)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.spacy", "train.spacy"]


@pytest.mark.parametrize("seed", [0, 1])
def test_another_seed_draws_other_sentences_in_another_order(tmp_path, seed):
    vocab = Vocab()
    cities = ["oslo", "lima", "rome", "kyoto", "quito", "accra"]
    sentences = [("flight", ["fly", "to", ("CITY", c), "from", ("CITY", c)], True) for c in cities]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    texts = {}
    for s in (seed, seed + 10):
        augment_corpus(train, tmp_path / f"{s}.spacy", factor=1, seed=s)
        texts[s] = [doc.text for doc in read(tmp_path / f"{s}.spacy", vocab)]
    assert texts[seed] != texts[seed + 10] and len(texts[seed]) == 6
