"""The lines of a JSONL or text input, as bytes, with the byte offset where each begins.

Lines end at "\\n", "\\r\\n" or a lone "\\r" (old Mac files), as in the converters
(spacy_mtl.convert.common.read_lines); a UTF-8 byte-order mark at the start of
the file is not part of the first line. The file is read in blocks, so a line
longer than `cap` bytes is skipped without being held in memory: it is yielded
as None with its length, and the row it was becomes an error record.
"""

import codecs
import re
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Tuple

from .errors import AnnotateError

BLOCK = 1 << 20
_END = re.compile(rb"\r\n|\r|\n")
# Byte-order marks of encodings other than UTF-8, longest first (UTF-32 LE starts like UTF-16 LE).
_FOREIGN_BOMS = [
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
]

Line = Tuple[int, Optional[bytes], int]


def check_utf8_file(path: Path, kind: str) -> None:
    """Refuse a file that starts with the byte-order mark of UTF-16 or UTF-32.

    Every row of such a file would be an error record; one message is clearer.

    path (Path): The file.
    kind (str): How to name it ("JSON Lines file", "CSV file", ...).
    """
    with open_input(path, kind) as handle:
        head = handle.read(4)
    for bom, encoding in _FOREIGN_BOMS:
        if head.startswith(bom):
            raise AnnotateError(
                f"The {kind} {str(path)!r} is {encoding} (it starts with a {encoding} byte-order "
                f"mark): annotate reads UTF-8. Please re-save it as UTF-8, e.g. with "
                f"`iconv -f {encoding} -t UTF-8`."
            )


def open_input(path: Path, kind: str) -> BinaryIO:
    """Open an input file for reading bytes; a file that cannot be read is an AnnotateError."""
    try:
        return open(path, "rb")
    except OSError as err:
        raise AnnotateError(
            f"The {kind} {str(path)!r} cannot be read ({err.strerror}): check its permissions."
        ) from None


def iter_lines(handle: BinaryIO, offset: int, cap: int) -> Iterator[Line]:
    """Yield the lines from byte `offset` on: (offset, bytes without the ending, length).

    handle (BinaryIO): The file, open for reading bytes.
    offset (int): Where a line begins (0: the start of the file).
    cap (int): The longest line returned, in bytes; a longer one is yielded as None.
    YIELDS (Tuple[int, Optional[bytes], int]): The line's offset, its bytes (None
        if longer than `cap`) and its length in bytes, without the ending.
    """
    handle.seek(offset)
    buf = handle.read(BLOCK)
    pos = len(codecs.BOM_UTF8) if offset == 0 and buf.startswith(codecs.BOM_UTF8) else 0
    start, skipped = offset + pos, 0  # skipped: bytes of an overlong line already dropped
    while True:
        match = _END.search(buf, pos)
        if match is None or (match.group() == b"\r" and match.end() == len(buf)):
            # A line, or its "\r\n" ending, may go on in the next block.
            more = handle.read(max(BLOCK, len(buf) - pos))
            if more:
                if match is None and len(buf) - pos > cap:
                    skipped += len(buf) - pos
                    buf, pos = more, 0
                else:
                    buf, pos = buf[pos:] + more, 0
                continue
            if match is None:
                length = skipped + len(buf) - pos
                if length:
                    yield start, (buf[pos:] if not skipped and length <= cap else None), length
                return
        length = skipped + match.start() - pos
        yield start, (buf[pos : match.start()] if not skipped and length <= cap else None), length
        start += length + len(match.group())
        pos, skipped = match.end(), 0


def count_lines(handle: BinaryIO, part_size: int) -> Tuple[int, list]:
    """Count the lines of a file and note the offset of every `part_size`-th.

    handle (BinaryIO): The file, open for reading bytes.
    part_size (int): Lines per part.
    RETURNS (Tuple[int, List[int]]): The number of lines and the offsets where parts begin.
    """
    rows, offsets = 0, []
    for start, _, _ in iter_lines(handle, 0, cap=0):
        if rows % part_size == 0:
            offsets.append(start)
        rows += 1
    return rows, offsets
