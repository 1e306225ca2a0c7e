"""mtl_textcat: masked losses, both modes, class weights, scoring and errors."""

import numpy
import pytest
import spacy
from conftest import HELD_OUT, INTENTS, REPO, SENTENCES, build_nlp, make_examples
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.util import load_config


def _initialized(**cfg):
    nlp = build_nlp(**cfg)
    nlp.initialize(lambda: make_examples(nlp, SENTENCES))
    return nlp


def _loss_and_grad(nlp, examples):
    textcat = nlp.get_pipe("mtl_textcat")
    docs = list(nlp.get_pipe("mtl_tok2vec").pipe(eg.predicted for eg in examples))
    logits = textcat.model.predict(docs)
    return textcat.get_loss(examples, logits)


def test_documents_without_cats_give_no_loss_and_no_gradient():
    nlp = _initialized()
    entity_only = make_examples(nlp, SENTENCES[:4], cats=False)
    loss, d_logits = _loss_and_grad(nlp, entity_only)
    assert loss == 0.0
    assert numpy.abs(d_logits).sum() == 0.0


def test_mixed_batch_gradient_is_zero_exactly_on_rows_without_cats():
    nlp = _initialized()
    batch = make_examples(nlp, SENTENCES[:3]) + make_examples(nlp, SENTENCES[3:6], cats=False)
    loss, d_logits = _loss_and_grad(nlp, batch)
    assert loss > 0
    assert numpy.abs(d_logits[:3]).sum(axis=1).min() > 0
    assert numpy.abs(d_logits[3:]).sum() == 0.0


def test_update_without_cats_leaves_the_encoder_without_textcat_gradient():
    nlp = _initialized()
    losses = {}
    nlp.get_pipe("mtl_tok2vec").update(make_examples(nlp, SENTENCES, cats=False), losses=losses)
    nlp.get_pipe("mtl_textcat").update(make_examples(nlp, SENTENCES, cats=False), losses=losses)
    assert losses["mtl_textcat"] == 0.0
    assert "mtl_textcat" not in nlp.get_pipe("mtl_tok2vec")._pending.grads


def test_multilabel_masks_labels_missing_from_cats():
    nlp = _initialized(exclusive_classes=False)
    text = "fly from oslo to lima tomorrow"
    eg = Example.from_dict(nlp.make_doc(text), {"cats": {"flight": 1.0}})
    loss, d_logits = _loss_and_grad(nlp, [eg])
    index = {label: i for i, label in enumerate(nlp.get_pipe("mtl_textcat").labels)}
    assert d_logits[0, index["flight"]] != 0
    assert d_logits[0, index["music"]] == 0 and d_logits[0, index["weather"]] == 0
    probs = nlp.get_pipe("mtl_textcat").predict([nlp(text)]).probs
    assert not numpy.allclose(probs.sum(axis=1), 1.0)  # sigmoid, not softmax


def test_exclusive_probabilities_sum_to_one():
    nlp = _initialized()
    doc = nlp("book a flight to quito")
    assert set(doc.cats) == set(INTENTS)
    assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-5)


def test_label_smoothing_moves_the_target_off_the_gold_label():
    """The smoothed target is (1 - s) on the gold label and s / (n - 1) on each other one:
    the gradient is p - target on annotated rows, zero on rows without cats, and the loss
    is the cross-entropy against that target."""
    smoothing = 0.1
    nlp = _initialized(label_smoothing=smoothing)
    batch = make_examples(nlp, SENTENCES[:3]) + make_examples(nlp, SENTENCES[3:5], cats=False)
    textcat = nlp.get_pipe("mtl_textcat")
    docs = list(nlp.get_pipe("mtl_tok2vec").pipe(eg.predicted for eg in batch))
    logits = textcat.model.predict(docs)
    probs = textcat._activate(logits)
    loss, d_logits = textcat.get_loss(batch, logits)
    n_labels = len(textcat.labels)
    target = numpy.full((3, n_labels), smoothing / (n_labels - 1), dtype="f")
    for row, (_, intent, _) in enumerate(SENTENCES[:3]):
        target[row, textcat.labels.index(intent)] = 1.0 - smoothing
    numpy.testing.assert_allclose(d_logits[:3], probs[:3] - target, atol=1e-6)
    assert numpy.abs(d_logits[3:]).sum() == 0.0
    assert loss == pytest.approx(float(-(target * numpy.log(probs[:3])).sum()), rel=1e-5)


