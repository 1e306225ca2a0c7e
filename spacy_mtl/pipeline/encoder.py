"""`mtl_tok2vec`: the shared encoder whose gradient comes from every task head.

Stock `Tok2Vec` backpropagates when the last listener of the pipeline calls
back. When that listener's head skips a batch (it has no annotation there), the
gradients of all other heads are dropped. Here each batch's forward pass waits,
with its own record (`_PendingBatch`), until every listener has sent its
gradient or said it has none (`SharedTok2VecListener.skip`); then the per-task
gradients are combined by a balancer and backpropagated.

The optimizer is applied in `finish_update` only, the call spaCy's training
loop makes once per training step, to every gradient backpropagated since the
last step: with `accumulate_gradient = N` that is the sum over N sub-batches,
one step, as for stock `tok2vec`. N sub-batches give the step of one batch of
them all (dropout aside), whatever the balancer (spacy_mtl/ml/balancing.py):

- the sum and uncertainty weighting are linear in the gradients within a
  step, so each sub-batch is combined and backpropagated as soon as its heads
  have reported; uncertainty weighting learns its weights in `finish_step`,
  which `finish_update` calls once per step;
- PCGrad's projection is not (`acts_on_whole_step`): each completed sub-batch
  waits, with its backprop callback and its per-task gradients, until
  `finish_update`, which hands PCGrad each task's gradients over every
  document of the step, backpropagates each sub-batch's share of the result
  and steps once. The cost is memory: a step holds the encoder activations
  (not the heads') of all its sub-batches, as one batch of that size would.
  When the encoder reads another component through a listener (a
  transformer), that component owns the backward pass and steps before this
  one, so the sub-batches cannot wait: they are projected one by one, exact
  for `accumulate_gradient = 1` only, and a warning says so when a step has more.

A listener that does not report (a frozen or excluded head, a stock component)
cannot hold a batch back: `finish_update` combines what has arrived, and so
does the next batch's `update`. A gradient that arrives for a batch already
combined is refused with `LateGradientError`: it is never added to another
batch.

`update` also sets `doc.tensor`, as `set_annotations` does at inference, so
that a component listed in `[training.annotating_components]` predicts during
training from the same features it sees at inference.

With a transformer, put a `transformer` component first and give `mtl_tok2vec`
a `spacy-transformers.TransformerListener.v1` model: the encoder is then the
transformer pooled to tokens, and the heads are unchanged.
"""

import warnings
from itertools import combinations
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from spacy.language import Language
from spacy.pipeline.tok2vec import Tok2Vec, Tok2VecListener
from spacy.training import Example, validate_examples
from thinc.api import Config, Model, Ops, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..ml.balancing import Balancer, Grads, acts_on_whole_step, finish_step, sum_gradients
from ..ml.listener import TaskGradient
from ..ml.torch_threads import use_one_torch_thread_in_forked_children
from .checked_loading import CheckedLoading
from .examples import shared_examples

# Documents the encoder's model is initialized on (to infer its shapes), as in spaCy's Tok2Vec.
N_SAMPLE_DOCS = 10

# Process-wide, once, when this module is imported (as spaCy does to build an mtl_tok2vec):
# the encoder may run torch on several threads, and a worker that nlp.pipe(n_process=N)
# forks then would hang in torch's thread pool (ml/torch_threads.py).
use_one_torch_thread_in_forked_children()

