"""`TaskHead`: what `mtl_textcat` and `mtl_ner` share about learning from partial annotation.

A head learns only from the examples annotated for its task. When a batch has
none, it tells the shared encoder so (`skip_listeners`) instead of staying
silent, and when it learns it sends its loss with its gradient, in one call
(`begin_task_update`), for loss-based task balancing. The gold data is read
and checked before the forward pass, so bad input fails before any computation.

That holds for the optimizer step too: `finish_update`, which spaCy calls on
every trainable component once per training step, steps a head only if it
backpropagated a gradient since its last step (in any sub-batch of an
accumulated step). A step on a zero gradient would still move the weights,
through Adam's momentum and the decoupled weight decay (L2), so a batch without
the task's annotation would teach the head something; skipped, its parameters
and their optimizer state stay as they were, as the shared encoder does when no
head sends it a gradient. The per-parameter update counts of thinc's Adam then
count the steps the head learned in.

Losses are sums over the annotated documents of a batch, as in spaCy's own
components: the gradient of a batch is then the sum of the gradients of its
parts, so `accumulate_gradient = N` gives the same step as one batch N times
as large.

The base class also holds the labels (`cfg["labels"]`), scoring on the
documents annotated for the task, and the initialize loop that reads the
training examples once for labels, a sample of documents and checks.
"""

import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from spacy.language import Language
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from thinc.api import Optimizer, set_dropout_rate

from ..annotation import describe_doc
from ..ml.listener import begin_task_update, skip_listeners
from ..scorers import warn_unseen_labels
from .checked_loading import CheckedLoading, ComponentLoadError
from .corpus_checks import CorpusWarning
from .examples import shared_examples
from .trained_for import (
    differences,
    forget_trained_for,
    record_trained_for,
    recorded_trained_for,
)

# Documents the model is initialized on (to infer its shapes).
N_SAMPLE_DOCS = 10
# Problems listed one per line in an error; the rest are counted.
MAX_LISTED = 50


class GoldDataWarning(UserWarning):
    """Evaluation data that a head scores, though not as intended."""


def describe_problems(noun: str, problems: List[Tuple[int, Doc, str]]) -> str:
    """One line per problem: which document (index, preview, source) and what is wrong."""
    return describe_lines(
        [f"{noun} {i} ({describe_doc(doc)}): {problem}" for i, doc, problem in problems]
    )