@pytest.mark.parametrize(
    "cfg,message",
    [
        ({"label_smoothing": 0.6}, "must lie in"),
        ({"label_smoothing": 0.1, "exclusive_classes": False}, "exclusive classes only"),
    ],
)
def test_bad_label_smoothing_is_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        build_nlp(**cfg)


def test_balanced_class_weights_favour_the_rare_label():
    nlp = build_nlp(class_weights="balanced")
    rows = SENTENCES[:6] * 3 + SENTENCES[6:10] + SENTENCES[12:13]  # flight 18, weather 4, music 1
    nlp.initialize(lambda: make_examples(nlp, rows))
    textcat = nlp.get_pipe("mtl_textcat")
    weights = dict(zip(textcat.labels, textcat.cfg["label_weights"]))
    assert weights["music"] > weights["weather"] > weights["flight"]
    assert weights["music"] == pytest.approx(23 / (3 * 1))


def test_explicit_class_weights_must_name_known_labels():
    nlp = build_nlp(class_weights={"nonsense": 2.0})
    with pytest.raises(ValueError, match="nonsense"):
        nlp.initialize(lambda: make_examples(nlp, SENTENCES))


def _pooled_nlp(pooling, **cfg):
    """A pipeline with only mtl_textcat, whose head pools as given."""
    nlp = build_nlp(order=("mtl_textcat",), **cfg)
    nlp.replace_pipe(
        "mtl_textcat",
        "mtl_textcat",
        config={
            **cfg,
            "model": {
                "@architectures": "spacy_mtl.TextCatHead.v1",
                "pooling": pooling,
                "tok2vec": {"@architectures": "spacy_mtl.SharedTok2VecListener.v1", "width": 32},
            },
        },
    )
    return nlp


@pytest.mark.parametrize("pooling", ["mean", "max", "attention", "votes"])
def test_each_pooling_learns(pooling):
    nlp = _pooled_nlp(pooling)
    examples = make_examples(nlp, SENTENCES, entities=False)
    optimizer = nlp.initialize(lambda: examples)
    first = last = None
    for _ in range(25):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        first = losses["mtl_textcat"] if first is None else first
        last = losses["mtl_textcat"]
    assert last < first / 4
    assert nlp.get_pipe("mtl_textcat").model.attrs["pooling"] == pooling


def test_votes_are_the_tokens_mean_log_softmax_with_exact_gradients():
    """Token-level intent: each document's scores are the mean over its tokens of the log
    softmax of the output layer's token scores (zeros for an empty document), and the
    backward pass is the derivative of that (central differences in float64)."""
    from thinc.api import Linear
    from thinc.types import Ragged

    from spacy_mtl.ml.textcat import token_votes

    rng = numpy.random.default_rng(0)
    model = token_votes(Linear(nO=4, nI=3))
    X = Ragged(rng.normal(size=(6, 3)).astype("float32"), numpy.array([2, 0, 4], dtype="int32"))
    model.initialize(X=X)
    Y, backprop = model(X, is_train=True)
    W, b = model.layers[0].get_param("W"), model.layers[0].get_param("b")

    def votes(data):
        scores = data.astype("float64") @ W.T.astype("float64") + b
        log_probs = scores - numpy.log(numpy.exp(scores).sum(axis=1, keepdims=True))
        return numpy.stack([log_probs[:2].mean(0), numpy.zeros(4), log_probs[2:].mean(0)])

    numpy.testing.assert_allclose(Y, votes(X.data), rtol=1e-5, atol=1e-6)
    R = rng.normal(size=Y.shape)
    d_data = backprop(R.astype("float32")).data
    eps = 1e-4
    for i in range(6):
        for j in range(3):
            plus, minus = X.data.astype("float64"), X.data.astype("float64")
            plus[i, j] += eps
            minus[i, j] -= eps
            numeric = ((votes(plus) - votes(minus)) * R).sum() / (2 * eps)
            assert d_data[i, j] == pytest.approx(numeric, rel=1e-3, abs=1e-4)


