"""augment: every new sentence is a template of the corpus with values of its own intent and
slot type, annotated like it; none repeats a training sentence or another; a seed fixes the
output; bad input stops with one sentence naming the file and what to fix."""

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import Doc, DocBin, Span
from spacy.util import make_tempdir
from spacy.vocab import Vocab

from spacy_mtl.__main__ import main
from spacy_mtl.augment.api import AugmentError, augment_corpus
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


def test_spacy_mtl_augment_help_lists_its_options():
    command = [sys.executable, "-m", "spacy", "mtl", "augment", "--help"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for option in ["TRAIN", "OUTPUT", "--factor", "--seed"]:
        assert option in shown


def test_usage_errors_name_the_argument_or_option(tmp_path, capsys):
    train = write(tmp_path / "train.spacy", make_docs(Vocab(), _sentences(3)))
    out = tmp_path / "new.spacy"
    for args, name in [
        ([tmp_path / "no.spacy", out], "TRAIN"),
        ([tmp_path, out], "TRAIN"),
        ([train], "OUTPUT"),
        ([train, out, "--factor", "many"], "'--factor'"),
        ([train, out, "--seed", "1.5"], "'--seed'"),
    ]:
        assert main(["augment", *map(str, args)]) == 2
        err = capsys.readouterr().err
        assert name in err and "Traceback" not in err
    assert not out.exists()


def test_bad_inputs_and_outputs_are_named(tmp_path, capsys):
    vocab = Vocab()
    sentences = [("flight", ["fly", ("CITY", c)], True) for c in ("oslo", "lima")]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    out = tmp_path / "new.spacy"
    # the command line refuses these before the library; the library names them too
    with pytest.raises(AugmentError, match="no.spacy: no such file"):
        augment_corpus(tmp_path / "no.spacy", out, factor=1, seed=0)
    with pytest.raises(AugmentError, match="is a folder, where a .spacy"):
        augment_corpus(tmp_path, out, factor=1, seed=0)
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


def _sentences(n_cities):
    """Sentences of two shapes, one city each: "fly to oslo", "the lima rain", ..."""
    cities = ["oslo", "lima", "rome", "kyoto", "quito", "accra", "perth", "riga"][:n_cities]
    shapes = [["fly", "to", None], ["the", None, "rain"]]
    return [
        ("flight", [("CITY", c) if w is None else w for w in shapes[i % 2]], True)
        for i, c in enumerate(cities)
    ]


@pytest.mark.parametrize("factor", ["1e9", "1e308", "100000000000000000000"])
def test_a_factor_beyond_every_filling_is_capped_up_front_and_ends(factor, tmp_path, capsys):
    """Before, --factor 1e9 drew until killed. The fillings are counted first: 3 templates
    with 3 values each have 9, 3 of them new sentences."""
    vocab = Vocab()
    sentences = [
        ("flight", ["fly", "to", ("CITY", "oslo")], True),
        ("flight", ["fly", "to", ("CITY", "lima")], True),
        ("flight", ["the", ("CITY", "rome"), "rain"], True),
    ]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    out = tmp_path / "new.spacy"
    assert main(["augment", str(train), str(out), "--factor", factor]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith(f"Note: --factor {float(factor)} asks for ")
    assert "the 3 templates and their slot values have 9 fillings" in err
    assert "(--factor 3 asks for all)" in err and "3 made" in err
    texts = sorted(doc.text.strip() for doc in read(out, vocab))
    assert texts == ["fly to rome", "the lima rain", "the oslo rain"]


def test_every_filling_is_made_when_asked_for_all(tmp_path):
    vocab = Vocab()
    sentences = [
        ("flight", ["fly", ("CITY", a), "to", ("CITY", b)], True)
        for a, b in [("oslo", "lima"), ("lima", "rome"), ("rome", "oslo")]
    ]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    summary = augment_corpus(train, tmp_path / "new.spacy", factor=1e9, seed=3)
    # 3 templates of the same shape x 3 x 3 values: 9 distinct sentences, 3 of them training.
    assert (summary.n_possible, summary.n_made) == (27, 6)
    texts = {doc.text.strip() for doc in read(tmp_path / "new.spacy", vocab)}
    assert len(texts) == 6 and "fly oslo to oslo" in texts


def test_a_run_over_the_most_sentences_is_refused_naming_the_largest_factor(
    tmp_path, capsys, monkeypatch
):
    import spacy_mtl.augment.api as api

    monkeypatch.setattr(api, "MAX_SENTENCES", 10)
    vocab = Vocab()
    sentences = [
        ("flight", ["fly", ("CITY", a), "to", ("CITY", b)], True)
        for a, b in [("oslo", "lima"), ("lima", "rome"), ("rome", "kyoto"), ("kyoto", "oslo")]
    ]
    train = write(tmp_path / "train.spacy", make_docs(vocab, sentences))
    out = tmp_path / "new.spacy"
    err = _fails(capsys, train, out, "--factor", "5")
    assert (
        "--factor 5.0 asks for 20 new sentences" in err and "the templates have 64 fillings" in err
    )
    assert "one run makes at most 10" in err and "Give --factor 2.5 or less." in err
    assert not out.exists()
    assert augment_corpus(train, out, factor=2.5, seed=0).n_made == 10


@pytest.mark.parametrize(
    "cats,reason",
    [
        ({"flight": 0.0, "music": 0.0}, "no positive category"),
        ({"flight": float("nan"), "music": float("nan")}, "not a category value: flight=nan"),
        ({"flight": 1.0, "music": float("nan")}, "not a category value: music=nan"),
        ({"flight": 1e308, "music": 0.0}, "not a category value: flight=1e+308"),
    ],
)
def test_documents_whose_categories_give_no_intent_are_no_templates(cats, reason, tmp_path, capsys):
    """Before, NaN and all-zero categories were copied into the new sentences."""
    vocab = Vocab()
    docs = make_docs(vocab, _sentences(4))
    docs[1].cats = cats
    train = write(tmp_path / "train.spacy", docs)
    out = tmp_path / "new.spacy"
    assert main(["augment", str(train), str(out), "--factor", "2"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"Warning: {train}: 1 documents are not used as templates" in err
    assert f"(documents 1; document 1: {reason}" in err
    new = read(out, vocab)
    assert new and all(doc.cats == {"flight": 1.0, "music": 0.0} for doc in new)
    assert all("lima" not in doc.text for doc in new)  # document 1's value is no slot value


def test_a_corpus_whose_only_templates_have_bad_categories_is_refused(tmp_path, capsys):
    vocab = Vocab()
    docs = make_docs(vocab, _sentences(2))
    for doc in docs:
        doc.cats = {"flight": float("nan"), "music": 0.0}
    train = write(tmp_path / "train.spacy", docs)
    err = _fails(capsys, train, tmp_path / "new.spacy")
    assert "none of its 2 documents can be a template" in err and "documents 0, 1" in err
    assert not (tmp_path / "new.spacy").exists()


def test_an_output_inside_a_pipeline_folder_is_refused_before_any_work(tmp_path, capsys):
    import spacy

    vocab = Vocab()
    train = write(tmp_path / "train.spacy", make_docs(vocab, _sentences(3)))
    pipeline = tmp_path / "pipeline"
    spacy.blank("en").to_disk(pipeline)
    err = _fails(capsys, train, pipeline / "new.spacy")
    assert "lies inside the pipeline folder" in err and not (pipeline / "new.spacy").exists()
    # an unreadable input is not read when the output is refused: the output is checked first
    garbage = tmp_path / "garbage.spacy"
    garbage.write_bytes(b"not a DocBin")
    err = _fails(capsys, garbage, pipeline / "new.spacy")
    assert "lies inside the pipeline folder" in err
    assert "is the input" in _fails(capsys, train, train)
