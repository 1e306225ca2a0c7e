"""Entity confidence calibration: it lowers span ECE, is stored in the head, survives saving."""

import numpy
import pytest
import spacy
from conftest import HELD_OUT, SENTENCES, build_nlp, make_examples
from spacy.training import Example
from spacy.util import fix_random_seed, make_tempdir

from spacy_mtl.calibrate.entities import fit_entity_calibration
from spacy_mtl.ml.tagger import crf_module
from spacy_mtl.pipeline.checked_loading import ComponentLoadError
from spacy_mtl.pipeline.entity_confidence import entity_confidence

TEXTS = [text for text, _, _ in SENTENCES + HELD_OUT]


@pytest.fixture(scope="module")
def over_confident():
    """An entities-only pipeline, its CRF scores multiplied by 4 (far too sure), and dev
    examples whose gold swaps FROM and TO: its FROM/TO entities are wrong, its others right."""
    fix_random_seed(0)
    nlp = build_nlp(order=("mtl_ner",))
    examples = make_examples(nlp, SENTENCES, cats=False)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    ner = nlp.get_pipe("mtl_ner")
    output = ner.model.get_ref("output_layer")
    for name in ("W", "b"):
        output.set_param(name, output.get_param(name) * 4)
    crf = crf_module(ner.model)
    for param in crf.parameters():
        param.data *= 4
    swap = {"FROM": "TO", "TO": "FROM"}
    dev = [
        (text, intent, [(ent, swap.get(label, label)) for ent, label in ents])
        for text, intent, ents in SENTENCES + HELD_OUT
    ]
    return nlp, dev


def _entities(nlp, texts=TEXTS):
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]


@pytest.mark.parametrize("method", ["temperature", "platt", "auto"])
def test_calibration_lowers_span_ece_of_an_over_confident_model(over_confident, method):
    nlp, dev = over_confident
    ner = nlp.get_pipe("mtl_ner")
    ner.set_calibration(None)
    before = _entities(nlp)
    result = fit_entity_calibration(nlp, "mtl_ner", make_examples(nlp, dev, cats=False), method)
    if method == "auto":  # the method of least two-fold cross-validated log-loss
        cv = result["cv_log_loss"]
        assert set(cv) == {"temperature", "platt"}
        method = min(cv, key=cv.__getitem__)
    else:
        assert result["cv_log_loss"] is None
    assert result["method"] == method
    assert 0 < result["n_correct"] < result["n_spans"]
    # Raw confidences near 1 for spans of which about half are right.
    assert result["ece_before"] > 0.2
    assert result["ece_after"] < result["ece_before"] / 2
    assert result["nll_after"] < result["nll_before"]
    assert ner.calibration["method"] == method
    # Calibration changes the confidences, never the entities.
    assert _entities(nlp) == before
    confidences = [entity_confidence(e) for doc in nlp.pipe(TEXTS) for e in doc.ents]
    assert max(confidences) < 0.99


def test_stored_calibration_survives_to_bytes_and_to_disk(over_confident):
    nlp, dev = over_confident
    fit_entity_calibration(nlp, "mtl_ner", make_examples(nlp, dev, cats=False))
    stored = nlp.get_pipe("mtl_ner").calibration
    expected = [[entity_confidence(e) for e in doc.ents] for doc in nlp.pipe(TEXTS)]
    copy = build_nlp(order=("mtl_ner",))
    copy.get_pipe("mtl_ner").add_label("FROM")
    copy.from_bytes(nlp.to_bytes())
    with make_tempdir() as path:
        nlp.to_disk(path)
        loaded = spacy.load(path)
    for other in (copy, loaded):
        assert other.get_pipe("mtl_ner").calibration == stored
        got = [[entity_confidence(e) for e in doc.ents] for doc in other.pipe(TEXTS)]
        for a, b in zip(got, expected):
            numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_tampered_calibration_is_named_on_load(over_confident):
    nlp, _ = over_confident
    with make_tempdir() as path:
        nlp.to_disk(path)
        cfg = path / "mtl_ner" / "cfg"
        cfg.write_text(
            cfg.read_text().replace(
                '"confidence_calibration":',
                '"confidence_calibration":{"method":"temperature","temperature":-1},"x":',
            ),
            encoding="utf8",
        )
        with pytest.raises(ComponentLoadError, match="temperature must be above 0"):
            spacy.load(path)


def test_bad_dev_data_and_components_get_clear_errors(over_confident):
    nlp, dev = over_confident
    cats_only = make_examples(nlp, dev, entities=False)
    with pytest.raises(ValueError, match="None of the 24 dev documents annotates entities"):
        fit_entity_calibration(nlp, "mtl_ner", cats_only)
    with pytest.raises(ValueError, match="no component 'ner'"):
        fit_entity_calibration(nlp, "ner", make_examples(nlp, dev, cats=False))
    with pytest.raises(ValueError, match="not an mtl_ner"):
        fit_entity_calibration(nlp, "mtl_tok2vec", make_examples(nlp, dev, cats=False))
    with pytest.raises(ValueError, match="Unknown entity calibration method"):
        fit_entity_calibration(nlp, "mtl_ner", make_examples(nlp, dev, cats=False), "isotonic")
    empty = [Example.from_dict(nlp.make_doc("."), {"entities": []})]
    with pytest.raises(ValueError, match="predicts no entity on the 1 dev documents"):
        fit_entity_calibration(nlp, "mtl_ner", empty)