def test_votes_serve_probabilities_features_and_a_saved_copy(tmp_path):
    from spacy_mtl.ml.textcat import predict_head

    nlp = _pooled_nlp("votes")
    examples = make_examples(nlp, SENTENCES, entities=False)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(10):
        nlp.update(examples, sgd=optimizer)
    texts = [text for text, _, _ in HELD_OUT]
    docs = list(nlp.pipe(texts))
    for doc in docs:
        assert sum(doc.cats.values()) == pytest.approx(1.0, abs=1e-5)
    head = nlp.get_pipe("mtl_textcat")
    encoded = list(nlp.get_pipe("mtl_tok2vec").pipe(nlp.make_doc(t) for t in texts))
    logits, features, token_probs = predict_head(head.model, encoded, with_features=True)
    assert features.shape == (len(texts), 32) and len(token_probs) == len(texts)
    tokens = head.model.get_ref("to_ragged").predict(head.model.get_ref("tok2vec").predict(encoded))
    ends = numpy.cumsum(tokens.lengths)
    for row, (start, end) in enumerate(zip(ends - tokens.lengths, ends)):
        numpy.testing.assert_allclose(
            features[row], tokens.data[start:end].mean(0), rtol=1e-5, atol=1e-6
        )
    numpy.testing.assert_allclose(logits, head.model.predict(encoded), rtol=1e-5, atol=1e-6)
    # Each token's intent is kept; the document's is the softmax of their mean log.
    labels = list(head.labels)
    for doc in docs:
        names, probs = doc._.token_intents["labels"], doc._.token_intents["probs"]
        assert names == labels and probs.shape == (len(doc), len(labels))
        numpy.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5, atol=1e-6)
        mean_log = numpy.log(probs).mean(axis=0)
        expected = numpy.exp(mean_log) / numpy.exp(mean_log).sum()
        numpy.testing.assert_allclose([doc.cats[x] for x in labels], expected, rtol=1e-4, atol=1e-6)
        assert len({tuple(numpy.round(row, 4)) for row in probs}) > 1
        copy = Doc(nlp.vocab).from_bytes(doc.to_bytes())
        numpy.testing.assert_array_equal(copy._.token_intents["probs"], probs)
    plain = _pooled_nlp("attention")
    plain.initialize(lambda: make_examples(plain, SENTENCES, entities=False))
    assert plain("fly to oslo")._.token_intents is None
    nlp.to_disk(tmp_path / "votes")
    again = spacy.load(tmp_path / "votes")
    assert [d.cats for d in again.pipe(texts)] == [d.cats for d in docs]
    # `update` grows the output layer: the tokens' new scores start out of the vote.
    from spacy_mtl.update.growth import grow_textcat

    assert grow_textcat(again.get_pipe("mtl_textcat"), ["alarm"]) == ["alarm"]
    for doc, grown in zip(docs, again.pipe(texts)):
        assert max(grown.cats, key=grown.cats.get) == max(doc.cats, key=doc.cats.get)
        assert grown.cats["alarm"] < 1e-3
    again.to_disk(tmp_path / "grown")
    assert "alarm" in spacy.load(tmp_path / "grown").get_pipe("mtl_textcat").labels


def test_votes_refuse_multi_label_heads():
    with pytest.raises(ValueError, match='pooling = "votes".*exclusive_classes = true'):
        _pooled_nlp("votes", exclusive_classes=False)


def test_unknown_pooling_is_named():
    with pytest.raises(ValueError, match="pooling 'sum'"):
        build_nlp().replace_pipe(
            "mtl_textcat",
            "mtl_textcat",
            config={
                "model": {
                    "@architectures": "spacy_mtl.TextCatHead.v1",
                    "pooling": "sum",
                    "tok2vec": {
                        "@architectures": "spacy_mtl.SharedTok2VecListener.v1",
                        "width": 32,
                    },
                }
            },
        )