DEFAULT_ENCODER_MODEL = Config().from_str(
    """
[model]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
)["model"]


@Language.factory(
    "mtl_tok2vec",
    assigns=["doc.tensor"],
    default_config={
        "model": DEFAULT_ENCODER_MODEL,
        "balancer": {"@misc": "spacy_mtl.sum_gradients.v1"},
    },
)
def make_shared_tok2vec(
    nlp: Language, name: str, model: Model, balancer: Balancer
) -> "SharedTok2Vec":
    """Create a shared encoder that the task heads listen to.

    model (Model[List[Doc], List[Floats2d]]): The encoder: a CNN tok2vec, or a
        transformer listener pooled to tokens.
    balancer (Callable): Combines the per-task gradients into one, e.g.
        "spacy_mtl.sum_gradients.v1" or "spacy_mtl.pcgrad.v1".
    """
    return SharedTok2Vec(nlp.vocab, model, name, balancer=balancer)


class LateGradientError(RuntimeError):
    """A head sent a gradient for a batch the encoder has already combined."""


class SubBatchBalancingWarning(UserWarning):
    """A whole-step balancer combined the sub-batches of a step one by one."""


class _PendingBatch:
    """One batch's forward pass, waiting for the task heads' gradients."""

    def __init__(
        self,
        backprop,
        shapes: List[Tuple[int, ...]],
        losses: Optional[Dict[str, float]],
        sgd: Optional[Optimizer],
    ):
        self.backprop = backprop
        self.shapes = shapes
        self.losses = losses
        self.sgd = sgd
        self.waiting: Set[int] = set()
        self.reported = 0
        self.grads: Dict[str, List[Floats2d]] = {}
        self.task_losses: Dict[str, float] = {}
        self.done = False

    def release(self) -> None:
        """Drop what a combined batch no longer needs (and what cannot be pickled).

        The listeners keep their callback, and it this record, until the next batch.
        """
        self.backprop = self.sgd = self.losses = None
        self.grads = {}


class SharedTok2Vec(CheckedLoading, Tok2Vec):
    """A Tok2Vec that backpropagates the gradients of every head that learned."""

    # Initializes from the examples its heads read too (see pipeline/examples.py).
    shares_examples = True

    def __init__(
        self, vocab, model: Model, name: str = "mtl_tok2vec", *, balancer: Balancer = sum_gradients
    ):
        super().__init__(vocab, model, name)
        self.balancer = balancer
        self._pending: Optional[_PendingBatch] = None
        # Completed sub-batches of this training step that wait for a whole-step balancer.
        self._step: List[_PendingBatch] = []
        self._combined_since_step = 0
        self._unapplied = False
        self._stats: Dict[str, List[float]] = {}

    def initialize(
        self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None
    ) -> None:
        """Initialize the model on a sample of the training documents, as Tok2Vec does.

        The examples are read once for this encoder and its heads (`shared_examples`).
        """
        examples = shared_examples(get_examples, nlp, self.name, "SharedTok2Vec.initialize")
        self.model.initialize(X=[eg.x for eg in examples[:N_SAMPLE_DOCS]])

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Run the encoder on a batch and hand its output to every listener.

        The batch is complete once every listener has reported, or at the next
        `finish_update` or `update`, whichever comes first; it is then
        backpropagated, or with a whole-step balancer kept for `finish_update`
        (see the module docstring). spaCy passes sgd=None here and calls
        `finish_update` itself; an optimizer given here steps the encoder once
        this batch is complete, on every batch of the step so far.

        examples (Iterable[Example]): The batch.
        drop (float): The dropout rate.
        sgd (Optional[Optimizer]): An optimizer to apply once this batch is complete.
        losses (Optional[Dict[str, float]]): Collects the squared norm of the
            combined gradient under the component's name.
        RETURNS (Dict[str, float]): The losses.
        """
        if losses is None:
            losses = {}
        examples = list(examples)
        validate_examples(examples, "SharedTok2Vec.update")
        self._flush()
        losses.setdefault(self.name, 0.0)
        docs = [eg.predicted for eg in examples]
        if not self.listener_map:
            return losses
        set_dropout_rate(self.model, drop)
        tokvecs, bp_tokvecs = self.model.begin_update(docs)
        for doc, doc_tokvecs in zip(docs, tokvecs):
            doc.tensor = doc_tokvecs
        pending = _PendingBatch(bp_tokvecs, [t.shape for t in tokvecs], losses, sgd)
        batch_id = Tok2VecListener.get_batch_id(docs)
        for task, listeners in self.listener_map.items():
            for listener in listeners:
                callback = TaskGradient(
                    self._receive_gradient, pending, task, getattr(listener, "task_weight", 1.0)
                )
                pending.waiting.add(id(callback))
                listener.receive(batch_id, tokvecs, callback)
        self._pending = pending
        return losses

    def _receive_gradient(self, callback: TaskGradient, d_tokvecs: Optional[List[Floats2d]]):
        pending = callback.batch
        if pending.done or id(callback) not in pending.waiting:
            raise LateGradientError(
                f"{callback.task!r} sent a gradient to the shared encoder {self.name!r} for a "
                "batch that was already combined (or sent it twice). A gradient belongs "
                "to the batch it was computed for: update the heads after the encoder, in the "
                "same training step, as nlp.update does."
            )
        pending.waiting.discard(id(callback))
        pending.reported += 1
        task = callback.task
        if callback.loss is not None:
            pending.task_losses[task] = callback.loss
        if d_tokvecs is not None and callback.weight > 0:
            if task in pending.grads:
                for acc, d in zip(pending.grads[task], d_tokvecs):
                    acc += callback.weight * d
            else:
                pending.grads[task] = [callback.weight * d for d in d_tokvecs]
        if not pending.waiting:
            self._flush()

    def _flush(self) -> None:
        """Complete the pending batch, if any: combine it now or keep it for the step."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        pending.done = True
        sgd = pending.sgd
        if not pending.grads:
            pending.release()
        elif acts_on_whole_step(self.balancer) and not self._reads_upstream():
            self._step.append(pending)
        else:
            self._combine([pending])
        if sgd is not None:
            self.finish_update(sgd)

    def _reads_upstream(self) -> bool:
        """Whether the model reads another component (a transformer) through a listener."""
        return any(hasattr(node, "upstream_name") for node in self.model.walk())

    def _combine(self, batches: List[_PendingBatch]) -> None:
        """Balance the tasks' gradients over `batches` as one batch, and backpropagate."""
        grads, task_losses = _join(batches, self.model.ops)
        self._record_stats(grads)
        self._combined_since_step += 1
        if self._combined_since_step == 2 and acts_on_whole_step(self.balancer):
            warnings.warn(
                f"The shared encoder {self.name!r} reads another component through a "
                "listener, so its balancer projected the sub-batches of a training step one "
                "by one (accumulate_gradient > 1): the step is not that of the whole batch. "
                "Use accumulate_gradient = 1, or another balancer.",
                SubBatchBalancingWarning,
                stacklevel=2,
            )
        d_tokvecs = self.balancer(grads, task_losses)
        start = 0
        for batch in batches:
            d_batch = d_tokvecs[start : start + len(batch.shapes)]
            start += len(batch.shapes)
            batch.losses[self.name] = batch.losses.get(self.name, 0.0) + sum(
                float((d**2).sum()) for d in d_batch
            )
            batch.backprop(d_batch)
            batch.release()
        self._unapplied = True

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer to every gradient of the training step.

        A pending batch that some listener has reported for is completed first,
        with what has arrived; one that nobody has reported for yet is left
        waiting (nlp.update with an optimizer calls this right after the
        encoder's own update, before the heads'). The batches kept for a
        whole-step balancer are combined and backpropagated now, and a balancer
        that learns from steps takes its step. With no gradient at all the
        encoder's step is skipped: a step on zero gradients would still move
        the weights through Adam's momentum and weight decay.

        sgd (Optimizer): The optimizer.
        """
        if self._pending is not None and self._pending.reported:
            self._flush()
        if self._step:
            batches, self._step = self._step, []
            self._combine(batches)
        self._combined_since_step = 0
        finish_step(self.balancer)
        if self._unapplied:
            self._unapplied = False
            super().finish_update(sgd)

    def _record_stats(self, grads: Dict[str, List[Floats2d]]) -> None:
        """Keep running means of each task's gradient norm and of the cosines between tasks."""
        xp = self.model.ops.xp
        flat = {
            task: xp.concatenate([g.ravel() for g in arrays])
            if arrays
            else self.model.ops.alloc1f(0)
            for task, arrays in grads.items()
        }
        norms = {task: float(xp.linalg.norm(v)) for task, v in flat.items()}
        for task, norm in norms.items():
            self._stats.setdefault(f"grad_norm_{task}", []).append(norm)
        for a, b in combinations(sorted(flat), 2):
            denom = norms[a] * norms[b]
            cosine = float((flat[a] * flat[b]).sum()) / denom if denom > 0 else 0.0
            self._stats.setdefault(f"grad_cos_{a}_{b}", []).append(cosine)

    def pop_gradient_stats(self) -> Dict[str, float]:
        """The mean per-task gradient norms and pairwise cosines since the last call.

        Keys are "grad_norm_{task}" and "grad_cos_{task_a}_{task_b}"; a pair only
        appears in the mean over combinations in which both tasks sent a
        gradient. A combination is one sub-batch, or one training step for a
        whole-step balancer (PCGrad). A balancer that learns task weights adds
        their current values, "loss_weight_{task}".
        """
        stats = {key: sum(values) / len(values) for key, values in self._stats.items()}
        self._stats = {}
        if hasattr(self.balancer, "task_weights"):
            for task, weight in self.balancer.task_weights().items():
                stats[f"loss_weight_{task}"] = weight
        return stats


def _join(batches: List[_PendingBatch], ops: Ops) -> Tuple[Grads, Dict[str, float]]:
    """Each task's gradients over the documents of all `batches`, and its summed loss.

    A task that skipped one of the batches sends zeros for its documents, as its
    head would in one batch of them all; losses are sums over documents.
    """
    if len(batches) == 1:
        return batches[0].grads, dict(batches[0].task_losses)
    tasks = list(dict.fromkeys(task for batch in batches for task in batch.grads))
    grads: Grads = {task: [] for task in tasks}
    task_losses: Dict[str, float] = {}
    for batch in batches:
        for task in tasks:
            if task in batch.grads:
                grads[task].extend(batch.grads[task])
            else:
                grads[task].extend(ops.alloc2f(*shape) for shape in batch.shapes)
        for task, loss in batch.task_losses.items():
            task_losses[task] = task_losses.get(task, 0.0) + loss
    return grads, task_losses
