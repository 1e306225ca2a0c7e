"""The listener a task head uses to read the shared encoder's token vectors.

spaCy's `Tok2VecListener` hands gradients upstream through whatever callback the
encoder gave it, and stock `Tok2Vec` backpropagates only when the *last*
listener of the pipeline calls back: a head that skips a batch (it has no
annotation there) silently drops every other head's gradient. The
`SharedTok2VecListener` keeps the listener protocol, so spaCy's
`find_listeners` and `replace_listeners` still work, and adds two things the
`mtl_tok2vec` encoder relies on: a task weight, and `skip()`, which tells the
encoder that this head has nothing to send for the current batch.
"""

from typing import Any, Callable, List, Optional, Tuple

from spacy.pipeline.tok2vec import Tok2VecListener
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d


class TaskGradient:
    """The callback a shared encoder passes to one listener for one batch.

    It belongs to that batch and that listener: calling it with the head's
    gradient (or with None, "nothing to send") reports to the encoder under the
    head's task name, and the encoder refuses a second or a late call.

    receive (Callable[[TaskGradient, Optional[List[Floats2d]]], None]): The encoder's sink.
    batch (Any): The encoder's record of the batch this callback belongs to.
    task (str): The name of the listening component.
    weight (float): The listener's task weight w_i.
    """

    def __init__(
        self,
        receive: Callable[["TaskGradient", Optional[List[Floats2d]]], None],
        batch: Any,
        task: str,
        weight: float = 1.0,
    ):
        self._receive = receive
        self.batch = batch
        self.task = task
        self.weight = weight
        self.loss: Optional[float] = None

    def __call__(self, d_tokvecs: Optional[List[Floats2d]]) -> list:
        self._receive(self, d_tokvecs)
        return []


class SharedTok2VecListener(Tok2VecListener):
    """A Tok2VecListener whose head's gradient is weighted and may be skipped."""

    name = "mtl-tok2vec-listener"

    def __init__(self, upstream_name: str, width: int, task_weight: float = 1.0) -> None:
        super().__init__(upstream_name=upstream_name, width=width)
        if task_weight < 0:
            raise ValueError(
                f"task_weight of a SharedTok2VecListener must be >= 0, got {task_weight}."
            )
        self.attrs["task_weight"] = float(task_weight)

    @property
    def task_weight(self) -> float:
        return self.attrs["task_weight"]

    def report_loss(self, loss: float) -> None:
        """Tell the encoder the head's loss on the current batch (for loss-based balancing)."""
        if isinstance(self._backprop, TaskGradient):
            self._backprop.loss = loss

    def skip(self) -> None:
        """Tell the encoder that this head sends no gradient for the current batch."""
        if isinstance(self._backprop, TaskGradient):
            self._backprop(None)
        self._backprop = None


def skip_listeners(model: Model) -> None:
    """Report "no gradient this batch" from every shared listener inside a head's model."""
    for node in model.walk():
        if isinstance(node, SharedTok2VecListener):
            node.skip()


def report_loss(model: Model, loss: float) -> None:
    """Pass a head's loss on the current batch to the encoder, through its shared listeners."""
    for node in model.walk():
        if isinstance(node, SharedTok2VecListener):
            node.report_loss(loss)


def begin_task_update(model: Model, docs: List[Doc]) -> Tuple[Any, Callable[[Any, float], Any]]:
    """`model.begin_update(docs)` for a head, whose backprop takes the loss with the gradient.

    A loss-based balancer reads a head's loss when the head's gradient reaches
    the shared encoder, so the loss must be there first: one call sends both.

    model (Model): A head's model, with shared listeners inside.
    docs (List[Doc]): The batch.
    RETURNS (Tuple[Any, Callable]): The scores, and backprop(d_scores, loss).
    """
    scores, backprop = model.begin_update(docs)

    def backprop_with_loss(d_scores: Any, loss: float) -> Any:
        report_loss(model, loss)
        return backprop(d_scores)

    return scores, backprop_with_loss


@registry.architectures("spacy_mtl.SharedTok2VecListener.v1")
def build_shared_tok2vec_listener(
    width: int, upstream: str = "*", task_weight: float = 1.0
) -> Model:
    """Listen to an upstream `mtl_tok2vec` component.

    width (int): The width of the upstream encoder's token vectors.
    upstream (str): The name of the encoder component, or "*" for any.
    task_weight (float): The factor w_i on this head's gradient into the shared
        encoder, the weight of its loss in sum_i w_i L_i as far as the encoder sees it.
    RETURNS (Model[List[Doc], List[Floats2d]]): The listener.
    """
    return SharedTok2VecListener(upstream_name=upstream, width=width, task_weight=task_weight)
