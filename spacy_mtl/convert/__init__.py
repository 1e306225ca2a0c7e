"""Convert annotated corpora to spaCy's binary ``.spacy`` (DocBin) format.

The formats (``FORMATS``), the tasks each can annotate (``FORMAT_TASKS``) and the module
that reads it:

- ``joint`` (joint.py): a folder of line-aligned ``seq.in``, ``seq.out`` and ``label``, as in
  ATIS and SNIPS. Categories and entities.
- ``iob`` (iob.py): a CoNLL-style column file, a token and its tag a line. Entities.
- ``jsonl`` (jsonl.py): one object a line, a text and its ``label`` or ``labels``. Categories.
- ``csv`` (delimited.py): a header naming ``text`` and ``label`` or ``labels``. Categories.
- ``columns`` and ``intents`` (columns.py): the character-column slots files and intents
  files of Chinese corpora. Entities, and categories with an intents file.
- ``prodigy`` (prodigy.py): Prodigy's annotations (db-out JSONL), a file or a folder of
  sessions. ``labelstudio`` (labelstudio.py): a Label Studio JSON export. ``rasa``
  (rasa.py): Rasa NLU YAML. Categories and entities, merged by text (sessions.py).

Entity tags are read by tags.py; errors, reading lines, tasks, categories and the atomic
writing of the output are common.py's; the ``convert`` command is spacy_mtl/cli/convert.py's.
This module only lists the formats and dispatches: no format module imports it.
"""

from pathlib import Path
from typing import Iterable, List, Optional

from spacy.tokens import Doc

from .columns import (
    COLUMNS_TASKS,
    FORMAT_COLUMNS,
    FORMAT_INTENTS,
    INTENTS_TASKS,
    convert_columns,
    convert_intents,
    read_columns,
    read_intents,
)
from .common import (
    ConversionError,
    ConversionWarning,
    PathLike,
    check_output_path,
    check_tasks,
    write_docbin,
)
from .delimited import CSV_LABELS_SEPARATOR, CSV_TASKS, FORMAT_CSV, read_csv
from .iob import DOCSTART, FORMAT_IOB, IOB_TASKS, read_iob
from .joint import (
    FORMAT_JOINT,
    JOINT_LABELS_FILE,
    JOINT_TAGS_FILE,
    JOINT_TASKS,
    JOINT_TOKENS_FILE,
    joint_files,
    read_joint,
)
from .jsonl import FORMAT_JSONL, JSONL_TASKS, read_jsonl
from .labelstudio import FORMAT_LABELSTUDIO, LABELSTUDIO_TASKS, read_labelstudio
from .prodigy import FORMAT_PRODIGY, PRODIGY_TASKS, read_prodigy
from .rasa import FORMAT_RASA, RASA_TASKS, read_rasa

FORMAT_TASKS = {
    FORMAT_JOINT: JOINT_TASKS,
    FORMAT_IOB: IOB_TASKS,
    FORMAT_JSONL: JSONL_TASKS,
    FORMAT_CSV: CSV_TASKS,
    FORMAT_COLUMNS: COLUMNS_TASKS,
    FORMAT_INTENTS: INTENTS_TASKS,
    FORMAT_PRODIGY: PRODIGY_TASKS,
    FORMAT_LABELSTUDIO: LABELSTUDIO_TASKS,
    FORMAT_RASA: RASA_TASKS,
}
FORMATS = tuple(FORMAT_TASKS)
# Annotation tools' readers that take the same options (Label Studio's also takes a text key).
_TOOL_READERS = {FORMAT_PRODIGY: read_prodigy, FORMAT_RASA: read_rasa}