def test_scorer_counts_only_documents_with_gold_cats(trained_nlp):
    nlp = trained_nlp
    labelled = make_examples(nlp, HELD_OUT)
    unlabelled = make_examples(nlp, SENTENCES, cats=False)
    for eg in labelled + unlabelled:
        eg.predicted = nlp(eg.predicted.text)
    alone = nlp.get_pipe("mtl_textcat").score(labelled)
    mixed = nlp.get_pipe("mtl_textcat").score(labelled + unlabelled)
    assert mixed["cats_n_docs"] == len(HELD_OUT)
    assert mixed["cats_acc"] == alone["cats_acc"]
    assert mixed["cats_macro_f"] == alone["cats_macro_f"]
    assert mixed["joint_sentence_acc"] == alone["joint_sentence_acc"] is not None


def test_two_positive_labels_in_exclusive_mode_name_the_document():
    nlp = _initialized()
    eg = Example.from_dict(
        nlp.make_doc("play jazz in oslo"), {"cats": {"music": 1.0, "weather": 1.0}}
    )
    with pytest.raises(ValueError, match="'play jazz in oslo'.*2 positive"):
        nlp.get_pipe("mtl_textcat").update([eg])


def test_label_unknown_at_update_is_named():
    nlp = _initialized()
    eg = Example.from_dict(nlp.make_doc("set an alarm"), {"cats": {"alarm": 1.0, "music": 0.0}})
    with pytest.raises(ValueError, match="alarm"):
        nlp.get_pipe("mtl_textcat").update([eg])


def test_initialize_without_any_cats_fails_clearly():
    nlp = build_nlp()
    with pytest.raises(ValueError, match="found no document with categories"):
        nlp.initialize(lambda: make_examples(nlp, SENTENCES, cats=False))


def _late_rare_label_corpus(path):
    """150 documents with cats, "rare" only on 3 after the first 100, the others alternating.

    RETURNS (Dict[str, float]): The balanced weight of each label over the whole corpus,
        n_docs / (n_labels * n_docs_of_label).
    """
    nlp = spacy.blank("en")
    doc_bin = DocBin()
    labels = ["common_a", "common_b", "rare"]
    intents = ["rare" if i in (120, 130, 140) else labels[i % 2] for i in range(150)]
    for i, intent in enumerate(intents):
        doc = nlp.make_doc(f"request number {i}")
        doc.cats = {label: float(label == intent) for label in labels}
        doc_bin.add(doc)
    doc_bin.to_disk(path)
    return {label: len(intents) / (len(labels) * intents.count(label)) for label in labels}


def test_balanced_class_weights_count_the_whole_corpus_under_max_epochs_minus_1(tmp_path):
    """With max_epochs = -1 spaCy initializes the heads from the first 100 training
    examples; the labels reader of configs/single_textcat.cfg counts every document, so
    the balanced weights are the whole corpus's inverse frequencies, not the sample's."""
    expected = _late_rare_label_corpus(tmp_path / "cats.spacy")
    config = load_config(
        REPO / "configs" / "single_textcat.cfg",
        overrides={
            "paths.train_cats": str(tmp_path / "cats.spacy"),
            "paths.dev": str(tmp_path / "cats.spacy"),
            "components.textcat.class_weights": "balanced",
            "components.tok2vec.model.encode.width": 32,
            "corpora.train.sampling": "none",
            "corpora.train.shuffle": False,
        },
    )
    assert config["training"]["max_epochs"] == -1
    nlp = init_nlp(config)
    textcat = nlp.get_pipe("textcat")
    weights = dict(zip(textcat.labels, textcat.cfg["label_weights"]))
    assert weights == pytest.approx(expected)


def test_balanced_class_weights_from_a_plain_list_of_labels_count_the_examples():
    """Labels given as a plain list carry no counts: the examples are counted, as before."""
    nlp = build_nlp(class_weights="balanced")
    rows = SENTENCES[:6] * 3 + SENTENCES[6:10] + SENTENCES[12:13]  # flight 18, weather 4, music 1
    nlp.get_pipe("mtl_textcat").initialize(
        lambda: make_examples(nlp, rows), nlp=nlp, labels=["flight", "music", "weather"]
    )
    textcat = nlp.get_pipe("mtl_textcat")
    weights = dict(zip(textcat.labels, textcat.cfg["label_weights"]))
    assert weights == pytest.approx({"flight": 23 / 54, "music": 23 / 3, "weather": 23 / 12})
