"""The shared encoder under every path of spaCy's training loop, with stock `tok2vec` as reference.

spaCy's loop (spacy.training.loop.train_while_improving) calls nlp.update(..., sgd=False)
once per sub-batch (accumulate_gradient), then finish_update(optimizer) on each trainable
component that is not frozen. The encoder must take exactly one optimizer step per training
step there, as stock tok2vec does, whatever the heads do.
"""

from collections import Counter
from itertools import cycle

import numpy
import pytest
import spacy
from conftest import SENTENCES, build_nlp, make_examples, train_step
from spacy.training.loop import train_while_improving
from thinc.api import Adam, concatenate

from spacy_mtl.ml.listener import SharedTok2VecListener
from spacy_mtl.pipeline.encoder import LateGradientError

WIDTH = 32
STEPS = 2
# train_while_improving counts steps from 0 and stops after step max_steps.
UPDATES = STEPS + 1
HASH_CNN = {
    "@architectures": "spacy.HashEmbedCNN.v2",
    "pretrained_vectors": None,
    "width": WIDTH,
    "depth": 2,
    "embed_size": 500,
    "window_size": 1,
    "maxout_pieces": 2,
    "subword_features": True,
}


class CountingOptimizer:
    """A real Adam that counts its calls per parameter key."""

    def __init__(self):
        self.inner = Adam(0.001)
        self.calls = Counter()

    def __call__(self, key, param, grad):
        self.calls[key] += 1
        return self.inner(key, param, grad)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _stock_nlp():
    """Stock spaCy: tok2vec, textcat and ner, both heads listening to tok2vec."""
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec", config={"model": HASH_CNN})
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": WIDTH}
    nlp.add_pipe(
        "textcat",
        config={
            "model": {
                "@architectures": "spacy.TextCatCNN.v2",
                "exclusive_classes": True,
                "nO": None,
                "tok2vec": listener,
            }
        },
    )
    nlp.add_pipe(
        "ner",
        config={
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "ner",
                "extra_state_tokens": False,
                "hidden_width": 16,
                "maxout_pieces": 2,
                "use_upper": True,
                "nO": None,
                "tok2vec": listener,
            }
        },
    )
    return nlp


def _mtl_nlp():
    nlp = build_nlp(width=WIDTH)
    nlp.rename_pipe("mtl_tok2vec", "tok2vec")
    nlp.rename_pipe("mtl_textcat", "textcat")
    nlp.rename_pipe("mtl_ner", "ner")
    return nlp


def _encoder_calls(nlp, optimizer):
    """Optimizer calls of each parameter of the encoder."""
    encoder = nlp.get_pipe("tok2vec")
    keys = [
        (node.id, name)
        for node in encoder.model.walk()
        for name in node.param_names
        if node.has_param(name)
    ]
    return {optimizer.calls[key] for key in keys}


def _run_loop(nlp, *, accumulate=1, frozen=(), annotating=(), cats=True, entities=True):
    examples = make_examples(nlp, SENTENCES, cats=cats, entities=entities)
    joint = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: joint)
    optimizer = CountingOptimizer()
    batches = ((0, examples) for _ in cycle([0]))
    loop = train_while_improving(
        nlp,
        optimizer,
        batches,
        lambda: (0.0, {}),
        dropout=0.0,
        eval_frequency=100,
        accumulate_gradient=accumulate,
        patience=0,
        max_steps=STEPS,
        exclude=list(frozen),
        annotating_components=list(annotating),
        before_update=None,
    )
    for _ in loop:
        pass
    return optimizer


SETTINGS = [
    {"accumulate": 1},
    {"accumulate": 3},
    {"frozen": ["textcat"]},
    {"annotating": ["textcat"]},
]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: str(s))
def test_encoder_steps_once_per_training_step_as_stock_tok2vec(setting):
    stock_nlp = _stock_nlp()
    stock = _encoder_calls(stock_nlp, _run_loop(stock_nlp, **setting))
    nlp = _mtl_nlp()
    ours = _encoder_calls(nlp, _run_loop(nlp, **setting))
    assert ours == stock == {UPDATES}


@pytest.mark.parametrize("frozen", [["ner"], ["textcat"], ["textcat", "ner"]])
def test_a_frozen_head_neither_delays_nor_drops_the_step(frozen):
    nlp = _mtl_nlp()
    calls = _encoder_calls(nlp, _run_loop(nlp, frozen=frozen))
    # With both heads frozen no gradient reaches the encoder, and it takes no step.
    assert calls == ({0} if len(frozen) == 2 else {UPDATES})


@pytest.mark.parametrize("task", ["cats", "entities"])
def test_a_head_with_nothing_to_learn_neither_delays_nor_drops_the_step(task):
    nlp = _mtl_nlp()
    optimizer = _run_loop(nlp, accumulate=2, cats=task == "cats", entities=task == "entities")
    assert _encoder_calls(nlp, optimizer) == {UPDATES}