__all__ = [
    "CSV_LABELS_SEPARATOR",
    "DOCSTART",
    "FORMATS",
    "FORMAT_COLUMNS",
    "FORMAT_CSV",
    "FORMAT_INTENTS",
    "FORMAT_IOB",
    "FORMAT_JOINT",
    "FORMAT_JSONL",
    "FORMAT_LABELSTUDIO",
    "FORMAT_PRODIGY",
    "FORMAT_RASA",
    "FORMAT_TASKS",
    "JOINT_LABELS_FILE",
    "JOINT_TAGS_FILE",
    "JOINT_TOKENS_FILE",
    "ConversionError",
    "ConversionWarning",
    "PathLike",
    "check_convert_output",
    "convert",
    "convert_columns",
    "convert_csv",
    "convert_intents",
    "convert_iob",
    "convert_joint",
    "convert_jsonl",
    "input_files",
    "read_columns",
    "read_corpus",
    "read_csv",
    "read_intents",
    "read_iob",
    "read_joint",
    "read_jsonl",
    "read_labelstudio",
    "read_prodigy",
    "read_rasa",
    "write_docbin",
]


def read_corpus(
    format: str,
    input_path: PathLike,
    *,
    lang: str = "en",
    tasks: Optional[Iterable[str]] = None,
    strict: bool = False,
    exclusive: Optional[bool] = None,
    intents: Optional[PathLike] = None,
    text_key: Optional[str] = None,
) -> List[Doc]:
    """Read a corpus in any of FORMATS into Docs.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    lang (str): Language code.
    tasks (Optional[Iterable[str]]): The tasks to keep; None keeps all the
        format annotates. A task left out stays missing on every document.
    strict (bool): Raise on what is otherwise repaired or warned about: for
        "joint", "iob" and "columns" a continuation tag that begins an entity
        or an entity without its end tag in a file with end tags (tags.py),
        for "jsonl" and "csv" documents without exactly one category in
        exclusive mode, for "prodigy", "labelstudio" and "rasa" conflicting
        answers and misaligned entities (and roles for "rasa").
    exclusive (Optional[bool]): For "jsonl", "csv" and the tools' formats:
        whether the categories are mutually exclusive; None infers it from the file.
    intents (Optional[Union[str, Path]]): For "columns": the intents file of
        the slots file `input_path`.
    text_key (Optional[str]): For "labelstudio": the data key of the text; None
        finds it from the results.
    RETURNS (List[Doc]): The documents.
    """
    if format not in FORMATS:
        raise ConversionError(f"unknown format {format!r}. Use one of {', '.join(FORMATS)}.")
    if text_key is not None and format != FORMAT_LABELSTUDIO:
        raise ConversionError(
            f"--text-key names a Label Studio data key; the {format} format has none."
        )
    offered = FORMAT_TASKS[format]
    keep = check_tasks(format, offered if tasks is None else tasks, offered)
    if format == FORMAT_JOINT:
        return read_joint(input_path, lang=lang, tasks=keep, strict=strict)
    if format == FORMAT_IOB:
        return read_iob(input_path, lang=lang, strict=strict)
    if format == FORMAT_INTENTS:
        return read_intents(input_path, lang=lang)
    if format == FORMAT_COLUMNS:
        return read_columns(input_path, intents_path=intents, lang=lang, tasks=tasks, strict=strict)
    if format == FORMAT_LABELSTUDIO:
        return read_labelstudio(
            input_path,
            lang=lang,
            tasks=keep,
            strict=strict,
            exclusive=exclusive,
            text_key=text_key,
        )
    if format in _TOOL_READERS:
        return _TOOL_READERS[format](
            input_path, lang=lang, tasks=keep, strict=strict, exclusive=exclusive
        )
    if format == FORMAT_JSONL:
        return read_jsonl(input_path, lang=lang, strict=strict, exclusive=exclusive)
    return read_csv(input_path, lang=lang, strict=strict, exclusive=exclusive)


def input_files(
    format: str, input_path: PathLike, intents: Optional[PathLike] = None
) -> List[Path]:
    """The files a conversion reads, which its output must never be.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    intents (Optional[Union[str, Path]]): For "columns": its intents file.
    RETURNS (List[Path]): The input files.
    """
    input_path = Path(input_path)
    if intents is not None:
        return [input_path, Path(intents)]
    if format == FORMAT_JOINT:
        return joint_files(input_path)
    if input_path.is_dir():
        # A folder format of another module: protect its files, but not earlier outputs.
        return [path for path in input_path.iterdir() if path.suffix != ".spacy"]
    return [input_path]


