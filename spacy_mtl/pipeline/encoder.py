"""`mtl_tok2vec`: the shared encoder whose gradient comes from every task head.

Stock `Tok2Vec` backpropagates when the last listener of the pipeline calls
back. When that listener's head skips a batch (it has no annotation there), the
gradients of all other heads are dropped. Here the encoder waits until every
listening head has either sent its gradient or said it has none (see
`SharedTok2VecListener.skip`), combines the per-task gradients with a balancer
and backpropagates once. A head that never reports (a stock spaCy component,
a frozen one) cannot stall training: its batch is flushed when the next batch
starts.

With a transformer, put a `transformer` component first and give `mtl_tok2vec`
a `spacy-transformers.TransformerListener.v1` model: the encoder is then the
transformer pooled to tokens, and the heads are unchanged.
"""

from itertools import combinations
from typing import Dict, Iterable, List, Optional

from spacy.language import Language
from spacy.pipeline.tok2vec import Tok2Vec
from spacy.training import Example, validate_examples
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..ml.listener import TaskGradient
from ..training.balancing import Balancer, sum_gradients

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


class _PendingBatch:
    """One batch's forward pass, waiting for the task heads' gradients."""

    def __init__(self, tokvecs, backprop, waiting: Iterable[str], losses):
        self.tokvecs = tokvecs
        self.backprop = backprop
        self.waiting = set(waiting)
        self.grads: Dict[str, List[Floats2d]] = {}
        self.task_losses: Dict[str, float] = {}
        self.losses = losses


class SharedTok2Vec(Tok2Vec):
    """A Tok2Vec that backpropagates the gradients of every head that learned."""

    def __init__(
        self, vocab, model: Model, name: str = "mtl_tok2vec", *, balancer: Balancer = sum_gradients
    ):
        super().__init__(vocab, model, name)
        self.balancer = balancer
        self._pending: Optional[_PendingBatch] = None
        self._sgd: Optional[Optimizer] = None
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

        The backward pass happens once every listening head has reported (see
        the module docstring), and the optimizer is applied then if one is known
        (`sgd` here, or the one last passed to `finish_update`).
        """
        if losses is None:
            losses = {}
        validate_examples(examples, "SharedTok2Vec.update")
        self._flush()
        if sgd is not None:
            self._sgd = sgd
        losses.setdefault(self.name, 0.0)
        docs = [eg.predicted for eg in examples]
        if not self.listener_map:
            return losses
        set_dropout_rate(self.model, drop)
        tokvecs, bp_tokvecs = self.model.begin_update(docs)
        self._pending = _PendingBatch(tokvecs, bp_tokvecs, self.listener_map, losses)
        batch_id = self.listeners[0].get_batch_id(docs)
        for task, listeners in self.listener_map.items():
            for listener in listeners:
                listener.receive(batch_id, tokvecs, TaskGradient(self._receive_gradient, task))
        return losses

    def _receive_gradient(
        self, task: str, d_tokvecs: Optional[List[Floats2d]], loss: Optional[float] = None
    ) -> None:
        pending = self._pending
        if pending is None or task not in pending.waiting:
            return
        pending.waiting.discard(task)
        if loss is not None:
            pending.task_losses[task] = loss
        weight = self._task_weight(task)
        if d_tokvecs is not None and weight > 0:
            if task in pending.grads:
                for acc, d in zip(pending.grads[task], d_tokvecs):
                    acc += weight * d
            else:
                pending.grads[task] = [weight * d for d in d_tokvecs]
        if not pending.waiting:
            self._flush()

    def _task_weight(self, task: str) -> float:
        weights = [getattr(node, "task_weight", 1.0) for node in self.listener_map.get(task, [])]
        return weights[0] if weights else 1.0

    def _flush(self) -> None:
        """Backpropagate the combined gradient of the pending batch, if any head sent one."""
        pending, self._pending = self._pending, None
        if pending is None or not pending.grads:
            return
        self._record_stats(pending.grads)
        d_tokvecs = self.balancer(pending.grads, pending.task_losses)
        pending.losses[self.name] = pending.losses.get(self.name, 0.0) + sum(
            float((d**2).sum()) for d in d_tokvecs
        )
        pending.backprop(d_tokvecs)
        self._unapplied = True
        if self._sgd is not None:
            self.finish_update(self._sgd)

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer, but only to gradients that have arrived.

        spaCy calls this right after `update`, before the heads have sent their
        gradients; an extra optimizer step on zero gradients would still move
        the weights through Adam's momentum, so it is skipped.
        """
        self._sgd = sgd
        if self._unapplied:
            super().finish_update(sgd)
            self._unapplied = False

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
