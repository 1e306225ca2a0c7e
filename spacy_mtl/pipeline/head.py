"""`TaskHead`: what `mtl_textcat` and `mtl_ner` share about learning from partial annotation.

A head learns only from the examples annotated for its task. When a batch has
none, it tells the shared encoder so (`skip_listeners`) instead of staying
silent, and when it learns it reports its loss along with its gradient, for
loss-based task balancing. The gold data is read and checked before the
forward pass, so bad input fails before any computation.
"""

from typing import Any, Dict, Iterable, List, Optional, Tuple

from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.training import Example, validate_examples
from thinc.api import Optimizer, set_dropout_rate

from ..ml.listener import report_loss, skip_listeners


class TaskHead(TrainablePipe):
    """A trainable component whose update skips examples not annotated for its task."""

    def is_annotated(self, example: Example) -> bool:
        """Whether the example teaches this head anything."""
        raise NotImplementedError

    def gold(self, examples: List[Example]) -> Any:
        """The validated training targets of a batch, whatever form `loss` takes."""
        raise NotImplementedError

    def loss(self, gold: Any, scores: Any) -> Tuple[float, Any]:
        """The loss and the gradient of the scores for targets from `gold`."""
        raise NotImplementedError

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        """The loss and the gradient of the scores; unannotated examples add nothing."""
        return self.loss(self.gold(list(examples)), scores)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from the annotated examples; tell the encoder when there are none."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not any(self.is_annotated(eg) for eg in examples):
            skip_listeners(self.model)
            return losses
        gold = self.gold(examples)
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = self.loss(gold, scores)
        report_loss(self.model, loss)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses
