"""`mtl_ner`: a CRF entity recogniser on the shared token vectors.

It learns only from documents with entity annotation. Tokens whose annotation
is missing are marginalised by the CRF (partial annotation); an explicitly empty
`doc.ents` (every token "O") means "no entities here" and is learned as such.

With `distill_weight` set, a document that also carries a teacher CRF's tag
marginals (spacy_mtl/pipeline/teacher_targets.py) learns from those too: the CRF's
cross-entropy against them at `distill_temperature` (`LinearChainCRF.soft_loss`).
"""

import warnings
from itertools import groupby
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy
from spacy.attrs import IS_SPACE
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example, biluo_tags_to_spans, iob_to_biluo
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..annotation import describe_doc, has_ents
from ..ml.crf import MISSING, bio_tag_names
from ..ml.tagger import (
    crf_decode,
    crf_loss,
    crf_marginals,
    crf_module,
    crf_span_log_probabilities,
    crf_update,
    set_context_labels,
)
from .checked_loading import ComponentLoadError
from .entity_confidence import (
    CALIBRATION_KEY,
    calibrated,
    check_calibration,
    check_confidence_settings,
    set_confidences,
    temperature_of,
)
from .head import TaskHead
from .teacher_targets import (
    TEACHER_TAGS_KEY,
    check_distill_settings,
    columns_for,
    no_targets_error,
    soften,
    teacher_tags,
)

DEFAULT_NER_MODEL = Config().from_str(
    """
[model]
@architectures = "spacy_mtl.CRFTagger.v1"
hidden_width = 0
nO = null

[model.tok2vec]
@architectures = "spacy_mtl.SharedTok2VecListener.v1"
width = 96
upstream = "*"
task_weight = 1.0
"""
)["model"]


@Language.factory(
    "mtl_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_NER_MODEL,
        "distill_weight": 0.0,
        "distill_temperature": 2.0,
        "confidences": True,
        "confidence_threshold": None,
        "scorer": {"@scorers": "spacy_mtl.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": None, "ents_r": None, "ents_per_type": None},
)
def make_mtl_ner(
    nlp: Language,
    name: str,
    model: Model,
    distill_weight: float,
    distill_temperature: float,
    confidences: bool,
    confidence_threshold: Optional[float],
    scorer: Optional[Callable],
) -> "MultiTaskEntityRecognizer":
    """Create a CRF entity recogniser for multi-task training.

    model (Model[List[Doc], List[Floats2d]]): Per-token BIO emission scores with a
        "crf" ref, such as spacy_mtl.CRFTagger.v1.
    distill_weight (float): The share of the loss taken from a teacher's tag marginals
        on the documents that carry them (written by `python -m spacy_mtl
        distill-targets`); 0 for none.
    distill_temperature (float): Softens the teacher's marginals and the CRF's scores in
        that part of the loss.
    confidences (bool): Give each predicted entity `Span._.confidence`, the (calibrated)
        probability under the CRF that exactly its tokens form one entity of its label.
    confidence_threshold (Optional[float]): Drop predicted entities whose confidence is
        below this; None (the default) keeps them all.
    scorer (Optional[Callable]): Scores only documents with entity annotation.
    """
    return MultiTaskEntityRecognizer(
        nlp.vocab,
        model,
        name,
        distill_weight=distill_weight,
        distill_temperature=distill_temperature,
        confidences=confidences,
        confidence_threshold=confidence_threshold,
        scorer=scorer,
    )


class EntityScores(NamedTuple):
    """What `mtl_ner.predict` gives `set_annotations`: the best tags and the scores behind them."""

    tag_ids: List[List[int]]
    emissions: List[Floats2d]


