"""`mtl_textcat`: text classification that learns only from documents with categories.

Exclusive classes use a softmax and cross-entropy, multi-label a sigmoid and
binary cross-entropy. A document whose `doc.cats` is empty contributes no loss
and no gradient (stock `textcat` trains it towards "every label is 0"), and in
multi-label mode a label missing from a non-empty `doc.cats` is masked.

With `distill_weight` set, a document that also carries a teacher's category
probabilities (spacy_mtl/pipeline/teacher_targets.py) learns from those too, softened by
`distill_temperature`.

With `out_of_scope_label` set, training documents of that label are not a class:
they learn towards the uniform distribution (outlier exposure, Hendrycks et al.
2019; multi-label: every label negative) and are left out of scoring. A
calibration stored by `python -m spacy_mtl calibrate` (cfg["calibration"], an
`IntentCalibration`'s dict, see spacy_mtl/pipeline/intent_confidence.py) makes doc.cats
calibrated and may reject documents as `rejected_intent`; without one, predictions are as
before.
"""

from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

import numpy
import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import CategoricalCrossentropy, Config, Model
from thinc.types import Floats2d

from ..annotation import describe_doc, has_cats
from ..ml.textcat import VOTES, predict_head
from ..ml.token_intents import set_token_intents
from .checked_loading import ComponentLoadError
from .head import TaskHead, describe_lines
from .intent_confidence import CalibrationError, IntentCalibration, set_intent_state
from .teacher_targets import (
    TEACHER_CATS_KEY,
    check_distill_settings,
    columns_for,
    distill_cats,
    no_targets_error,
    teacher_cats,
    teacher_cats_targets,
)
from .textcat_targets import cats_targets, label_weights

DEFAULT_TEXTCAT_MODEL = Config().from_str(
    """
[model]
@architectures = "spacy_mtl.TextCatHead.v1"
pooling = "attention"
hidden_width = 0
dropout = 0.0
nO = null

[model.tok2vec]
@architectures = "spacy_mtl.SharedTok2VecListener.v1"
width = 96
upstream = "*"
task_weight = 1.0
"""
)["model"]

ClassWeights = Union[None, str, Dict[str, float]]
# The gold label id of a document without categories, which teaches nothing.
MISSING_LABEL = -1


class TextcatScores(NamedTuple):
    """What `mtl_textcat.predict` returns, whatever the head and its calibration.

    probs (Floats2d): Probabilities per document and label: the softmax or sigmoid of the
        logits, calibrated where a calibration is stored.
    token_intents (Optional[List[Floats2d]]): A votes head's (tokens, labels) intent
        probabilities per document; None for a pooled head.
    confidence (Optional[numpy.ndarray]): With a calibration, each document's confidence
        in [0, 1]; else None.
    rejected (Optional[numpy.ndarray]): With a calibration, whether each document is
        rejected as out of scope; else None.
    """

    probs: Floats2d
    token_intents: Optional[List[Floats2d]] = None
    confidence: Optional[numpy.ndarray] = None
    rejected: Optional[numpy.ndarray] = None


