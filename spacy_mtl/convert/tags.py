"""Entity tags to spans: IOB2 (BIO), BIOES and BILUO, checked and repaired with file and line.

IOB2 is the reference: ``O``, ``B-TYPE``, ``I-TYPE``. BIOES/BILUO files are read as well:
``S-``/``U-`` mark a one-token entity, ``E-``/``L-`` the last token of one. Any other tag
(``X-foo``, ``B``, ``B-``, lower-case prefixes) is an error. A continuation tag (``I-``,
``E-``, ``L-``) that does not continue an open entity of its type (after ``O``, after another
type, after an entity's last token, or at the start of a sentence) is repaired to begin an
entity, with one ``ConversionWarning`` per file that names the lines; this also reads IOB1
files correctly. In a file that marks where entities end (any ``E-``, ``L-``, ``S-`` or ``U-``
tag), an entity must end with ``E-``/``L-`` or be ``S-``/``U-``: ``B-city B-city E-city`` is
read as IOB2 reads it (``B-city`` alone, then ``B-city E-city``), with the same warning.
``strict=True`` raises a ``ConversionError`` instead.

Our own code only checks the tags and rewrites them as IOB2, since only it knows the file and
line to name; spaCy's ``iob_to_biluo`` and ``tags_to_entities`` turn them into spans.
"""

import warnings
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.training import iob_to_biluo, tags_to_entities

from .common import MAX_LINES_SHOWN, ConversionError, ConversionWarning

# Tag prefix -> (begins an entity, ends it). B/I are IOB2; S/E come from BIOES
# and U/L from BILUO, which say where an entity ends as well.
_TAG_PREFIXES = {
    "B": (True, False),
    "I": (False, False),
    "E": (False, True),
    "L": (False, True),
    "S": (True, True),
    "U": (True, True),
}
_CHUNK_TAGS = 512
_TAG_HELP = "Use O, B-TYPE or I-TYPE (IOB2); S-, E-, U- and L- (BIOES, BILUO) are read too."


def first_end_tag_line(sentences: Iterable[Tuple[Sequence[str], Sequence[int]]]) -> Optional[int]:
    """The line of a file's first end tag (E-, L-, S-, U-): the file marks where entities end.

    sentences (Iterable[Tuple[Sequence[str], Sequence[int]]]): Each sentence's tags and the
        line of each tag.
    RETURNS (Optional[int]): The line, or None for a file of IOB tags.
    """
    for tags, lines in sentences:
        for tag, line in zip(tags, lines):
            prefix, _, entity_type = tag.partition("-")
            if entity_type and _TAG_PREFIXES.get(prefix, (False, False))[1]:
                return line
    return None


def spans_from_tags(
    tags: Sequence[str],
    path: Path,
    lines: Sequence[int],
    strict: bool,
    repairs: List[Tuple[int, str]],
    *,
    end_tags_line: Optional[int] = None,
) -> List[Tuple[int, int, str]]:
    """Decode one sentence's IOB2/BIOES/BILUO tags into (start, end, label) spans.

    tags (Sequence[str]): One tag per token.
    path (Path): The file the tags come from, for errors.
    lines (Sequence[int]): The line of each tag, for errors.
    strict (bool): Raise on a tag that is repaired otherwise.
    repairs (List[Tuple[int, str]]): Receives (line, description) of each
        repaired tag: a continuation that begins an entity, and, in a file that
        marks entity ends, an entity without its end tag.
    end_tags_line (Optional[int]): The line of the file's first end tag
        (first_end_tag_line), if the file marks where entities end (BIOES, BILUO).
    RETURNS (List[Tuple[int, int, str]]): The entity spans, in token offsets.
    """
    reader = _TagReader(tags, path, lines, strict, repairs, end_tags_line)
    return _iob2_spans(reader.to_iob2())


def _iob2_spans(iob2: List[str]) -> List[Tuple[int, int, str]]:
    """Checked IOB2 tags to spans through spaCy's helpers, a chunk at a time.

    iob_to_biluo pops from the front of a list, so its time grows with the square of
    the length (1.5 s for one 100,000-token sentence, a file without blank lines). A
    chunk ends before an O or B- tag, so no entity crosses one. spaCy's end is inclusive.
    """
    spans = []
    start = 0
    while start < len(iob2):
        end = min(start + _CHUNK_TAGS, len(iob2))
        while end < len(iob2) and iob2[end].startswith("I-"):
            end += 1
        chunk = tags_to_entities(iob_to_biluo(iob2[start:end]))
        spans.extend((start + first, start + last + 1, label) for label, first, last in chunk)
        start = end
    return spans


