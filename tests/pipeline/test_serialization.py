"""Round trips, multiprocessing and awkward documents give the same, valid output."""

import pickle
import subprocess
import sys

import pytest
import spacy
from conftest import HELD_OUT, INTENTS, make_examples
from spacy.util import make_tempdir

TEXTS = [text for text, _, _ in HELD_OUT] + ["", "   ", "fly\n\nto  oslo"]


def _predictions(nlp, texts=TEXTS, **kwargs):
    return [
        (
            doc.text,
            {k: round(v, 5) for k, v in doc.cats.items()},
            [(e.start, e.end, e.label_) for e in doc.ents],
        )
        for doc in nlp.pipe(texts, **kwargs)
    ]


def test_to_disk_from_disk_gives_identical_predictions(trained_nlp):
    expected = _predictions(trained_nlp)
    with make_tempdir() as tmp:
        trained_nlp.to_disk(tmp / "pipeline")
        loaded = spacy.load(tmp / "pipeline")
    assert _predictions(loaded) == expected
    assert loaded.get_pipe("mtl_ner").labels == trained_nlp.get_pipe("mtl_ner").labels


def test_to_bytes_from_bytes_gives_identical_predictions(trained_nlp):
    expected = _predictions(trained_nlp)
    config = trained_nlp.config
    fresh = spacy.util.load_model_from_config(config, auto_fill=False)
    fresh.from_bytes(trained_nlp.to_bytes())
    assert _predictions(fresh) == expected
    assert _predictions(pickle.loads(pickle.dumps(trained_nlp))) == expected


def test_two_processes_give_the_same_output_as_one(trained_nlp):
    texts = TEXTS * 4
    assert _predictions(trained_nlp, texts, n_process=2, batch_size=3) == _predictions(
        trained_nlp, texts
    )


def test_empty_whitespace_and_long_documents_give_valid_output(trained_nlp):
    for text in ["", "   ", "\n\t "]:
        doc = trained_nlp(text)
        assert doc.ents == ()
        assert set(doc.cats) == set(INTENTS)
    long_doc = trained_nlp(" ".join(["fly from oslo to lima tomorrow"] * 834))
    assert len(long_doc) > 5000
    assert sum(long_doc.cats.values()) == pytest.approx(1.0, abs=1e-4)
    assert len(long_doc.ents) >= 834
    assert all(span.label_ in {"FROM", "TO", "DATE", "CITY", "ARTIST"} for span in long_doc.ents)


def test_labels_never_seen_in_training_do_not_break_evaluation(trained_nlp):
    nlp = trained_nlp
    unseen = make_examples(nlp, [("set an alarm for noon", "flight", [("noon", "TIME")])])
    unseen[0].reference.cats = {"alarm": 1.0, "flight": 0.0}
    with pytest.warns(UserWarning) as record:
        scores = nlp.evaluate(unseen + make_examples(nlp, HELD_OUT))
    messages = " ".join(str(w.message) for w in record)
    assert (
        "mtl_textcat: the evaluation data has labels never seen in training: 'alarm' (1 docs)"
        in messages
    )
    assert (
        "mtl_ner: the evaluation data has labels never seen in training: 'TIME' (1 docs)"
        in messages
    )
    assert 0.0 <= scores["cats_acc"] < 1.0
    assert scores["ents_per_type"]["TIME"]["r"] == 0.0


def test_add_pipe_needs_no_import(tmp_path):
    code = (
        "import sys, spacy\n"
        "nlp = spacy.blank('en')\n"
        "for name in ('mtl_tok2vec', 'mtl_textcat', 'mtl_ner'): nlp.add_pipe(name)\n"
        "print(type(nlp.get_pipe('mtl_ner')).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "MultiTaskEntityRecognizer"
