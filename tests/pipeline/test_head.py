"""TaskHead: a head learns only from documents annotated for its task, optimizer step included."""

import pytest
from conftest import SENTENCES, build_nlp, make_examples, train_step
from thinc.api import Adam

HEADS = {"cats": "mtl_textcat", "entities": "mtl_ner"}


def _optimizer():
    """Adam with the decoupled weight decay of the configs in configs/."""
    return Adam(
        learn_rate=0.001, beta1=0.9, beta2=0.999, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0
    )


def _weights(nlp):
    """Every component's weights, thinc parameters and torch modules alike, as bytes."""
    return {name: proc.model.to_bytes() for name, proc in nlp.pipeline}


@pytest.mark.parametrize("missing", ["cats", "entities"])
def test_a_head_without_annotation_in_the_step_keeps_its_weights_bit_identical(missing):
    """After a step that gave Adam momentum, a step whose batch lacks a task's annotation
    leaves that head exactly as it was (no momentum, no weight decay); the other head
    and the shared encoder still learn."""
    nlp = build_nlp()
    joint = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: joint)
    optimizer = _optimizer()
    train_step(nlp, joint, optimizer)
    partial = make_examples(nlp, SENTENCES, **{missing: False})
    before = _weights(nlp)
    train_step(nlp, partial, optimizer)
    moved = {name: weights != before[name] for name, weights in _weights(nlp).items()}
    assert moved == {name: name != HEADS[missing] for name in nlp.pipe_names}


@pytest.mark.parametrize("first_annotated", [True, False])
def test_a_head_annotated_in_one_sub_batch_of_an_accumulated_step_still_steps(first_annotated):
    nlp = build_nlp()
    joint = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: joint)
    optimizer = _optimizer()
    train_step(nlp, joint, optimizer)
    with_cats = make_examples(nlp, SENTENCES[:9])
    without = make_examples(nlp, SENTENCES[9:], cats=False)
    sub_batches = [with_cats, without] if first_annotated else [without, with_cats]
    before = _weights(nlp)
    for sub_batch in sub_batches:
        nlp.update(sub_batch, sgd=False)
    for _name, proc in nlp.pipeline:
        proc.finish_update(optimizer)
    moved = {name: weights != before[name] for name, weights in _weights(nlp).items()}
    assert moved == {name: True for name in nlp.pipe_names}


def test_a_head_updated_alone_with_an_optimizer_steps_only_when_annotated():
    nlp = build_nlp()
    joint = make_examples(nlp, SENTENCES)
    nlp.initialize(lambda: joint)
    optimizer = _optimizer()
    nlp.update(joint, sgd=optimizer)
    textcat = nlp.get_pipe("mtl_textcat")
    before = textcat.model.to_bytes()
    nlp.update(make_examples(nlp, SENTENCES, cats=False), sgd=optimizer)
    moved_without_cats = textcat.model.to_bytes() != before
    nlp.update(joint, sgd=optimizer)
    moved_with_cats = textcat.model.to_bytes() != before
    assert (moved_without_cats, moved_with_cats) == (False, True)
