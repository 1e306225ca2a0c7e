"""`TaskHead`: what `mtl_textcat` and `mtl_ner` share about learning from partial annotation.

A head learns only from the examples annotated for its task. When a batch has
none, it tells the shared encoder so (`skip_listeners`) instead of staying
silent, and when it learns it reports its loss along with its gradient, for
loss-based task balancing. The gold data is read and checked before the
forward pass, so bad input fails before any computation.

Losses are sums over the annotated documents of a batch, as in spaCy's own
components: the gradient of a batch is then the sum of the gradients of its
parts, so `accumulate_gradient = N` gives the same step as one batch N times
as large.

The base class also holds the labels (`cfg["labels"]`), scoring on the
documents annotated for the task, and the initialize loop that reads the
training examples once for labels, a sample of documents and checks.
"""

from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from spacy.language import Language
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from thinc.api import Optimizer, set_dropout_rate

from ..ml.listener import report_loss, skip_listeners
from ..scorers import warn_unseen_labels

# Documents the model is initialized on (to infer its shapes).
N_SAMPLE_DOCS = 10


class TaskHead(TrainablePipe):
    """A trainable component whose update skips examples not annotated for its task."""

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def is_annotated(self, example: Example) -> bool:
        """Whether the example teaches this head anything."""
        raise NotImplementedError

    def gold_labels(self, doc: Doc) -> List[str]:
        """The labels a gold document carries for this task (for the unseen-label warning)."""
        raise NotImplementedError

    def labels_in(self, doc: Doc) -> List[str]:
        """The labels a training document names for this task, at initialize."""
        return self.gold_labels(doc)

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

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, object]:
        """Score the documents annotated for this task (see spacy_mtl.scorers)."""
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.score")
        warn_unseen_labels(self.name, self.labels, examples, self.gold_labels)
        kwargs.update(self.scorer_settings())
        return self.scorer(examples, **kwargs) if self.scorer else {}

    def scorer_settings(self) -> Dict[str, Any]:
        """Keyword arguments this head passes to its scorer."""
        return {}

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        """Read the training examples once: collect the labels and size the model.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        nlp (Language): The pipeline.
        labels (Optional[Iterable[str]]): Labels to use instead of those in the
            data, e.g. from spacy_mtl.task_labels.v1.
        """
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        doc_sample = []
        found = set()
        self.start_initialize()
        for i, eg in enumerate(get_examples()):
            if len(doc_sample) < N_SAMPLE_DOCS:
                doc_sample.append(eg.predicted)
            if self.is_annotated(eg):
                self.observe(eg, i)
                found.update(self.labels_in(eg.reference))
        self.cfg["labels"] = []
        for label in sorted(found) if labels is None else labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(
                f"{self.name} found no {self.task_noun} among the training examples, and no "
                f"labels were given in [initialize.components.{self.name}.labels]. Check that "
                f"the training corpus annotates {self.task_noun}."
            )
        self.finish_initialize(nlp)
        self.model.initialize(X=doc_sample or None)

    task_noun = "annotation"

    def start_initialize(self) -> None:
        """Reset what `observe` collects."""

    def observe(self, example: Example, index: int) -> None:
        """Look at one annotated training example during initialize (counts, checks)."""

    def finish_initialize(self, nlp: Optional[Language]) -> None:
        """Size the output layer for the labels, and set what depends on them."""
        raise NotImplementedError
