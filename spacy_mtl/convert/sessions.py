"""Judgements from annotation tools, merged into one Doc per text.

Prodigy sessions, Label Studio annotations and Rasa examples say, record by record, what a
text's categories and entities are. Several records may judge one text (an intents session
and a slots session over the same texts, two annotators): they merge into one document that
carries every task some record annotated, and a task no record annotated stays missing. Two
records that disagree (one accepts an intent, another a different one; different entity
spans) are a conflict: the task is left missing on that document and the records are
named in a warning (an error when strict). A task left out of ``tasks`` is dropped from
every judgement, so it stays missing on every document; a judgement left with nothing to say
makes no document.

Entities come as character offsets and are aligned to the tokens with spaCy's
``Doc.char_span(alignment_mode="strict")``. A span whose edges fall inside a token is named
in a warning and its tokens are left *missing* (never "O", which would teach that the
entity is not there); strict mode stops instead.
"""

import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..annotation import TASK_CATS, TASK_ENTS, TASKS
from ..texts import lone_surrogate
from .common import ConversionError, ConversionWarning, make_tokenizer, make_vocab

# How many texts a warning names before it only counts them.
MAX_SHOWN = 5

CharSpan = Tuple[int, int, str]


@dataclass
class Judgement:
    """What one record says about one text.

    where (str): The record, for messages: "line 3", "task 17".
    line (Optional[int]): Its 1-based line, if it has one.
    cats (Optional[Dict[str, float]]): The labels judged, 1.0 or 0.0; None: no categories.
    group (Optional[str]): A set of labels the annotator chose from: every label of the
        group seen in the corpus and not chosen is 0.0 (multi-label mode).
    spans (Optional[List[CharSpan]]): Entities as (start, end, label) in characters;
        None: no entity annotation.
    complete (bool): Whether the spans are every entity of the text (the other tokens
        "O"), rather than some of them (the others missing).
    words (Optional[Tuple[List[str], List[bool]]]): The record's own tokens and spaces.
    """

    where: str
    line: Optional[int] = None
    cats: Optional[Dict[str, float]] = None
    group: Optional[str] = None
    spans: Optional[List[CharSpan]] = None
    complete: bool = True
    words: Optional[Tuple[List[str], List[bool]]] = None


@dataclass
class _Text:
    text: str
    judgements: List[Judgement] = field(default_factory=list)