class MultiTaskEntityRecognizer(TaskHead):
    """BIO sequence labelling with a CRF, trained on partially annotated data."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "mtl_ner",
        *,
        distill_weight: float = 0.0,
        distill_temperature: float = 2.0,
        confidences: bool = True,
        confidence_threshold: Optional[float] = None,
        scorer: Optional[Callable] = None,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        check_distill_settings(name, distill_weight, distill_temperature)
        check_confidence_settings(name, confidences, confidence_threshold)
        self.confidences = confidences
        self.confidence_threshold = confidence_threshold
        self.cfg: Dict[str, Any] = {
            "labels": [],
            "distill_weight": distill_weight,
            "distill_temperature": distill_temperature,
            CALIBRATION_KEY: None,
        }

    @property
    def tag_names(self) -> List[str]:
        return bio_tag_names(list(self.labels))

    def output_size(self) -> Optional[int]:
        size = self.model.get_ref("output_layer").maybe_get_dim("nO")
        n_tags = crf_module(self.model).n_tags
        if size is not None and n_tags and n_tags != size:
            return n_tags  # the CRF's size disagrees with the emissions': report it
        return size

    def expected_output_size(self) -> int:
        return len(self.tag_names)

    def trained_for(self) -> Dict[str, Any]:
        return {**super().trained_for(), "tags": self.tag_names}

    def add_label(self, label: str) -> int:
        """Add an entity type before initialization. RETURNS (int): 1 if new, 0 if known."""
        if not isinstance(label, str) or not label:
            raise ValueError(f"Labels of {self.name} must be non-empty strings, got {label!r}.")
        if label in self.labels:
            return 0
        if self.model.has_dim("nO"):
            raise ValueError(
                f"Cannot add label {label!r} to {self.name} after initialization: "
                "its CRF is sized for the labels it has."
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def predict(self, docs: Iterable[Doc]) -> EntityScores:
        """The best BIO tag ids of each document under the CRF's constraints, and the
        emission scores (for the entities' confidences)."""
        docs = list(docs)
        if not docs:
            return EntityScores([], [])
        self.require_encoder_output(docs)
        emissions = self.model.predict(docs)
        return EntityScores(crf_decode(self.model, emissions), emissions)

    @property
    def calibration(self) -> Optional[Dict[str, Any]]:
        """The stored calibration of the entities' confidences, or None (raw probabilities)."""
        return self.cfg.get(CALIBRATION_KEY)

    def set_calibration(self, calibration: Optional[Dict[str, Any]]) -> None:
        """Store a calibration (see spacy_mtl/pipeline/entity_confidence.py), or None."""
        check_calibration(calibration, f"Component {self.name!r}")
        self.cfg[CALIBRATION_KEY] = calibration

    def check_trained_for(self, where: str, configured: Dict[str, Any]) -> None:
        super().check_trained_for(where, configured)
        try:
            check_calibration(self.calibration, f"Component {self.name!r} ({where}/cfg)")
        except ValueError as err:
            raise ComponentLoadError(str(err)) from None

    def marginals(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """Each document's (tokens, tags) posterior tag marginals, in `tag_names` order.

        The targets a student learns from in distillation; unlike `predict`, this runs torch.
        """
        docs = list(docs)
        if not docs:
            return []
        self.require_encoder_output(docs)
        return crf_marginals(self.model, self.model.predict(docs))

    def set_annotations(
        self, docs: Iterable[Doc], scores: Union[EntityScores, List[List[int]]]
    ) -> None:
        """Set the entities, each with its confidence when `scores` carries the emissions.

        Entities below `confidence_threshold` are dropped (their tokens become "O").
        """
        docs = list(docs)
        tag_ids, emissions = scores if isinstance(scores, EntityScores) else (scores, None)
        names = self.tag_names
        entities = [_entities(doc, [names[i] for i in ids]) for doc, ids in zip(docs, tag_ids)]
        confidences = self.entity_confidences(emissions, entities)
        for doc, ents, values in zip(docs, entities, confidences):
            if values is not None and self.confidence_threshold is not None:
                kept = [i for i, value in enumerate(values) if value >= self.confidence_threshold]
                ents, values = [ents[i] for i in kept], values[kept]
            doc.set_ents(ents, default="outside")
            set_confidences(doc, ents, values)

    def entity_confidences(
        self, emissions: Optional[List[Floats2d]], entities: List[Sequence[Span]]
    ) -> List[Optional[numpy.ndarray]]:
        """Each document's entities' (calibrated) confidences; None where not computed."""
        if emissions is None or not self.confidences:
            return [None] * len(entities)
        label_ids = {label: i for i, label in enumerate(self.labels)}
        spans = [[(e.start, e.end, label_ids[e.label_]) for e in ents] for ents in entities]
        calibration = self.calibration
        log_probs = crf_span_log_probabilities(
            self.model, emissions, spans, temperature=temperature_of(calibration)
        )
        return [calibrated(values, calibration) for values in log_probs]

    task_noun = "entities"
    main_score = "ents_f"

    def is_annotated(self, example: Example) -> bool:
        return has_ents(example.reference) and len(example.predicted) > 0

    def gold_labels(self, doc: Doc) -> List[str]:
        return [ent.label_ for ent in doc.ents]

    def gold(
        self, examples: List[Example]
    ) -> Dict[int, Tuple[numpy.ndarray, Optional[numpy.ndarray]]]:
        """BIO tag ids and teacher targets of each annotated example, by its index in the batch.

        The teacher targets are the softened teacher marginals, or None (the head
        does not distill, the document has none, or the pipeline tokenizes it
        unlike the gold document the teacher read).
        """
        return {
            i: (self._gold_tag_ids(eg, i), self._teacher_targets(eg, i))
            for i, eg in enumerate(examples)
            if self.is_annotated(eg)
        }

    def _teacher_targets(self, example: Example, index: int) -> Optional[numpy.ndarray]:
        if not self.cfg.get("distill_weight"):
            return None
        stored = teacher_tags(example.reference)
        if stored is None or not _same_tokens(example):
            return None
        names, probs = stored
        where = f"document {index} of the batch ({describe_doc(example.reference)})"
        columns = columns_for(self.tag_names, names, "tags", where)
        if probs.shape[0] != len(example.reference):
            raise ValueError(
                f"The teacher tag marginals of {where} have {probs.shape[0]} rows for "
                f"{len(example.reference)} tokens: the document was changed after "
                "distill-targets annotated it."
            )
        return soften(probs[:, columns], self.cfg["distill_temperature"])

    def loss(
        self,
        gold: Dict[int, Tuple[numpy.ndarray, Optional[numpy.ndarray]]],
        emissions: List[Floats2d],
    ) -> Tuple[float, List[Floats2d]]:
        """The CRF's NLL over the annotated documents, and the emissions' gradient.

        Documents with teacher targets mix in the CRF's soft loss against them.
        Pure, as spaCy's `get_loss`: the CRF's own gradient is `update_loss`'s.

        RETURNS (Tuple[float, List[Floats2d]]): The summed loss over the annotated
            documents and one gradient per document (zero for documents without entities).
        """
        return self._crf_loss(crf_loss, gold, emissions)

    def update_loss(
        self,
        gold: Dict[int, Tuple[numpy.ndarray, Optional[numpy.ndarray]]],
        emissions: List[Floats2d],
    ) -> Tuple[float, List[Floats2d]]:
        """`loss`, also accumulating the gradient of the CRF's transition scores.

        One forward and backward pass through the CRF gives both; `finish_update`
        applies the CRF's gradient with the rest of the model's.
        """
        return self._crf_loss(crf_update, gold, emissions)

    def _crf_loss(
        self,
        run: Callable[..., Tuple[float, List[Floats2d]]],
        gold: Dict[int, Tuple[numpy.ndarray, Optional[numpy.ndarray]]],
        emissions: List[Floats2d],
    ) -> Tuple[float, List[Floats2d]]:
        """`run` (crf_loss or crf_update) on the annotated documents; zeros for the others."""
        ops = self.model.ops
        d_emissions = [ops.alloc2f(*e.shape) for e in emissions]
        if not gold:
            return 0.0, d_emissions
        rows = list(gold)
        loss, d_rows = run(
            self.model,
            [emissions[i] for i in rows],
            [gold[i][0] for i in rows],
            [gold[i][1] for i in rows],
            (self.cfg["distill_weight"], self.cfg["distill_temperature"]),
        )
        for i, d in zip(rows, d_rows):
            d_emissions[i] = ops.asarray2f(d)
        return loss, d_emissions

    def _gold_tag_ids(self, example: Example, index: int) -> numpy.ndarray:
        """BIO tag ids aligned to the predicted tokens, MISSING where unknown."""
        _check_alignment(example, index)
        tag_index = {tag: i for i, tag in enumerate(self.tag_names)}
        ids = numpy.full((len(example.predicted),), MISSING, dtype="int64")
        for i, tag in enumerate(example.get_aligned_ner()):
            if tag in (None, "", "-"):
                continue
            if tag == "O":
                ids[i] = 0
                continue
            prefix, label = tag.split("-", 1)
            bio = ("B-" if prefix in ("B", "U") else "I-") + label
            if bio not in tag_index:
                raise ValueError(
                    f"Document {index} of the batch ({describe_doc(example.reference)}) has an "
                    f"entity of type {label!r} that {self.name} was not initialized with "
                    f"(labels: {list(self.labels)})."
                )
            ids[i] = tag_index[bio]
        return ids

    def gold_problems(self, example: Example) -> List[str]:
        problem = _alignment_problem(example)
        return [problem] if problem else []

    def start_initialize(self) -> None:
        # The first training document with each set of teacher tags, and how many
        # documents with teacher tags the pipeline tokenizes otherwise.
        self._teacher_tags: Dict[Tuple[str, ...], str] = {}
        self._n_teacher = 0
        self._n_retokenized = 0

    def observe(self, example: Example, index: int) -> None:
        stored = teacher_tags(example.reference) if self.cfg["distill_weight"] else None
        if stored is None:
            return
        self._n_teacher += 1
        if not _same_tokens(example):
            self._n_retokenized += 1
        where = f"training example {index} ({describe_doc(example.reference)})"
        self._teacher_tags.setdefault(tuple(stored[0]), where)

    def finish_initialize(self, nlp: Optional[Language]) -> None:
        set_context_labels(self.model, self._context_labels(nlp))
        self.model.set_dim("nO", len(self.tag_names))
        if self.cfg["distill_weight"]:
            self._check_teacher_tags()

    def _check_teacher_tags(self) -> None:
        if not self._teacher_tags:
            raise no_targets_error(self.name, "tag marginals", TEACHER_TAGS_KEY)
        for names, where in self._teacher_tags.items():
            columns_for(self.tag_names, list(names), "tags", where)
        if self._n_retokenized:
            warnings.warn(
                f"{self.name}: the pipeline's tokenizer splits {self._n_retokenized} of the "
                f"{self._n_teacher} training documents with teacher tag marginals otherwise "
                "than their gold tokens, which the teacher read; those learn from their gold "
                "tags alone. Train with gold_preproc = true in [corpora.train], or tokenize "
                "the corpus with the pipeline's tokenizer before distill-targets.",
                UserWarning,
                stacklevel=2,
            )

    def _context_labels(self, nlp: Optional[Language]) -> List[str]:
        """The labels of the classifier this recogniser is conditioned on, if any."""
        context = self.model.attrs.get("context")
        if context is None:
            return []
        key = f"[components.{self.name}.model.context]"
        if nlp is None or context not in nlp.pipe_names:
            raise ValueError(f"{key} names {context!r}, which is not a component of the pipeline.")
        if nlp.pipe_names.index(context) > nlp.pipe_names.index(self.name):
            raise ValueError(f"{key}: {context!r} must come before {self.name!r} in the pipeline.")
        annotating = nlp.config["training"].get("annotating_components") or []
        if nlp.config["training"].get("train_corpus") and context not in annotating:
            raise ValueError(
                f"{key} conditions {self.name} on the categories {context!r} predicts, so "
                f"{context!r} must be in [training.annotating_components]: otherwise it "
                "predicts nothing during training and the recogniser learns to ignore it."
            )
        labels = list(getattr(nlp.get_pipe(context), "labels", ()))
        if not labels:
            raise ValueError(f"{key}: {context!r} has no labels; initialize it first.")
        return labels


def _entities(doc: Doc, tags: List[str]) -> List[Span]:
    """The entities BIO tags give, whitespace tokens left out as in spaCy's own NER."""
    if any(tag != "O" for tag in tags):
        for i, is_space in enumerate(doc.to_array(IS_SPACE).tolist()):
            if is_space:
                tags[i] = "O"
    return biluo_tags_to_spans(doc, _bio_to_biluo(tags))


def _bio_to_biluo(tags: List[str]) -> List[str]:
    """spaCy's `iob_to_biluo`, one run of entity tags at a time.

    It pops each tag from the head of its list, quadratic in the list's length;
    fed the runs between "O" tags, it stays linear in the document's.
    """
    biluo: List[str] = []
    for outside, group in groupby(tags, key=lambda tag: tag == "O"):
        run = list(group)
        biluo.extend(run if outside else iob_to_biluo(run))
    return biluo


def _same_tokens(example: Example) -> bool:
    """Whether the predicted document has the gold document's tokens."""
    return [t.text for t in example.x] == [t.text for t in example.y]


def _check_alignment(example: Example, index: int, where: str = "document") -> None:
    """Raise if a gold entity cannot be mapped onto the predicted tokens."""
    problem = _alignment_problem(example)
    if problem:
        raise ValueError(
            f"The {problem} of {where} {index} ({describe_doc(example.y)})."
            " Fix the span offsets, or tokenize the text the way the gold data is tokenized."
        )


def _alignment_problem(example: Example) -> Optional[str]:
    """Which gold entity cannot be mapped onto the predicted tokens, if any."""
    if _same_tokens(example):
        return None
    for ent in example.y.ents:
        if not example.get_aligned_spans_y2x([ent]):
            return (
                f"gold entity {ent.text!r} ({ent.label_}, characters {ent.start_char}-"
                f"{ent.end_char}) does not align with the predicted tokens"
            )
    return None