def test_a_stock_component_listening_to_the_encoder_counts_and_cannot_stall_it():
    nlp = _mtl_nlp()
    nlp.add_pipe(
        "tagger",
        config={
            "model": {
                "@architectures": "spacy.Tagger.v2",
                "nO": None,
                "normalize": False,
                "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": WIDTH},
            }
        },
    )
    examples = make_examples(nlp, SENTENCES)
    for eg in examples:
        for token in eg.reference:
            token.tag_ = "X" if token.i % 2 else "Y"
    optimizer = nlp.initialize(lambda: examples)
    encoder = nlp.get_pipe("tok2vec")
    # The tagger's output weights start at zero: its first gradient into the encoder is 0.
    train_step(nlp, examples, optimizer)
    train_step(nlp, examples, optimizer)
    stats = encoder.pop_gradient_stats()
    assert stats["grad_norm_tagger"] > 0 and stats["grad_norm_textcat"] > 0
    before = [p.copy() for p in _params(encoder)]
    train_step(nlp, examples, optimizer, exclude=["tagger"])
    assert any(not numpy.array_equal(a, b) for a, b in zip(before, _params(encoder)))


def _params(component):
    return [
        node.get_param(name)
        for node in component.model.walk()
        for name in node.param_names
        if node.has_param(name)
    ]


def test_sgd_false_never_steps_the_encoder_or_the_heads():
    nlp = _mtl_nlp()
    examples = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: examples)
    before = {name: [p.copy() for p in _params(proc)] for name, proc in nlp.pipeline}
    for _ in range(3):
        nlp.update(examples, sgd=False)
    for name, proc in nlp.pipeline:
        assert all(numpy.array_equal(a, b) for a, b in zip(before[name], _params(proc))), name


def test_accumulated_sub_batches_give_the_step_of_the_whole_batch():
    """Dropout 0: three sub-batches and one finish_update equal one update on the whole batch."""
    nlp = _mtl_nlp()
    examples = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: examples)
    twin = _mtl_nlp()
    twin.initialize(lambda: make_examples(twin, SENTENCES))
    twin.from_bytes(nlp.to_bytes())
    whole, parts = Adam(0.001), Adam(0.001)
    train_step(nlp, examples, whole)
    twin_examples = make_examples(twin, SENTENCES)
    for start in range(0, len(twin_examples), 6):
        twin.update(twin_examples[start : start + 6], sgd=False)
    for _name, proc in twin.pipeline:
        proc.finish_update(parts)
    for name, proc in nlp.pipeline:
        for a, b in zip(_params(proc), _params(twin.get_pipe(name))):
            numpy.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=name)
    moved = [p.copy() for p in _params(nlp.get_pipe("tok2vec"))]
    assert any(not numpy.array_equal(a, b) for a, b in zip(moved, _params(_mtl_nlp_init())))


def _mtl_nlp_init():
    nlp = _mtl_nlp()
    nlp.initialize(lambda: make_examples(nlp, SENTENCES))
    return nlp.get_pipe("tok2vec")


def test_a_late_gradient_is_refused_not_added_to_the_next_batch():
    nlp = _mtl_nlp()
    examples = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: examples)
    encoder = nlp.get_pipe("tok2vec")
    listener = nlp.get_pipe("textcat").model.get_ref("tok2vec")
    encoder.update(examples[:6])
    late = listener._backprop
    encoder.update(examples[6:])
    with pytest.raises(LateGradientError, match="'textcat' sent a gradient"):
        late([numpy.zeros((len(eg.predicted), WIDTH), dtype="f") for eg in examples[:6]])


@spacy.registry.architectures("test.TwoListeners.v1")
def two_listeners(width: int):
    """Two shared listeners side by side, as one tok2vec of twice the width."""
    model = concatenate(
        SharedTok2VecListener("*", width=width), SharedTok2VecListener("*", width=width)
    )
    model.set_dim("nO", 2 * width)
    return model


def test_every_listener_of_a_head_counts():
    """A head with two listeners: the encoder gets the weighted sum of both gradients."""
    nlp = spacy.blank("en")
    nlp.add_pipe("mtl_tok2vec", config={"model": HASH_CNN})
    two = {"@architectures": "test.TwoListeners.v1", "width": WIDTH}
    nlp.add_pipe(
        "mtl_textcat",
        config={"model": {"tok2vec": two, "pooling": "mean"}},
    )
    examples = make_examples(nlp, SENTENCES, entities=False)
    nlp.initialize(lambda: examples)
    encoder = nlp.get_pipe("mtl_tok2vec")
    a, b = [n for n in nlp.get_pipe("mtl_textcat").model.walk() if hasattr(n, "task_weight")]
    seen = {}

    def record(grads, losses):
        seen["grad"] = [g.copy() for g in grads["mtl_textcat"]]
        return grads["mtl_textcat"]

    encoder.balancer = record
    grads = {}
    for weights in ((1.0, 0.0), (0.0, 1.0), (1.0, 2.0)):
        a.attrs["task_weight"], b.attrs["task_weight"] = weights
        nlp.update(examples, sgd=False)
        grads[weights] = seen["grad"]
    assert all(float(numpy.abs(g).sum()) > 0 for g in grads[(0.0, 1.0)])
    for g_a, g_b, g_ab in zip(grads[(1.0, 0.0)], grads[(0.0, 1.0)], grads[(1.0, 2.0)]):
        numpy.testing.assert_allclose(g_ab, g_a + 2.0 * g_b, rtol=1e-4, atol=1e-7)
