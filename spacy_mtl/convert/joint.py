"""The joint intent and slot format of the ATIS and SNIPS benchmarks: a folder of three files.

``seq.in`` holds the tokens (separated by spaces), ``seq.out`` one IOB tag per token and
``label`` one intent per line, all line-aligned. Categories and entities; either can be
dropped with ``tasks``. The given tokens are kept exactly. A label such as ATIS's
``atis_flight#atis_airfare`` is one class.
"""

from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from spacy.tokens import Doc

from ..annotation import TASK_CATS, TASK_ENTS
from .common import (
    ConversionError,
    PathLike,
    check_tasks,
    doc_from_words,
    make_vocab,
    mark_tasks_missing,
    read_lines,
    set_cats,
    split_blanks,
)
from .tags import first_end_tag_line, set_entities, spans_from_tags, warn_repairs

FORMAT_JOINT = "joint"
JOINT_TASKS = (TASK_CATS, TASK_ENTS)
JOINT_TOKENS_FILE = "seq.in"
JOINT_TAGS_FILE = "seq.out"
JOINT_LABELS_FILE = "label"
JOINT_FILES = (JOINT_TOKENS_FILE, JOINT_TAGS_FILE, JOINT_LABELS_FILE)


def read_joint(
    input_dir: PathLike,
    *,
    lang: str = "en",
    tasks: Iterable[str] = JOINT_TASKS,
    strict: bool = False,
) -> List[Doc]:
    """Read a joint intent and slot folder (seq.in, seq.out, label) into Docs.

    Only the files the tasks need are read: seq.in always, seq.out for
    entities, label for categories. Blank lines at the very end of a file are
    ignored; any other empty line is an error, since it would shift the
    alignment of the three files.

    input_dir (Union[str, Path]): The folder holding the three files.
    lang (str): Language code, for the vocabulary.
    tasks (Iterable[str]): The tasks to keep, from "cats" and "ents". A task
        left out stays missing on every document.
    strict (bool): Raise on a tag that is otherwise repaired with a warning
        (tags.py): a continuation tag that begins an entity, an entity without
        its end tag in a file with BIOES/BILUO end tags.
    RETURNS (List[Doc]): One document per line, with the given tokens.
    """
    keep = check_tasks(FORMAT_JOINT, tasks, JOINT_TASKS)
    input_dir = Path(input_dir)
    token_lines, tag_lines, label_lines = _read_joint_files(input_dir, keep)
    vocab = make_vocab(lang)
    docs = [doc_from_words(vocab, split_blanks(text)) for text in token_lines]
    if tag_lines is not None:
        repairs = _set_joint_entities(docs, tag_lines, input_dir, strict)
        warn_repairs(input_dir / JOINT_TAGS_FILE, repairs)
    if label_lines is not None:
        # The whole line is one class: a multi-intent "a#b" is not split.
        doc_labels = [{text.strip()} for text in label_lines]
        set_cats(docs, doc_labels, input_dir / JOINT_LABELS_FILE)
    mark_tasks_missing(docs, keep)
    return docs


def joint_files(input_dir: PathLike) -> List[Path]:
    """The three files of a joint folder, which a conversion's output must never be."""
    return [Path(input_dir) / name for name in JOINT_FILES]


def _read_joint_files(
    input_dir: Path, keep: Tuple[str, ...]
) -> Tuple[List[str], Optional[List[str]], Optional[List[str]]]:
    """The lines of seq.in, and of seq.out and label where the tasks need them, aligned."""
    if not input_dir.is_dir():
        raise ConversionError(
            f"not a folder. The joint format reads a folder holding "
            f"{JOINT_TOKENS_FILE}, {JOINT_TAGS_FILE} and {JOINT_LABELS_FILE}.",
            path=input_dir,
        )
    tokens_path = input_dir / JOINT_TOKENS_FILE
    tags_path = input_dir / JOINT_TAGS_FILE
    labels_path = input_dir / JOINT_LABELS_FILE
    token_lines = _read_aligned_lines(tokens_path)
    tag_lines = _read_aligned_lines(tags_path) if TASK_ENTS in keep else None
    label_lines = _read_aligned_lines(labels_path) if TASK_CATS in keep else None
    for path, lines in ((tags_path, tag_lines), (labels_path, label_lines)):
        if lines is not None and len(lines) != len(token_lines):
            _raise_line_count_mismatch(tokens_path, len(token_lines), path, len(lines))
    if not token_lines:
        raise ConversionError("no documents: the file is empty.", path=tokens_path)
    return token_lines, tag_lines, label_lines


def _set_joint_entities(
    docs: List[Doc], tag_lines: List[str], input_dir: Path, strict: bool
) -> List[Tuple[int, str]]:
    """Set each Doc's entities from its line of seq.out; return the repaired tags."""
    tokens_path = input_dir / JOINT_TOKENS_FILE
    tags_path = input_dir / JOINT_TAGS_FILE
    repairs: List[Tuple[int, str]] = []
    sentences = [split_blanks(text) for text in tag_lines]
    end_tags_line = first_end_tag_line(
        (tags, [line] * len(tags)) for line, tags in enumerate(sentences, start=1)
    )
    for line, (doc, tags) in enumerate(zip(docs, sentences), start=1):
        if len(tags) != len(doc):
            raise ConversionError(
                f"{len(tags)} tags for the {len(doc)} tokens on line {line} of "
                f"{tokens_path}. Give exactly one tag per token, separated by spaces.",
                path=tags_path,
                line=line,
            )
        lines = [line] * len(tags)
        spans = spans_from_tags(
            tags, tags_path, lines, strict, repairs, end_tags_line=end_tags_line
        )
        set_entities(doc, spans)
    return repairs


def _read_aligned_lines(path: Path) -> List[str]:
    """Read a joint-format file, whose lines must all be non-empty."""
    lines = [text for _, text in read_lines(path)]
    # A trailing newline too many is harmless: it shifts no line.
    while lines and not lines[-1].strip():
        lines.pop()
    for i, text in enumerate(lines):
        if not text.strip():
            raise ConversionError(
                "the line is empty, which breaks the line-by-line alignment of "
                f"{JOINT_TOKENS_FILE}, {JOINT_TAGS_FILE} and {JOINT_LABELS_FILE}. Fill it "
                "in, or delete the line in all three files.",
                path=path,
                line=i + 1,
            )
    return lines


def _raise_line_count_mismatch(path_a: Path, count_a: int, path_b: Path, count_b: int) -> None:
    longer = path_a if count_a > count_b else path_b
    raise ConversionError(
        f"{path_a} has {count_a} lines but {path_b} has {count_b}; line "
        f"{min(count_a, count_b) + 1} of {longer} has no counterpart. The files must "
        "be line-aligned, one sentence per line: find the missing or extra line.",
        path=longer,
        line=min(count_a, count_b) + 1,
    )