def describe_lines(lines: List[str]) -> str:
    """The lines indented, the first MAX_LISTED of them, and a count of the rest."""
    shown = [f"  {line}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"  ... and {len(lines) - MAX_LISTED} more")
    return "\n".join(shown)


class TaskHead(CheckedLoading, TrainablePipe):
    """A trainable component whose update skips examples not annotated for its task.

    `_unapplied` says whether a gradient has been backpropagated into the model
    since the last optimizer step; `finish_update` steps only then.
    """

    # Initializes from the examples the encoder and the other heads read too
    # (see pipeline/examples.py).
    shares_examples = True

    _unapplied = False

    def output_size(self) -> Optional[int]:
        """The number of scores the model outputs, once known (labels, or BIO tags)."""
        raise NotImplementedError

    def expected_output_size(self) -> int:
        """The number of scores the labels call for."""
        return len(self.labels)

    def check_labels_fit_model(self, where: str) -> None:
        """Raise if the labels in cfg do not fit the weights (a hand-edited cfg)."""
        size = self.output_size()
        if size is not None and size != self.expected_output_size():
            raise ComponentLoadError(
                f"Component {self.name!r} ({where}): its {len(self.labels)} labels in cfg "
                f"({', '.join(self.labels[:5])}{', ...' if len(self.labels) > 5 else ''}) call "
                f"for {self.expected_output_size()} scores, but its weights give {size}. The "
                "cfg file was edited or comes from another model: restore it."
            )

    def trained_for(self) -> Dict[str, Any]:
        """The settings the output layer is trained for, recorded with the weights at initialize.

        The labels in order; a head adds what else shapes its output.
        """
        return {"labels": list(self.labels)}

    def configured_settings(self) -> Dict[str, Any]:
        """The settings of `trained_for` that the config gives (cfg overrides them on load)."""
        return {}

    def start_load(self, exclude: Iterable[str]) -> Dict[str, Any]:
        if "model" not in exclude:
            forget_trained_for(self.model)
        return self.configured_settings()

    def check_trained_for(self, where: str, configured: Dict[str, Any]) -> None:
        """Raise if cfg or the config say other than what the weights were trained for."""
        record = recorded_trained_for(self.model)
        if record is None:  # saved before the record existed
            return
        cfg_file = "the cfg in the bytes" if where == "bytes" else f"{where}/cfg"
        wrong = differences(record, self.trained_for())
        if wrong:
            raise ComponentLoadError(
                f"Component {self.name!r} ({where}): {cfg_file} says {'; '.join(wrong)}. The file "
                "was edited or comes from another pipeline: restore it from the trained pipeline "
                "(or retrain with the settings you want)."
            )
        wrong = differences(record, configured)
        if wrong:
            raise ComponentLoadError(
                f"Component {self.name!r} ({where}): its config ([components.{self.name}] in the "
                f"pipeline's config.cfg, or a config override given to spacy.load) says "
                f"{'; '.join(wrong)}. Trained weights cannot change this: load it with the "
                "setting it was trained with, or retrain."
            )

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    def require_encoder_output(self, docs: List[Doc]) -> None:
        """Raise if the shared encoder did not run on the documents.

        spaCy's listeners predict from zeros when the encoder did not set
        doc.tensor (it was disabled with nlp.pipe(disable=...), or the head was
        called alone), which gives confident nonsense with no warning.
        """
        for doc in docs:
            if len(doc) and doc.tensor.size == 0:
                listeners = [n for n in self.model.walk() if hasattr(n, "upstream_name")]
                upstream = sorted({node.upstream_name for node in listeners})
                raise ValueError(
                    f"{self.name!r} got a document without token vectors ({doc.text[:40]!r}): "
                    f"its shared encoder ({', '.join(map(repr, upstream))}) did not run on it. "
                    "Do not disable the encoder while its heads run (nlp.pipe(disable=...), "
                    "nlp.select_pipes), or run it on the documents first."
                )

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
        """The loss and the gradient of the scores for targets from `gold`; no side effect."""
        raise NotImplementedError

    def update_loss(self, gold: Any, scores: Any) -> Tuple[float, Any]:
        """`loss` in `update`: a loss with parameters of its own accumulates their gradient here.

        Only `mtl_ner` has one (its CRF's transition scores); `finish_update` applies it.
        """
        return self.loss(gold, scores)

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        """The loss and the gradient of the scores; unannotated examples add nothing.

        Pure, as spaCy's components' `get_loss`: it changes no gradient.
        """
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
        scores, backprop = begin_task_update(self.model, [eg.predicted for eg in examples])
        loss, d_scores = self.update_loss(gold, scores)
        backprop(d_scores, loss)
        self._unapplied = True
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the optimizer to the gradient backpropagated since the last step, if any.

        Without one (no document of the step was annotated for the task) the step
        is skipped: Adam's momentum and the decoupled weight decay would move the
        weights all the same, learning from documents that lack the annotation.

        sgd (Optimizer): The optimizer.
        """
        if self._unapplied:
            self._unapplied = False
            super().finish_update(sgd)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, object]:
        """Score the documents annotated for this task (see spacy_mtl.scorers)."""
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.score")
        warn_unseen_labels(self.name, self.labels, examples, self.gold_labels)
        problems = [
            (i, eg.reference, problem)
            for i, eg in enumerate(examples)
            if self.is_annotated(eg)
            for problem in self.gold_problems(eg)
        ]
        if problems:
            warnings.warn(
                f"{self.name}: {len(problems)} evaluation document(s) have gold data it cannot "
                "score as intended; their scores count as they are:\n"
                + describe_problems("document", problems),
                GoldDataWarning,
                stacklevel=2,
            )
        kwargs.update(self.scorer_settings())
        scores = self.scorer(examples, **kwargs) if self.scorer else {}
        if not any(self.is_annotated(eg) for eg in examples):
            scores = self._unscored(scores, len(examples))
        return scores

    # The score that weighs this head in spaCy's training score (for messages).
    main_score = ""
    _warned_unscored = False

    def _unscored_message(self, n_docs: int) -> str:
        if not n_docs:
            return (
                f"{self.name}: there are no evaluation documents, so its scores are None "
                "(shown as 0.00 in spaCy's training table). Give the dev corpus documents."
            )
        return (
            f"{self.name}: none of the {n_docs} evaluation documents is annotated for it "
            f"({self.task_noun}), so its scores are None, not 0. spaCy's training table shows "
            "them as 0.00 and leaves their weight out of the score, which is then the other "
            f"tasks' weighted share alone. Add documents annotated for {self.name} to the "
            "dev corpus, or score by the other tasks alone with "
            f"--training.score_weights.{self.main_score} null."
        )

    def _unscored(self, scores: Dict[str, object], n_docs: int) -> Dict[str, object]:
        """No evaluation document is annotated for the task: None, not 0, and a warning once.

        spaCy leaves a None score out of its weighted training score and its
        table shows it as 0.00, so the warning says what that means.
        """
        if not self._warned_unscored:
            self._warned_unscored = True
            warnings.warn(self._unscored_message(n_docs), CorpusWarning, stacklevel=3)
        return {
            key: value if key.endswith(("_n_docs", "_desc")) else None
            for key, value in scores.items()
        }

    def scorer_settings(self) -> Dict[str, Any]:
        """Keyword arguments this head passes to its scorer."""
        return {}

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Any] = None,
    ) -> None:
        """Read the training examples once: collect the labels and size the model.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        nlp (Language): The pipeline.
        labels (Optional[Iterable[str]]): Labels to use instead of those in the
            data, e.g. from spacy_mtl.task_labels.v1 (typed Any so that spaCy's
            settings validation passes its findings on unconverted).
        """
        examples = shared_examples(
            get_examples, nlp, self.name, f"{type(self).__name__}.initialize"
        )
        if labels is not None:
            self.check_given_labels(labels)
        doc_sample = []
        found = set()
        problems: List[Tuple[int, Doc, str]] = []
        named: List[Tuple[int, Doc, List[str]]] = []
        self.start_initialize()
        for i, eg in enumerate(examples):
            if len(doc_sample) < N_SAMPLE_DOCS:
                doc_sample.append(eg.predicted)
            if self.is_annotated(eg):
                self.observe(eg, i)
                problems.extend((i, eg.reference, p) for p in self.gold_problems(eg))
                names = self.labels_in(eg.reference)
                found.update(names)
                if labels is not None:
                    named.append((i, eg.reference, names))
        self._set_labels(sorted(found) if labels is None else labels)
        problems.extend(self._unknown_labels(named))
        if problems:
            raise ValueError(
                f"{self.name} cannot learn from {len({i for i, _, _ in problems})} training "
                "example(s); fix or remove them before training:\n"
                + describe_problems("training example", sorted(problems, key=lambda p: p[0]))
            )
        self.finish_initialize(nlp)
        self.model.initialize(X=doc_sample or None)
        record_trained_for(self.model, self.trained_for())

    def _set_labels(self, labels: Iterable[str]) -> None:
        """Replace the labels; raise if there are none."""
        self.cfg["labels"] = []
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(
                f"{self.name} found no {self.task_noun} among the training examples, and no "
                f"labels were given in [initialize.components.{self.name}.labels]. Check that "
                f"the training corpus annotates {self.task_noun}."
            )

    def _unknown_labels(
        self, named: List[Tuple[int, Doc, List[str]]]
    ) -> List[Tuple[int, Doc, str]]:
        """A problem for each training example that names labels outside the given ones."""
        problems = []
        for i, doc, names in named:
            unknown = [name for name in names if name not in self.labels]
            if unknown:
                problems.append((i, doc, f"labels {unknown} not among the given labels"))
        return problems

    def gold_problems(self, example: Example) -> List[str]:
        """What is wrong with an annotated example's gold data for this head, if anything."""
        return []

    def check_given_labels(self, labels: Iterable[str]) -> None:
        """Raise for what a labels reader found wrong in the whole training corpus."""

    task_noun = "annotation"

    def start_initialize(self) -> None:
        """Reset what `observe` collects."""

    def observe(self, example: Example, index: int) -> None:
        """Look at one annotated training example during initialize (counts, checks)."""

    def finish_initialize(self, nlp: Optional[Language]) -> None:
        """Size the output layer for the labels, and set what depends on them."""
        raise NotImplementedError
