"""A pipeline whose files were edited after training fails to load, naming what differs.

The heads store what their weights were trained for (labels in order, exclusivity,
the tag layout) inside the weights, so an edited `cfg` cannot relabel the outputs.
"""

import shutil

import pytest
import spacy
import srsly
from spacy.util import make_tempdir

from spacy_mtl.loader import PipelineLoadError, load_pipeline
from spacy_mtl.pipeline.checked_loading import ComponentLoadError
from spacy_mtl.pipeline.trained_for import TRAINED_FOR_ATTR

TEXT = "fly from oslo to lima tomorrow"


@pytest.fixture
def pipeline(served_pipeline, tmp_path):
    """A copy of the session's trained pipeline, free to edit."""
    path = tmp_path / "pipeline"
    shutil.copytree(served_pipeline, path)
    return path


def _edit_cfg(path, component, **changes):
    cfg = srsly.read_json(path / component / "cfg")
    cfg.update(changes)
    srsly.write_json(path / component / "cfg", cfg)


def test_swapped_textcat_labels_fail_to_load_naming_the_file_and_the_labels(pipeline):
    _edit_cfg(pipeline, "mtl_textcat", labels=["music", "flight", "weather"])
    with pytest.raises(ComponentLoadError) as err:
        spacy.load(pipeline)
    message = str(err.value)
    assert "'mtl_textcat'" in message and str(pipeline / "mtl_textcat" / "cfg") in message
    assert "['music', 'flight', 'weather']" in message
    assert "['flight', 'music', 'weather']" in message


def test_a_renamed_entity_label_fails_to_load(pipeline):
    labels = srsly.read_json(pipeline / "mtl_ner" / "cfg")["labels"]
    _edit_cfg(pipeline, "mtl_ner", labels=["PLACE"] + labels[1:])
    with pytest.raises(ComponentLoadError, match=r"'mtl_ner'.*labels.*'PLACE'.*'ARTIST'"):
        spacy.load(pipeline)


def test_flipped_exclusive_classes_in_cfg_fails_to_load(pipeline):
    _edit_cfg(pipeline, "mtl_textcat", exclusive_classes=False)
    with pytest.raises(ComponentLoadError, match=r"exclusive_classes = False.*trained .*True"):
        spacy.load(pipeline)


def test_exclusive_classes_overridden_at_load_is_refused_not_ignored(pipeline):
    config = {"components": {"mtl_textcat": {"exclusive_classes": False}}}
    with pytest.raises(ComponentLoadError, match=r"config.*exclusive_classes = False.*retrain"):
        spacy.load(pipeline, config=config)


def test_a_tampered_component_fails_to_load_from_bytes(served_pipeline):
    nlp = spacy.load(served_pipeline)
    textcat = nlp.get_pipe("mtl_textcat")
    textcat.cfg["labels"] = ["weather", "music", "flight"]
    data = textcat.to_bytes()
    with pytest.raises(ComponentLoadError, match=r"'mtl_textcat' \(bytes\).*'weather'"):
        spacy.load(served_pipeline).get_pipe("mtl_textcat").from_bytes(data)


def test_a_pipeline_saved_before_the_record_still_loads_and_predicts_the_same(served_pipeline):
    nlp = spacy.load(served_pipeline)
    expected = nlp(TEXT)
    for _, proc in nlp.pipeline:
        proc.model.attrs.pop(TRAINED_FOR_ATTR, None)
    with make_tempdir() as tmp:
        nlp.to_disk(tmp)
        assert b"spacy_mtl_trained_for" not in (tmp / "mtl_textcat" / "model").read_bytes()
        doc = spacy.load(tmp)(TEXT)
    assert doc.cats == expected.cats
    assert [(e.text, e.label_) for e in doc.ents] == [(e.text, e.label_) for e in expected.ents]


def test_an_untouched_pipeline_keeps_its_record_through_a_round_trip(served_pipeline):
    nlp = spacy.load(served_pipeline)
    record = nlp.get_pipe("mtl_ner").model.attrs[TRAINED_FOR_ATTR]
    assert record["labels"] == list(nlp.get_pipe("mtl_ner").labels)
    assert record["tags"][0] == "O"
    with make_tempdir() as tmp:
        nlp.to_disk(tmp)
        assert spacy.load(tmp)(TEXT).cats == nlp(TEXT).cats


@pytest.mark.parametrize("lang", ["zh", "de"])
def test_a_config_language_other_than_the_saved_one_is_named(pipeline, lang):
    config = (pipeline / "config.cfg").read_text(encoding="utf8")
    config = config.replace('lang = "en"', f'lang = "{lang}"')
    # As configs/*.cfg write it: the tokenizer of whatever language [nlp] names.
    config = config.replace('"spacy.Tokenizer.v1"', '"spacy_mtl.LanguageTokenizer.v1"')
    (pipeline / "config.cfg").write_text(config, encoding="utf8")
    with pytest.raises(PipelineLoadError) as err:
        load_pipeline(str(pipeline))
    message = str(err.value)
    assert f'lang = "{lang}"' in message and "'en'" in message
    assert str(pipeline / "config.cfg") in message and "tokenizer" in message
