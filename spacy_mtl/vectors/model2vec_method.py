"""model2vec's distillation (the `vectors` extra) for the same words as our own method."""

import logging
from pathlib import Path
from typing import List, Tuple

import numpy

from .errors import VectorsError


def require_model2vec():
    """model2vec's `distill`, or a VectorsError that says what to install."""
    try:
        from model2vec.distill import distill
    except ImportError:
        raise VectorsError(
            "--method model2vec needs model2vec's distillation: "
            'pip install "spacy-mtl[vectors]" (or use --method pooled, which needs nothing more).'
        ) from None
    return distill


def model2vec_vectors(
    words: List[str], transformer: Path, *, dims: int, sif: float
) -> Tuple[List[str], numpy.ndarray]:
    """Distill with model2vec, our words as its vocabulary, and read each word's vector.

    model2vec embeds every piece of the transformer's vocabulary as well as our
    words, applies PCA and SIF itself, and gives a word outside its table the mean
    of its pieces' vectors, so every word gets one (unnormalised, as spaCy expects).

    words (List[str]): The words, most frequent first.
    transformer (Path): The local model folder.
    dims (int): PCA dimensions; 0 keeps the transformer's.
    sif (float): The SIF coefficient; 0 for none.
    RETURNS (Tuple[List[str], numpy.ndarray]): The words and their vectors.
    """
    distill = require_model2vec()
    # model2vec logs a warning for each of our words already in the transformer's vocabulary.
    logger = logging.getLogger("model2vec")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        static = distill(
            str(transformer),
            vocabulary=list(words),
            pca_dims=dims if dims > 0 else None,
            sif_coefficient=sif if sif > 0 else None,
            quantize_to="float32",
        )
    finally:
        logger.setLevel(level)
    static.normalize = False
    matrix = static.encode(list(words), use_multiprocessing=False, show_progress_bar=False)
    matrix = numpy.asarray(matrix, dtype=numpy.float32)
    has_pieces = numpy.abs(matrix).sum(axis=1) > 0
    return [w for w, keep in zip(words, has_pieces) if keep], matrix[has_pieces]
