"""What makes a text unfit for the pipeline: the rules that annotate and serve share.

A text that is empty or only whitespace has nothing to predict from: the
pipeline would still give it an intent, from no evidence at all. annotate makes
such a row an error record; serve answers 422 naming the request field.

A lone surrogate (a code point from U+D800 to U+DFFF on its own, which JSON's
``"\\ud800"`` escape produces) cannot be encoded as UTF-8, which spaCy needs to
hash a token and a writer needs to store the text.
"""

from typing import Optional, Tuple

# What annotate's error record and serve's 422 say about a blank text.
EMPTY_TEXT = "empty text"


def is_blank(text: str) -> bool:
    """Whether a text is empty or only whitespace (anything `str.isspace` counts, U+3000 too).

    text (str): The text.
    RETURNS (bool): True if there is nothing to predict from.
    """
    return not text.strip()


def lone_surrogate(text: str) -> Optional[Tuple[int, str]]:
    """The first lone surrogate of a text: its position and code point, or None.

    text (str): The text.
    RETURNS (Optional[Tuple[int, str]]): (character offset, "U+D800"), or None if
        the text can be encoded as UTF-8.
    """
    try:
        text.encode("utf8")
    except UnicodeEncodeError as err:
        return err.start, f"U+{ord(text[err.start]):04X}"
    return None
