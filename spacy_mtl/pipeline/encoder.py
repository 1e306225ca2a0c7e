"""`mtl_tok2vec`: the shared encoder whose gradient comes from every task head.

Stock `Tok2Vec` backpropagates when the last listener of the pipeline calls
back. When that listener's head skips a batch (it has no annotation there), the
gradients of all other heads are dropped. Here each batch's forward pass waits,
with its own record (`_PendingBatch`), until every listener has sent its
gradient or said it has none (`SharedTok2VecListener.skip`); then the per-task
gradients are combined by a balancer and backpropagated once.

The optimizer is applied in `finish_update` only, the call spaCy's training
loop makes once per training step, to every gradient backpropagated since the
last step: with `accumulate_gradient = N` that is the sum over N sub-batches,
one step, as for stock `tok2vec`. A listener that does not report (a frozen or
excluded head, a stock component) cannot hold a batch back: `finish_update`
backpropagates what has arrived, and so does the next batch's `update`. A
gradient that arrives for a batch already backpropagated is refused with
`LateGradientError`: it is never added to another batch.

`update` also sets `doc.tensor`, as `set_annotations` does at inference, so
that a component listed in `[training.annotating_components]` predicts during
training from the same features it sees at inference.

With a transformer, put a `transformer` component first and give `mtl_tok2vec`
a `spacy-transformers.TransformerListener.v1` model: the encoder is then the
transformer pooled to tokens, and the heads are unchanged.
"""

from itertools import combinations
from typing import Dict, Iterable, List, Optional, Set

from spacy.language import Language
from spacy.pipeline.tok2vec import Tok2Vec, Tok2VecListener
from spacy.training import Example, validate_examples
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..ml.balancing import Balancer, sum_gradients
from ..ml.listener import TaskGradient
from ..ml.torch_threads import use_one_torch_thread_in_forked_children
from .loading import CheckedLoading

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
    use_one_torch_thread_in_forked_children()
    return SharedTok2Vec(nlp.vocab, model, name, balancer=balancer)


class LateGradientError(RuntimeError):
    """A head sent a gradient for a batch the encoder has already backpropagated."""


class _PendingBatch:
    """One batch's forward pass, waiting for the task heads' gradients."""

    def __init__(self, backprop, losses: Optional[Dict[str, float]], sgd: Optional[Optimizer]):
        self.backprop = backprop
        self.losses = losses
        self.sgd = sgd
        self.waiting: Set[int] = set()
        self.reported = 0
        self.grads: Dict[str, List[Floats2d]] = {}
        self.task_losses: Dict[str, float] = {}
        self.done = False


class SharedTok2Vec(CheckedLoading, Tok2Vec):
    """A Tok2Vec that backpropagates the gradients of every head that learned."""

    def __init__(
        self, vocab, model: Model, name: str = "mtl_tok2vec", *, balancer: Balancer = sum_gradients
    ):
        super().__init__(vocab, model, name)
        self.balancer = balancer
        self._pending: Optional[_PendingBatch] = None
        self._unapplied = False
        self._stats: Dict[str, List[float]] = {}

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Run the encoder on a batch and hand its output to every listener.

        The backward pass happens once every listener has reported, or at the
        next `finish_update` or `update`, whichever comes first (see the module
        docstring). spaCy passes sgd=None here and calls `finish_update` itself;
        an optimizer given here steps the encoder once this batch is
        backpropagated.

        examples (Iterable[Example]): The batch.
        drop (float): The dropout rate.
        sgd (Optional[Optimizer]): An optimizer to apply once this batch is backpropagated.
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
        pending = _PendingBatch(bp_tokvecs, losses, sgd)
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
                "batch that was already backpropagated (or sent it twice). A gradient belongs "
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
        """Backpropagate the combined gradient of the pending batch, if any head sent one."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        pending.done = True
        if pending.grads:
            self._record_stats(pending.grads)
            d_tokvecs = self.balancer(pending.grads, pending.task_losses)
            pending.losses[self.name] = pending.losses.get(self.name, 0.0) + sum(
                float((d**2).sum()) for d in d_tokvecs
            )
            pending.backprop(d_tokvecs)
            self._unapplied = True
        sgd = pending.sgd
        # The listeners keep their callback, and it this record, until the next
        # batch: drop what a finished batch no longer needs (and what cannot be pickled).
        pending.backprop = pending.sgd = pending.losses = None
        pending.grads = {}
        if sgd is not None:
            self.finish_update(sgd)

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer to every gradient backpropagated since the last step.

        A pending batch that some listener has reported for is backpropagated
        first, with what has arrived; one that nobody has reported for yet is
        left waiting (nlp.update with an optimizer calls this right after the
        encoder's own update, before the heads'). With no gradient at all the
        step is skipped: a step on zero gradients would still move the weights
        through Adam's momentum and weight decay.

        sgd (Optimizer): The optimizer.
        """
        if self._pending is not None and self._pending.reported:
            self._flush()
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
        appears in the mean over batches in which both tasks sent a gradient. A
        balancer that learns task weights adds their current values, "loss_weight_{task}".
        """
        stats = {key: sum(values) / len(values) for key, values in self._stats.items()}
        self._stats = {}
        if hasattr(self.balancer, "task_weights"):
            for task, weight in self.balancer.task_weights().items():
                stats[f"loss_weight_{task}"] = weight
        return stats