@Language.factory(
    "mtl_textcat",
    assigns=["doc.cats"],
    default_config={
        "model": DEFAULT_TEXTCAT_MODEL,
        "exclusive_classes": True,
        "class_weights": None,
        "label_smoothing": 0.0,
        "distill_weight": 0.0,
        "distill_temperature": 2.0,
        "threshold": 0.5,
        "out_of_scope_label": None,
        "rejected_intent": "out_of_scope",
        "scorer": {"@scorers": "spacy_mtl.textcat_scorer.v1"},
    },
    default_score_weights={
        "cats_score": 1.0,
        "cats_acc": None,
        "cats_micro_p": None,
        "cats_micro_r": None,
        "cats_micro_f": None,
        "cats_macro_p": None,
        "cats_macro_r": None,
        "cats_macro_f": None,
        "cats_f_per_type": None,
    },
)
def make_mtl_textcat(
    nlp: Language,
    name: str,
    model: Model[List[Doc], Floats2d],
    exclusive_classes: bool,
    class_weights: ClassWeights,
    label_smoothing: float,
    distill_weight: float,
    distill_temperature: float,
    threshold: float,
    out_of_scope_label: Optional[str],
    rejected_intent: str,
    scorer: Optional[Callable],
) -> "MultiTaskTextCategorizer":
    """Create a text classifier for multi-task training.

    model (Model[List[Doc], Floats2d]): Returns one row of logits per document.
    exclusive_classes (bool): One label per document (softmax) or any number (sigmoid).
    class_weights (None, "balanced" or Dict[str, float]): Loss weight per label;
        "balanced" weighs labels by inverse training frequency, counted over the
        whole training corpus by the labels reader (spacy_mtl.task_labels.v1) when
        [initialize.components.*.labels] uses it, else over the initialize examples.
    label_smoothing (float): Exclusive classes only: the share of each target moved from
        the gold label to the others (thinc's CategoricalCrossentropy); 0 for none.
    distill_weight (float): Exclusive classes only: the share of the loss taken from a
        teacher's probabilities on the documents that carry them (written by
        `python -m spacy_mtl distill-targets`); 0 for none.
    distill_temperature (float): Softens the teacher's and the model's distributions in
        that part of the loss (its gradient is scaled back by the temperature).
    threshold (float): Probability at which a multi-label prediction counts as positive.
    out_of_scope_label (Optional[str]): A training label whose documents are out of scope
        (CLINC150's "oos"): never a class; they teach low confidence instead.
    rejected_intent (str): doc._.intent of a document that a calibration rejects.
    scorer (Optional[Callable]): Scores only documents that have gold categories.
    """
    return MultiTaskTextCategorizer(
        nlp.vocab,
        model,
        name,
        exclusive_classes=exclusive_classes,
        class_weights=class_weights,
        label_smoothing=label_smoothing,
        distill_weight=distill_weight,
        distill_temperature=distill_temperature,
        threshold=threshold,
        out_of_scope_label=out_of_scope_label,
        rejected_intent=rejected_intent,
        scorer=scorer,
    )


