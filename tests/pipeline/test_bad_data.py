"""Bad gold data is found before training, and broken pipelines fail to load with a clear error."""

import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from conftest import SENTENCES, build_nlp, make_examples
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import make_tempdir

from spacy_mtl.pipeline.checked_loading import ComponentLoadError
from spacy_mtl.pipeline.head import GoldDataWarning

REPO = Path(__file__).resolve().parent.parent.parent


def _with_bad_cats(nlp, bad):
    """The joint examples, with two positive categories at the indexes in `bad`."""
    examples = make_examples(nlp, SENTENCES)
    for i in bad:
        examples[i].reference.cats = {"flight": 1.0, "music": 1.0, "weather": 0.0}
    return examples


def test_initialize_names_every_document_with_bad_cats_before_training():
    nlp = build_nlp()
    examples = _with_bad_cats(nlp, [3, 17])
    with pytest.raises(ValueError) as err:
        nlp.initialize(lambda: examples)
    message = str(err.value)
    assert "mtl_textcat cannot learn from 2 training example(s)" in message
    assert "training example 3 ('get me to dakar on friday')" in message
    assert "training example 17 ('shuffle songs by queen')" in message
    assert "2 positive categories ['flight', 'music']" in message


def test_initialize_names_entities_that_do_not_align_with_the_tokens():
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    # The gold entity "os" ends inside the predicted token "oslo".
    words, spaces = ["fly", "from", "os", "lo"], [True, True, False, False]
    gold = {"words": words, "spaces": spaces, "entities": ["O", "O", "U-FROM", "O"]}
    examples.append(Example.from_dict(nlp.make_doc("fly from oslo"), gold))
    with pytest.raises(ValueError, match=r"training example 18 .*gold entity 'os' \(FROM"):
        nlp.initialize(lambda: examples)


def test_labels_given_at_initialize_that_miss_a_gold_label_name_the_documents():
    nlp = build_nlp()
    examples = make_examples(nlp, SENTENCES)
    nlp.config["initialize"]["components"] = {}
    with pytest.raises(ValueError, match=r"training example 0 .*labels \['TO'\] not among"):
        nlp.get_pipe("mtl_tok2vec").initialize(lambda: examples)
        nlp.get_pipe("mtl_ner").initialize(
            lambda: examples, nlp=nlp, labels=["ARTIST", "CITY", "DATE", "FROM"]
        )


def test_evaluation_data_with_bad_cats_warns_and_is_still_scored(trained_nlp):
    examples = _with_bad_cats(trained_nlp, [0])
    with pytest.warns(GoldDataWarning, match=r"document 0 .*2 positive categories"):
        scores = trained_nlp.evaluate(examples)
    assert scores["cats_n_docs"] == len(SENTENCES)


@pytest.mark.slow
def test_a_bad_document_at_the_end_of_a_streamed_corpus_stops_training_before_step_0(tmp_path):
    nlp = spacy.blank("en")
    cats, ents = DocBin(), DocBin()
    for i, eg in enumerate(make_examples(nlp, SENTENCES * 22)):  # 396 documents
        doc = eg.reference
        if i == 395:
            doc.cats = {"flight": 1.0, "music": 1.0, "weather": 0.0}
        (cats if i % 2 else ents).add(doc)
    cats.to_disk(tmp_path / "cats.spacy")
    ents.to_disk(tmp_path / "ents.spacy")
    DocBin(docs=[eg.reference for eg in make_examples(nlp, SENTENCES)]).to_disk(
        tmp_path / "dev.spacy"
    )
    result = subprocess.run(
        [
            sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "separate.cfg"),
            "--output", str(tmp_path / "model"),
            "--paths.train_cats", str(tmp_path / "cats.spacy"),
            "--paths.train_ents", str(tmp_path / "ents.spacy"),
            "--paths.dev", str(tmp_path / "dev.spacy"),
            "--training.max_steps", "20",
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "document 197 ('shuffle songs by queen' from source 'cats')" in result.stderr
    assert not (tmp_path / "model" / "model-best").exists()
    assert not (tmp_path / "model" / "model-last").exists()


def test_labels_edited_out_of_step_with_the_weights_fail_to_load(trained_nlp):
    with make_tempdir() as tmp:
        trained_nlp.to_disk(tmp)
        cfg = srsly.read_json(tmp / "mtl_ner" / "cfg")
        cfg["labels"] = cfg["labels"][1:]
        srsly.write_json(tmp / "mtl_ner" / "cfg", cfg)
        with pytest.raises(ComponentLoadError, match=r"'mtl_ner' \(.*mtl_ner\): its 4 labels"):
            spacy.load(tmp)


def test_a_truncated_model_file_names_the_component_and_the_file(trained_nlp):
    with make_tempdir() as tmp:
        trained_nlp.to_disk(tmp)
        model = tmp / "mtl_textcat" / "model"
        model.write_bytes(model.read_bytes()[:100])
        with pytest.raises(
            ComponentLoadError,
            match=r"'mtl_textcat' could not load its weights from .*mtl_textcat/model",
        ):
            spacy.load(tmp)
        (tmp / "mtl_textcat" / "cfg").write_text("{not json")
        with pytest.raises(ComponentLoadError, match=r"'mtl_textcat': .*cfg is not valid JSON"):
            spacy.load(tmp)


def test_corrupted_bytes_name_the_component(trained_nlp):
    data = trained_nlp.get_pipe("mtl_tok2vec").to_bytes()
    with pytest.raises(ComponentLoadError, match="'mtl_tok2vec' could not load from bytes"):
        trained_nlp.get_pipe("mtl_tok2vec").from_bytes(data[: len(data) // 2])


def test_a_head_whose_encoder_is_disabled_raises_naming_the_encoder(trained_nlp):
    with pytest.raises(ValueError, match=r"'mtl_textcat' got a document without token vectors"):
        list(trained_nlp.pipe(["fly to oslo"], disable=["mtl_tok2vec"]))
    assert trained_nlp("fly to oslo").cats  # with the encoder, all is well
