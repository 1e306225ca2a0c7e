"""Where the character-column converter used to live; it is now spacy_mtl.convert.columns.

Kept so that ``from spacy_mtl.convert_columns import convert_columns`` goes on working.
"""

from .convert.columns import (  # noqa: F401
    Intent,
    Sentence,
    convert_columns,
    convert_intents,
    read_columns,
    read_intents,
)
