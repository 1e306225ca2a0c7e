"""python -m spacy mtl init vectors: a static word table distilled from a transformer.

The table is written as spaCy vectors (an nlp saved with `nlp.to_disk`, the layout
of `spacy init vectors`), which `[initialize] vectors` loads into a pipeline whose
embedding has `include_static_vectors = true` (configs/cnn_vectors.cfg). The
vectors then travel inside the trained pipeline and its package.
"""
