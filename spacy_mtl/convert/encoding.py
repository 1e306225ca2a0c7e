"""Which encoding a line that is not UTF-8 is most likely in, so an error can say how to fix it.

A file that is not UTF-8 is usually in the legacy encoding of its language: GBK/GB18030 for
Simplified Chinese, Big5 for Traditional Chinese, Shift_JIS for Japanese, Windows-1252 or
Latin-1 for Western European languages. Each candidate decodes the line; the one whose
non-ASCII characters are most plausible for its script wins:

- GB18030: characters of GB2312, the common simplified set;
- Big5: its symbols and its common characters (lead bytes 0xA1 to 0xC6);
- Shift_JIS: kana, JIS level-1 kanji and symbols (lead bytes 0x81 to 0x98);
- CP1252, Latin-1: Latin letters and typographic punctuation in runs of at most three
  characters between ASCII ones (the bytes of a CJK text read as Latin-1 are long runs).

Another decoding of the same bytes nearly always yields rare characters, so the scores part
clearly (Chinese GBK text reads as 100 % plausible GB18030 and well under half as Big5).
Nothing is guessed when no candidate reads at least MIN_PLAUSIBLE of the characters well; a
short line that reads well in two encodings names both, with the text each gives.
"""

import unicodedata
from typing import Callable, List, NamedTuple, Optional

# The share of non-ASCII characters that must be plausible for a guess.
MIN_PLAUSIBLE = 0.75
# The characters scored: enough for a verdict, cheap on a huge line.
MAX_SCORED = 2000
# Latin letters or punctuation in a row, between ASCII characters, that a Western text has.
MAX_LATIN_RUN = 3
_LATIN_PUNCTUATION = set("–—‘’‚“”„…•€£¥§°±«»¿¡©®·´¨¢¤¦ªº¬¯²³¹¼½¾×÷ˆ˜†‡‰‹›™\u00a0")


class Guess(NamedTuple):
    """An encoding a line reads well in.

    name (str): Its name for iconv, e.g. "GB18030".
    description (str): What it is for, e.g. "Simplified Chinese".
    text (str): The line decoded with it.
    """

    name: str
    description: str
    text: str


def _gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _lead_byte_in(codec: str, low: int, high: int) -> Callable[[str], bool]:
    def plausible(char: str) -> bool:
        try:
            encoded = char.encode(codec)
        except UnicodeEncodeError:
            return False
        return len(encoded) == 2 and low <= encoded[0] <= high

    return plausible


def _latin(char: str) -> bool:
    return char in _LATIN_PUNCTUATION or unicodedata.name(char, "").startswith("LATIN ")


# (Python codec, iconv name, what it is for, is a non-ASCII character plausible), in the
# order that breaks a tie.
_CANDIDATES = [
    ("gb18030", "GB18030", "Simplified Chinese (GBK, GB2312)", _gb2312),
    ("big5", "BIG5", "Traditional Chinese", _lead_byte_in("big5", 0xA1, 0xC6)),
    ("shift_jis", "SHIFT_JIS", "Japanese", _lead_byte_in("shift_jis", 0x81, 0x98)),
    ("cp1252", "CP1252", "Western European (Windows-1252)", _latin),
    ("latin-1", "LATIN1", "Western European (ISO-8859-1)", _latin),
]


def encoded_surrogate(raw: bytes, start: int) -> Optional[int]:
    """The UTF-16 surrogate (0xD800 to 0xDFFF) whose UTF-8 form starts at byte `start`, if any.

    Such bytes come from text cut inside a character, or from CESU-8 ("modified UTF-8"); no
    other encoding explains them, so no encoding is guessed for them.
    """
    piece = raw[start : start + 3]
    if len(piece) == 3 and piece[0] == 0xED and 0xA0 <= piece[1] <= 0xBF and piece[2] >= 0x80:
        return ord(piece.decode("utf-8", "surrogatepass"))
    return None


def guess_encodings(raw: bytes) -> List[Guess]:
    """The encodings a line that is not UTF-8 reads well in, likeliest first.

    A short line can read well in two (the bytes of "éé" in CP1252 are one common
    Chinese character in GB18030): all are returned, for the user to choose by the
    text each gives; a decoding that gives the same text as a likelier one is left out.

    raw (bytes): The line, without its line ending.
    RETURNS (List[Guess]): The plausible encodings, maybe none.
    """
    scored = []
    for order, (codec, name, description, plausible) in enumerate(_CANDIDATES):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _score(text, plausible, MAX_LATIN_RUN if plausible is _latin else None)
        if score >= MIN_PLAUSIBLE:
            scored.append((-score, order, Guess(name, description, text)))
    guesses: List[Guess] = []
    for _, _, guess in sorted(scored):
        if all(guess.text != other.text for other in guesses):
            guesses.append(guess)
    return guesses


def _score(text: str, plausible: Callable[[str], bool], max_run: Optional[int]) -> float:
    """The share of non-ASCII characters that are plausible (in short runs if max_run)."""
    runs: List[str] = []
    run = ""
    for char in text:
        if ord(char) < 0x80:
            if run:
                runs.append(run)
                run = ""
        else:
            run += char
            if sum(map(len, runs)) + len(run) >= MAX_SCORED:
                break
    if run:
        runs.append(run)
    total = sum(map(len, runs))
    if not total:
        return 0.0
    good = sum(sum(map(plausible, run)) for run in runs if max_run is None or len(run) <= max_run)
    return good / total


def preview(text: str, width: int = 60) -> str:
    """The stretch of a decoded line around its first non-ASCII character, for a message."""
    first = next((i for i, char in enumerate(text) if ord(char) >= 0x80), 0)
    start = max(0, first - width // 3)
    shown = text[start : start + width]
    return ("…" if start else "") + repr(shown) + ("…" if start + width < len(text) else "")