def check_convert_output(
    format: str, input_path: PathLike, output_path: PathLike, intents: Optional[PathLike] = None
) -> None:
    """Raise a ConversionError if writing `output_path` would destroy something.

    The output must be absent or a regular file (not a folder, a link, a
    device or a FIFO) and must not be, even through a link, one of the files
    the conversion reads. Called before reading, so that nothing is read in
    vain.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    output_path (Union[str, Path]): The .spacy file to write.
    intents (Optional[Union[str, Path]]): For "columns": its intents file.
    """
    check_output_path(Path(output_path), input_files(format, input_path, intents))


def convert(
    format: str,
    input_path: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    tasks: Optional[Iterable[str]] = None,
    strict: bool = False,
    exclusive: Optional[bool] = None,
    text_key: Optional[str] = None,
) -> int:
    """Convert a corpus in any of FORMATS to a .spacy file.

    format (str): One of FORMATS.
    input_path (Union[str, Path]): The input file, or folder for "joint".
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code.
    tasks (Optional[Iterable[str]]): The tasks to keep; None keeps all the
        format annotates.
    strict (bool): Raise on what is otherwise repaired or warned about (see
        read_corpus).
    exclusive (Optional[bool]): For "jsonl", "csv" and the tools' formats: whether
        the categories are mutually exclusive; None infers it from the file.
    text_key (Optional[str]): For "labelstudio": the data key of the text.
    RETURNS (int): The number of documents written.
    """
    check_convert_output(format, input_path, output_path)
    docs = read_corpus(
        format,
        input_path,
        lang=lang,
        tasks=tasks,
        strict=strict,
        exclusive=exclusive,
        text_key=text_key,
    )
    return write_docbin(docs, output_path, inputs=input_files(format, input_path))


def convert_joint(
    input_dir: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    tasks: Iterable[str] = JOINT_TASKS,
    strict: bool = False,
) -> int:
    """Convert a joint folder (seq.in, seq.out, label) to a .spacy file.

    input_dir (Union[str, Path]): The folder holding the three files.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code.
    tasks (Iterable[str]): The tasks to keep; a task left out stays missing.
    strict (bool): Raise on a tag that is otherwise repaired (tags.py).
    RETURNS (int): The number of documents written.
    """
    return convert(FORMAT_JOINT, input_dir, output_path, lang=lang, tasks=tasks, strict=strict)


def convert_iob(
    input_path: PathLike, output_path: PathLike, *, lang: str = "en", strict: bool = False
) -> int:
    """Convert a CoNLL-style IOB column file to a .spacy file (entities only).

    input_path (Union[str, Path]): The column file.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code.
    strict (bool): Raise on a tag that is otherwise repaired (tags.py).
    RETURNS (int): The number of documents written.
    """
    return convert(FORMAT_IOB, input_path, output_path, lang=lang, strict=strict)


def convert_jsonl(
    input_path: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> int:
    """Convert a JSONL file of texts and labels to a .spacy file (categories only).

    input_path (Union[str, Path]): The JSONL file.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code of the tokenizer.
    strict (bool): Raise on documents without exactly one category in exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive;
        None infers it from the file.
    RETURNS (int): The number of documents written.
    """
    return convert(
        FORMAT_JSONL, input_path, output_path, lang=lang, strict=strict, exclusive=exclusive
    )


def convert_csv(
    input_path: PathLike,
    output_path: PathLike,
    *,
    lang: str = "en",
    strict: bool = False,
    exclusive: Optional[bool] = None,
) -> int:
    """Convert a CSV file of texts and labels to a .spacy file (categories only).

    input_path (Union[str, Path]): The CSV file.
    output_path (Union[str, Path]): The .spacy file to write.
    lang (str): Language code of the tokenizer.
    strict (bool): Raise on documents without exactly one category in exclusive mode.
    exclusive (Optional[bool]): Whether the categories are mutually exclusive;
        None infers it from the file.
    RETURNS (int): The number of documents written.
    """
    return convert(
        FORMAT_CSV, input_path, output_path, lang=lang, strict=strict, exclusive=exclusive
    )