class TextDocs:
    """Judgements collected by text, made into Docs.

    path (Path): The input, for messages.
    lang (str): The language of the tokenizer for texts without tokens.
    exclusive (bool): Whether a document has exactly one category (one intent).
    strict (bool): Raise on what is otherwise warned about.
    tasks (Sequence[str]): The tasks to keep (TASK_CATS, TASK_ENTS); the others are
        dropped from every judgement.
    """

    def __init__(
        self, path, lang: str, exclusive: bool, strict: bool, tasks: Sequence[str] = TASKS
    ):
        self.path = path
        self.lang = lang
        self.exclusive = exclusive
        self.strict = strict
        self.tasks = tuple(tasks)
        self.texts: Dict[str, _Text] = {}
        self.groups: Dict[str, set] = {}
        self.conflicts: List[str] = []
        self.misaligned: List[str] = []
        self._vocab: Optional[Vocab] = None
        self._tokenizer: Optional[Callable[[str], Doc]] = None

    def add(self, text: str, judgement: Judgement) -> None:
        """Add a record's judgement of a text, checking its spans against the text.

        Only the tasks kept are added; a judgement of none of them is not.
        """
        if not self.keep(judgement):
            return
        check_text(text, self.path, judgement)
        for start, end, label in judgement.spans or []:
            check_span(text, start, end, label, self.path, judgement)
        if judgement.cats and judgement.group is not None:
            self.groups.setdefault(judgement.group, set()).update(judgement.cats)
        self.texts.setdefault(text, _Text(text)).judgements.append(judgement)

    def keep(self, judgement: Judgement) -> bool:
        """Drop the tasks not kept from a judgement; whether it still judges anything."""
        if TASK_CATS not in self.tasks:
            judgement.cats = None
        if TASK_ENTS not in self.tasks:
            judgement.spans = None
        return judgement.cats is not None or judgement.spans is not None

    def labels(self) -> List[str]:
        """Every category label judged anywhere in the corpus."""
        found = set().union(*self.groups.values()) if self.groups else set()
        for entry in self.texts.values():
            for judgement in entry.judgements:
                found.update(judgement.cats or {})
        return sorted(found)

    def docs(self) -> List[Doc]:
        """One Doc per text, in the order of their first record; conflicts reported."""
        if not self.texts:
            raise ConversionError("no annotated documents.", path=self.path)
        labels = self.labels()
        docs = [self._doc(entry, labels) for entry in self.texts.values()]
        self._report(self.conflicts, "conflicting answers, so that task is left missing there")
        self._report(self.misaligned, "entities whose edges fall inside a token, left missing")
        return docs

    def _doc(self, entry: _Text, labels: List[str]) -> Doc:
        doc = self._make_doc(entry)
        cats = self._cats(entry, labels)
        if cats:
            doc.cats = cats
        self._set_ents(doc, entry)
        return doc

    def _make_doc(self, entry: _Text) -> Doc:
        given = next((j for j in entry.judgements if j.words is not None), None)
        if given is not None:
            if self._vocab is None:
                self._vocab = make_vocab(self.lang)
            words, spaces = given.words
            return Doc(self._vocab, words=words, spaces=spaces)
        if self._tokenizer is None:
            first = entry.judgements[0]
            self._tokenizer = make_tokenizer(self.lang, self.path, first.line)
        return self._tokenizer(entry.text)

    def _cats(self, entry: _Text, labels: List[str]) -> Dict[str, float]:
        judged = [j for j in entry.judgements if j.cats is not None]
        if not judged:
            return {}
        merged: Dict[str, float] = {}
        for judgement in judged:
            for label, value in self._filled(judgement).items():
                if merged.setdefault(label, value) != value:
                    return self._conflict(entry, judged, f"{label!r} accepted and rejected")
        if not self.exclusive:
            return merged
        positive = [label for label, value in merged.items() if value == 1.0]
        if len(positive) > 1:
            return self._conflict(entry, judged, f"intents {', '.join(map(repr, positive))}")
        if not positive:
            return {}
        return {label: 1.0 if label == positive[0] else 0.0 for label in labels}

    def _filled(self, judgement: Judgement) -> Dict[str, float]:
        if self.exclusive or judgement.group is None:
            return dict(judgement.cats)
        return {**{label: 0.0 for label in self.groups[judgement.group]}, **judgement.cats}

    def _conflict(self, entry: _Text, judged: Sequence[Judgement], what: str) -> dict:
        wheres = ", ".join(j.where for j in judged)
        self.conflicts.append(f"{_preview(entry.text)} ({wheres}: {what})")
        return {}

    def _set_ents(self, doc: Doc, entry: _Text) -> None:
        judged = [j for j in entry.judgements if j.spans is not None]
        if not judged:
            return
        complete = [j for j in judged if j.complete]
        spans = {tuple(s) for j in complete[:1] for s in j.spans}
        if any({tuple(s) for s in j.spans} != spans for j in complete[1:]):
            self._conflict(entry, complete, "different entities")
            return
        partial = {tuple(s) for j in judged if not j.complete for s in j.spans}
        if complete and not partial <= spans:
            self._conflict(entry, judged, "an accepted entity the full annotation lacks")
            return
        self._apply_spans(doc, sorted(spans | partial), judged, bool(complete))

    def _apply_spans(self, doc, spans, judged, complete: bool) -> None:
        entities, unsure = [], set()
        for start, end, label in spans:
            span = doc.char_span(start, end, label=label, alignment_mode="strict")
            if span is not None:
                entities.append(span)
                continue
            expanded = doc.char_span(start, end, alignment_mode="expand")
            where = ", ".join(j.where for j in judged)
            self.misaligned.append(f"{doc.text[start:end]!r} as {label} ({where})")
            unsure.update(range(expanded.start, expanded.end))
        _check_overlaps(entities, judged, self.path)
        # A misaligned entity's tokens are missing, except those of an aligned entity.
        unsure.difference_update(i for span in entities for i in range(span.start, span.end))
        missing = [doc[i : i + 1] for i in sorted(unsure)]
        doc.set_ents(
            entities, missing=missing or None, default="outside" if complete else "missing"
        )

    def _report(self, items: List[str], what: str) -> None:
        if not items:
            return
        shown = "; ".join(items[:MAX_SHOWN])
        more = len(items) - MAX_SHOWN
        message = f"{len(items)} text(s) with {what}: {shown}" + (
            f"; and {more} more" if more > 0 else ""
        )
        if self.strict:
            raise ConversionError(f"{message}. Fix them and convert again.", path=self.path)
        warnings.warn(
            f"{self.path}: {message}; convert in strict mode to stop here instead.",
            ConversionWarning,
            stacklevel=4,
        )


