"""Entity tags to spans: IOB2 (BIO), BIOES and BILUO, checked and repaired with file and line.

IOB2 is the reference: ``O``, ``B-TYPE``, ``I-TYPE``. BIOES/BILUO files are read as well:
``S-``/``U-`` mark a one-token entity, ``E-``/``L-`` the last token of one. Any other tag
(``X-foo``, ``B``, ``B-``, lower-case prefixes) is an error. A continuation tag (``I-``,
``E-``, ``L-``) that does not continue an open entity of its type (after ``O``, after another
type, after an entity's last token, or at the start of a sentence) is repaired to begin an
entity, with one ``ConversionWarning`` per file that names the lines; this also reads IOB1
files correctly. ``strict=True`` raises a ``ConversionError`` instead.

Our own code only checks the tags and rewrites them as IOB2, since only it knows the file and
line to name; spaCy's ``iob_to_biluo`` and ``tags_to_entities`` turn them into spans.
"""

import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

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


def spans_from_tags(
    tags: Sequence[str],
    path: Path,
    lines: Sequence[int],
    strict: bool,
    repairs: List[Tuple[int, str]],
) -> List[Tuple[int, int, str]]:
    """Decode one sentence's IOB2/BIOES/BILUO tags into (start, end, label) spans.

    tags (Sequence[str]): One tag per token.
    path (Path): The file the tags come from, for errors.
    lines (Sequence[int]): The line of each tag, for errors.
    strict (bool): Raise on a continuation tag that begins an entity.
    repairs (List[Tuple[int, str]]): Receives (line, description) of each
        continuation tag repaired to begin an entity.
    RETURNS (List[Tuple[int, int, str]]): The entity spans, in token offsets.
    """
    return _iob2_spans(_to_iob2(tags, path, lines, strict, repairs))


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


def _to_iob2(
    tags: Sequence[str],
    path: Path,
    lines: Sequence[int],
    strict: bool,
    repairs: List[Tuple[int, str]],
) -> List[str]:
    """Check each tag and rewrite it as IOB2, repairing continuations that begin an entity."""
    iob2 = []
    # The type of the entity the next tag may continue; None after O or an entity's end.
    open_type: Optional[str] = None
    for i, tag in enumerate(tags):
        if tag == "O":
            iob2.append(tag)
            open_type = None
            continue
        prefix, _, entity_type = tag.partition("-")
        if prefix not in _TAG_PREFIXES or not entity_type:
            raise ConversionError(
                f"unknown tag {tag!r} (tag {i + 1} of the sentence). {_TAG_HELP} "
                "Fix the tag or convert the file to IOB2.",
                path=path,
                line=lines[i],
            )
        begins, ends = _TAG_PREFIXES[prefix]
        if not begins and open_type != entity_type:
            problem = f"tag {i + 1} {tag!r} continues an entity but {_after(tags, i, open_type)}"
            if strict:
                raise ConversionError(
                    f"{problem}. An entity begins with B-{entity_type} (IOB2): fix the "
                    "tag, or convert without strict mode to repair such tags that way.",
                    path=path,
                    line=lines[i],
                )
            repairs.append((lines[i], problem))
            begins = True
        iob2.append(f"{'B' if begins else 'I'}-{entity_type}")
        open_type = None if ends else entity_type
    return iob2


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
        f"{path}: {len(repairs)} continuation tag(s) that begin an entity were read as "
        f"B- tags, which is also what they mean in IOB1 ({shown}). Check that the file "
        "is IOB2 or IOB1; convert in strict mode to stop at such tags instead.",
        ConversionWarning,
        stacklevel=3,
    )


def set_entities(doc: Doc, spans: Sequence[Tuple[int, int, str]]) -> None:
    """Set a Doc's entities from token spans; its other tokens become an explicit O."""
    # "outside" makes the untagged tokens an explicit O, not missing.
    entities = [Span(doc, start, end, label=label) for start, end, label in spans]
    doc.set_ents(entities, default="outside")