class MultiTaskTextCategorizer(TaskHead):
    """Exclusive or multi-label text classification with masked missing annotation."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "mtl_textcat",
        *,
        exclusive_classes: bool = True,
        class_weights: ClassWeights = None,
        label_smoothing: float = 0.0,
        distill_weight: float = 0.0,
        distill_temperature: float = 2.0,
        threshold: float = 0.5,
        out_of_scope_label: Optional[str] = None,
        rejected_intent: str = "out_of_scope",
        scorer: Optional[Callable] = None,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        if not (0.0 <= threshold <= 1.0):
            raise ValueError(f"[components.{name}] threshold must lie in [0, 1], got {threshold}.")
        if isinstance(class_weights, str) and class_weights != "balanced":
            raise ValueError(
                f'[components.{name}] class_weights must be null, "balanced" or a mapping '
                f"of label to weight, got {class_weights!r}."
            )
        if not (0.0 <= label_smoothing < 0.5):
            raise ValueError(
                f"[components.{name}] label_smoothing must lie in [0, 0.5), got {label_smoothing}."
            )
        check_distill_settings(name, distill_weight, distill_temperature)
        exclusive_only = {
            "label_smoothing": label_smoothing,
            "distill_weight": distill_weight,
            'pooling = "votes"': model.attrs.get("pooling") == VOTES,
        }
        for setting, used in exclusive_only.items():
            if used and not exclusive_classes:
                raise ValueError(
                    f"[components.{name}] {setting} applies to exclusive classes only; "
                    "turn it off or set exclusive_classes = true."
                )
        self._cross_entropy = CategoricalCrossentropy(
            normalize=False, missing_value=MISSING_LABEL, label_smoothing=label_smoothing
        )
        self.cfg = {
            "labels": [],
            "exclusive_classes": exclusive_classes,
            "class_weights": class_weights,
            "label_smoothing": label_smoothing,
            "distill_weight": distill_weight,
            "distill_temperature": distill_temperature,
            "threshold": threshold,
            "label_weights": [],
            "out_of_scope_label": out_of_scope_label,
            "rejected_intent": rejected_intent,
            "calibration": None,
        }
        # The checked calibration of the stored dict it was read from, read once per dict.
        self._calibration: Tuple[Optional[Dict], int, Optional[IntentCalibration]] = (None, 0, None)

    def output_size(self) -> Optional[int]:
        return self.model.get_ref("output_layer").maybe_get_dim("nO")

    def trained_for(self) -> Dict[str, Any]:
        return {**super().trained_for(), **self.configured_settings()}

    def configured_settings(self) -> Dict[str, Any]:
        return {"exclusive_classes": bool(self.cfg["exclusive_classes"])}

    def add_label(self, label: str) -> int:
        """Add a label before initialization. RETURNS (int): 1 if new, 0 if known."""
        if not isinstance(label, str):
            raise ValueError(f"Labels of {self.name} must be strings, got {label!r}.")
        if label in self.labels or label == self.cfg["out_of_scope_label"]:
            # The out-of-scope label is not a class to predict.
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> TextcatScores:
        """Probabilities per document and label (softmax or sigmoid of the logits); with a
        calibration, calibrated, with confidences and rejections; with votes pooling, also
        each token's intent."""
        docs = list(docs)
        if not docs:
            return TextcatScores(self.model.ops.alloc2f(0, len(self.labels)))
        self.require_encoder_output(docs)
        calibration = self.calibration
        needs_features = calibration is not None and calibration.needs_features
        output = predict_head(self.model, docs, with_features=needs_features)
        if calibration is None:
            return TextcatScores(self._activate(output.logits), output.token_probs)
        ops = self.model.ops
        verdicts = calibration.scores(
            ops.to_numpy(output.logits),
            ops.to_numpy(output.features) if needs_features else None,
            bool(self.cfg["exclusive_classes"]),
        )
        return TextcatScores(
            verdicts.probs, output.token_probs, verdicts.confidence, verdicts.out_of_scope
        )

    def _activate(self, logits: Floats2d) -> Floats2d:
        ops = self.model.ops
        if self.cfg["exclusive_classes"]:
            return ops.softmax(logits, axis=-1)
        return ops.sigmoid(logits)

    def set_annotations(self, docs: Iterable[Doc], scores: TextcatScores) -> None:
        ops = self.model.ops
        probs = ops.to_numpy(scores.probs)
        for i, doc in enumerate(docs):
            doc.cats = {label: float(probs[i, j]) for j, label in enumerate(self.labels)}
            if scores.token_intents is not None:
                set_token_intents(doc, self.labels, ops.to_numpy(scores.token_intents[i]))
            if scores.confidence is not None:
                set_intent_state(
                    doc, self.cfg["rejected_intent"], scores.confidence[i], scores.rejected[i]
                )

    @property
    def calibration(self) -> Optional[IntentCalibration]:
        """The stored calibration, checked (CalibrationError if it does not fit), or None:
        the head's own probabilities."""
        return self._read_calibration(f"Component {self.name!r}")

    def set_calibration(self, calibration: Optional[IntentCalibration]) -> None:
        """Store a calibration (None: remove it) in cfg, as its JSON file keeps it.

        srsly's JSON rounds floats: stored rounded, a pipeline loaded from disk predicts
        exactly as this one does.
        """
        if calibration is None:
            self.cfg["calibration"] = None
            return
        stored = srsly.json_loads(srsly.json_dumps(calibration.to_dict()))
        n_labels = len(self.labels)
        where = f"Component {self.name!r}"
        checked = IntentCalibration.from_dict(stored, n_labels=n_labels, where=where)
        self.cfg["calibration"] = stored
        self._calibration = (stored, n_labels, checked)

    def _read_calibration(self, where: str) -> Optional[IntentCalibration]:
        stored = self.cfg.get("calibration")
        if not stored:
            return None
        seen, n_labels, calibration = self._calibration
        if seen is not stored or n_labels != len(self.labels):
            n_labels = len(self.labels)
            calibration = IntentCalibration.from_dict(stored, n_labels=n_labels, where=where)
            self._calibration = (stored, n_labels, calibration)
        return calibration

    def is_out_of_scope(self, doc: Doc) -> bool:
        """Whether a gold document is of the out-of-scope training label (not a class)."""
        oos = self.cfg.get("out_of_scope_label")
        return oos is not None and doc.cats.get(oos, 0.0) >= 0.5

    def check_calibration(self, where: str) -> None:
        """Raise if a stored calibration does not fit the labels (a hand-edited cfg)."""
        try:
            self._read_calibration(f"Component {self.name!r} ({where})")
        except CalibrationError as err:
            raise ComponentLoadError(str(err)) from None

    def check_labels_fit_model(self, where: str) -> None:
        super().check_labels_fit_model(where)
        self.check_calibration(where)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, object]:
        """Score the documents with categories, leaving out-of-scope ones out (not a class)."""
        examples = [eg for eg in examples if not self.is_out_of_scope(eg.reference)]
        return super().score(examples, **kwargs)

    task_noun = "document with categories (doc.cats)"
    main_score = "cats_score"

    def is_annotated(self, example: Example) -> bool:
        return has_cats(example.reference)

    def gold_labels(self, doc: Doc) -> List[str]:
        oos = self.cfg.get("out_of_scope_label")
        return [label for label, value in doc.cats.items() if value >= 0.5 and label != oos]

    def labels_in(self, doc: Doc) -> List[str]:
        return [label for label in doc.cats if label != self.cfg.get("out_of_scope_label")]

    def gold_problems(self, example: Example) -> List[str]:
        if not self.cfg["exclusive_classes"] or self.is_out_of_scope(example.reference):
            return []
        positives = self.gold_labels(example.reference)
        if len(positives) == 1:
            return []
        return [
            f"{len(positives)} positive categories {positives}, but exclusive_classes = true: "
            "exactly one label must be 1.0 (set exclusive_classes = false for multi-label data)"
        ]

    def gold(self, examples: List[Example]) -> Tuple[numpy.ndarray, ...]:
        """Gold targets, a mask of the annotated (document, label) cells, and teacher targets.

        The teacher targets are the softened teacher probabilities of each
        annotated document that carries them (rows of zeros elsewhere), or
        None when the head does not distill.
        """
        targets, mask = cats_targets(
            examples, self.labels, self.name, self.cfg["exclusive_classes"], self.is_out_of_scope
        )
        teacher = None
        if self.cfg.get("distill_weight"):
            temperature = self.cfg["distill_temperature"]
            teacher = teacher_cats_targets(examples, list(self.labels), mask, temperature)
        return targets, mask, teacher

    def loss(self, gold: Tuple[numpy.ndarray, ...], logits: Floats2d) -> Tuple[float, Floats2d]:
        """Cross-entropy (exclusive) or binary cross-entropy (multi-label) over annotated rows.

        Exclusive classes take their gradient from thinc's CategoricalCrossentropy
        (rows without categories are its missing value); class weights scale
        each row by the weight of its gold label, which thinc's losses do not
        offer, and thinc has no binary cross-entropy, so multi-label is ours.

        With teacher targets, their rows mix in the teacher's part (`distill_cats`).

        RETURNS (Tuple[float, Floats2d]): The summed loss over the annotated
            documents and the gradient of the logits; rows of documents without
            cats are zero.
        """
        targets, mask, teacher = gold
        ops = self.model.ops
        probs = ops.to_numpy(self._activate(logits))
        weights = numpy.asarray(self.cfg["label_weights"] or [1.0] * len(self.labels), dtype="f")
        if self.cfg["exclusive_classes"]:
            # A row of uniform targets is an out-of-scope document (see _targets).
            oos = mask.any(axis=1) & (targets.max(axis=1) < 1.0)
            annotated = mask.any(axis=1) & ~oos
            gold_ids = numpy.where(annotated, targets.argmax(axis=1), MISSING_LABEL)
            row_weight = ((targets * weights).sum(axis=1, keepdims=True)).astype("f")
            d = self._cross_entropy.get_grad(probs, gold_ids) * row_weight
            d[oos] = ((probs - targets) * row_weight)[oos]
            # The (label-smoothed) targets thinc's gradient used; zero rows where cats are missing.
            smoothed, row_mask = self._cross_entropy.convert_truths(gold_ids, probs)
            log_probs = numpy.log(numpy.clip(probs, 1e-8, 1.0))
            row_loss = (-(smoothed * row_mask * log_probs) * row_weight).sum(axis=1)
            row_loss[oos] = (-(targets * log_probs) * row_weight).sum(axis=1)[oos]
            if teacher is not None and teacher.any():
                d, row_loss = distill_cats(
                    ops.to_numpy(logits).astype("f"),
                    teacher,
                    row_weight,
                    (d, row_loss),
                    self.cfg["distill_weight"],
                    self.cfg["distill_temperature"],
                )
            loss = float(row_loss.sum())
        else:
            d = (probs - targets) * mask * weights
            eps = 1e-8
            bce = -(targets * numpy.log(probs + eps) + (1 - targets) * numpy.log(1 - probs + eps))
            loss = float((bce * mask * weights).sum())
        return loss, ops.asarray2f(d)

    def scorer_settings(self) -> Dict[str, object]:
        return {
            "labels": self.labels,
            "multi_label": not self.cfg["exclusive_classes"],
            "threshold": self.cfg["threshold"],
        }

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
            data. From spacy_mtl.task_labels.v1 they carry each label's count over
            the whole training corpus, which "balanced" class weights then use:
            under `[training] max_epochs = -1` spaCy passes only the first 100
            training examples here. A plain list leaves the counts to the examples.
        """
        counts = getattr(labels, "counts", None)
        self._corpus_counts = None if counts is None else (counts, labels.n_docs)
        super().initialize(get_examples, nlp=nlp, labels=labels)

    def start_initialize(self) -> None:
        self._counts: Dict[str, float] = {}
        self._n_annotated = 0
        # The first training document with each set of teacher labels.
        self._teacher_labels: Dict[Tuple[str, ...], str] = {}

    def observe(self, example: Example, index: int) -> None:
        self._n_annotated += 1
        for label, value in example.reference.cats.items():
            self._counts[label] = self._counts.get(label, 0.0) + float(value)
        cats = teacher_cats(example.reference) if self.cfg["distill_weight"] else None
        if cats is not None:
            where = f"training example {index} ({describe_doc(example.reference)})"
            self._teacher_labels.setdefault(tuple(cats), where)

    def check_given_labels(self, labels: Iterable[str]) -> None:
        not_one_hot = getattr(labels, "not_one_hot", None)
        if self.cfg["exclusive_classes"] and not_one_hot:
            raise ValueError(
                f"{self.name} has exclusive_classes = true, but {len(not_one_hot)} training "
                "document(s) do not have exactly one positive category (set exclusive_classes "
                "= false for multi-label data):\n" + describe_lines(not_one_hot)
            )

    def finish_initialize(self, nlp: Optional[Language]) -> None:
        if len(self.labels) < 2 and self.cfg["exclusive_classes"]:
            raise ValueError(
                f"{self.name} has exclusive_classes = true but only one label {list(self.labels)}: "
                "an exclusive classifier needs at least two."
            )
        counts, n_annotated = self._corpus_counts or (self._counts, self._n_annotated)
        self.cfg["label_weights"] = label_weights(
            self.name, self.labels, self.cfg["class_weights"], counts, n_annotated
        )
        if self.cfg["distill_weight"]:
            if not self._teacher_labels:
                raise no_targets_error(self.name, "categories", TEACHER_CATS_KEY)
            for teacher_labels, where in self._teacher_labels.items():
                columns_for(list(self.labels), list(teacher_labels), "categories", where)
        self.model.get_ref("output_layer").set_dim("nO", len(self.labels))
