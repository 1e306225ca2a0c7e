"""spacy-mtl: multi-task learning for spaCy.

One shared encoder feeds `mtl_textcat` and `mtl_ner` through listeners that
route every head's gradient into the encoder. Importing this package is never
needed: the factories, architectures, readers and scorers are entry points.
"""

__version__ = "0.1.0"