def check_text(text, path, judgement: Judgement) -> None:
    """Raise unless a record's text is a non-empty string of characters."""
    if not isinstance(text, str) or not text.strip():
        raise ConversionError(
            f"{judgement.where}: the text must be a non-empty string, not {text!r}. "
            "Fix the record, or delete it.",
            path=path,
            line=judgement.line,
        )
    surrogate = lone_surrogate(text)
    if surrogate is not None:
        raise ConversionError(
            f"{judgement.where}: the text holds a lone surrogate {surrogate[1]} at character "
            f"{surrogate[0]}, which is not a character. Fix the escape.",
            path=path,
            line=judgement.line,
        )


def check_span(text: str, start, end, label, path, judgement: Judgement) -> None:
    """Raise unless a span lies inside the text and has a label."""
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end))
    if not ints or not 0 <= start < end <= len(text):
        raise ConversionError(
            f"{judgement.where}: the entity offsets {start!r}..{end!r} are not inside the "
            f"text of {len(text)} characters ({_preview(text)}): a span needs 0 <= start < end "
            f"<= {len(text)}. Fix the offsets, or the text they were made on.",
            path=path,
            line=judgement.line,
        )
    if not isinstance(label, str) or not label.strip():
        raise ConversionError(
            f"{judgement.where}: the entity {text[start:end]!r} has no label ({label!r}).",
            path=path,
            line=judgement.line,
        )


def _check_overlaps(entities: List[Span], judged: Sequence[Judgement], path) -> None:
    ordered = sorted(entities, key=lambda span: (span.start, span.end))
    for before, after in zip(ordered, ordered[1:]):
        if after.start < before.end:
            raise ConversionError(
                f"{', '.join(j.where for j in judged)}: the entities {before.text!r} "
                f"({before.label_}) and {after.text!r} ({after.label_}) overlap; a token has "
                "one entity label. Keep one of them.",
                path=path,
                line=judged[0].line,
            )


def words_of(text: str, words: List[str], spaces: List[bool], where: str, path, line):
    """Given tokens and spaces, checked to spell the text exactly."""
    spelled = "".join(w + (" " if s else "") for w, s in zip(words, spaces))
    if spelled != text:
        from spacy.util import get_words_and_spaces

        try:
            return get_words_and_spaces(words, text)
        except ValueError:
            raise ConversionError(
                f"{where}: the tokens do not spell the text {_preview(text)}. Fix the "
                "tokens, or leave them out to tokenize the text.",
                path=path,
                line=line,
            ) from None
    return list(words), list(spaces)


def report_counts(path, counts: Dict[str, int]) -> None:
    """Warn once about records that were read but not used, by why."""
    parts = [f"{count} {why}" for why, count in counts.items() if count]
    if parts:
        warnings.warn(f"{path}: not used: {'; '.join(parts)}.", ConversionWarning, stacklevel=3)


def _preview(text: str, length: int = 40) -> str:
    return repr(text if len(text) <= length else text[:length] + "...")