class _TagReader:
    """Checks one sentence's tags and rewrites them as IOB2, repairing what breaks the scheme."""

    def __init__(self, tags, path, lines, strict, repairs, end_tags_line) -> None:
        self.tags, self.path, self.lines = tags, path, lines
        self.strict, self.repairs, self.end_tags_line = strict, repairs, end_tags_line
        # The type of the entity the next tag may continue (None after O or an entity's
        # end), and the index of the tag that began it.
        self.open_type: Optional[str] = None
        self.opened = 0

    def to_iob2(self) -> List[str]:
        iob2 = []
        for i, tag in enumerate(self.tags):
            entity_type, begins, ends = self._parse(i, tag)
            continues = not begins and self.open_type is not None and entity_type == self.open_type
            if self.open_type is not None and not continues:
                self._check_ended(i)
            if entity_type is not None and not begins and not continues:
                self._repair_continuation(i, entity_type)
            iob2.append(
                "O" if entity_type is None else f"{'I' if continues else 'B'}-{entity_type}"
            )
            if entity_type is None or ends:
                self.open_type = None
            elif not continues:
                self.open_type, self.opened = entity_type, i
        if self.open_type is not None:
            self._check_ended(len(self.tags))
        return iob2

    def _parse(self, i: int, tag: str) -> Tuple[Optional[str], bool, bool]:
        """(entity type or None for O, begins an entity, ends it) of a tag."""
        if tag == "O":
            return None, False, True
        prefix, _, entity_type = tag.partition("-")
        if prefix not in _TAG_PREFIXES or not entity_type:
            raise ConversionError(
                f"unknown tag {tag!r} (tag {i + 1} of the sentence). {_TAG_HELP} "
                "Fix the tag or convert the file to IOB2.",
                path=self.path,
                line=self.lines[i],
            )
        begins, ends = _TAG_PREFIXES[prefix]
        return entity_type, begins, ends

    def _repair_continuation(self, i: int, entity_type: str) -> None:
        """A continuation tag that cannot continue begins an entity, as in IOB1."""
        after = _after(self.tags, i, self.open_type)
        problem = f"tag {i + 1} {self.tags[i]!r} continues an entity but {after}"
        fix = (
            f"An entity begins with B-{entity_type} (IOB2): fix the tag, or convert without "
            "strict mode to repair such tags that way."
        )
        self._repair(i, problem, fix)

    def _check_ended(self, i: int) -> None:
        """In a file that marks entity ends, the open entity must have ended before tag i."""
        if self.end_tags_line is None:
            return
        o = self.opened
        problem = (
            f"tag {o + 1} {self.tags[o]!r} begins an entity that no E- or L- tag ends, though "
            f"the file uses BIOES/BILUO end tags, the first on line {self.end_tags_line}; "
            f"read as tags {o + 1} to {i}, as IOB2 reads it"
        )
        fix = (
            "Fix the tags (S-TYPE for a one-token entity, E-TYPE or L-TYPE for the last "
            "token of a longer one), or convert without strict mode to read them as IOB2."
        )
        self._repair(o, problem, fix)

    def _repair(self, i: int, problem: str, fix: str) -> None:
        if self.strict:
            raise ConversionError(f"{problem}. {fix}", path=self.path, line=self.lines[i])
        self.repairs.append((self.lines[i], problem))


def _after(tags: Sequence[str], i: int, open_type: Optional[str]) -> str:
    """What a continuation tag that cannot continue comes after, for its message."""
    if i == 0:
        return "starts the sentence"
    if open_type is None and tags[i - 1] != "O":
        return f"follows {tags[i - 1]!r}, the last token of an entity"
    return f"follows {tags[i - 1]!r}"


def warn_repairs(path: Path, repairs: Sequence[Tuple[int, str]]) -> None:
    """One warning for all the repaired tags of a file, naming the first lines.

    The warning is attributed to the caller of the format's reader.
    """
    if not repairs:
        return
    shown = "; ".join(f"line {line}: {problem}" for line, problem in repairs[:MAX_LINES_SHOWN])
    more = len(repairs) - MAX_LINES_SHOWN
    if more > 0:
        shown += f"; and {more} more"
    warnings.warn(
        f"{path}: {len(repairs)} tag(s) break the tag scheme and were repaired ({shown}). "
        "A continuation tag that begins an entity is read as a B- tag, which is also what "
        "it means in IOB1; in a file with BIOES/BILUO end tags, an entity without its end "
        "tag ends where the next tag does not continue it, as in IOB2. Check the tags; "
        "convert in strict mode to stop at such tags instead.",
        ConversionWarning,
        stacklevel=3,
    )


def set_entities(doc: Doc, spans: Sequence[Tuple[int, int, str]]) -> None:
    """Set a Doc's entities from token spans; its other tokens become an explicit O."""
    # "outside" makes the untagged tokens an explicit O, not missing.
    entities = [Span(doc, start, end, label=label) for start, end, label in spans]
    doc.set_ents(entities, default="outside")
