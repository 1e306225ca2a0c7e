"""What model2vec does after pooling, in numpy: PCA to fewer dimensions, SIF weights.

PCA decorrelates the pooled vectors and removes their common direction (every
word shares the transformer's average state); SIF (smooth inverse frequency)
shrinks the vectors of frequent words, whose context tells little.
"""

import numpy


def pca(matrix: numpy.ndarray, dims: int) -> numpy.ndarray:
    """Project centred rows on their first `dims` principal axes, signs fixed.

    The sign of each axis is chosen so its largest coefficient is positive: SVD
    may flip an axis between platforms, and the table must be the same each run.

    matrix (numpy.ndarray): One row per word.
    dims (int): Dimensions to keep (fewer when the matrix has fewer rows or columns).
    RETURNS (numpy.ndarray): The projected rows, float32.
    """
    centred = matrix.astype(numpy.float64) - matrix.mean(axis=0, keepdims=True)
    _, _, axes = numpy.linalg.svd(centred, full_matrices=False)
    keep = min(dims, axes.shape[0])
    axes = axes[:keep]
    signs = numpy.sign(axes[numpy.arange(keep), numpy.abs(axes).argmax(axis=1)])
    axes = axes * signs[:, None]
    return (centred @ axes.T).astype(numpy.float32)


def sif_weights(n_words: int, coefficient: float) -> numpy.ndarray:
    """SIF weights a / (a + p(w)), p(w) estimated from rank by Zipf's law (as model2vec does).

    n_words (int): How many words, most frequent first.
    coefficient (float): a; 0 gives every word the weight 1.
    RETURNS (numpy.ndarray): One weight per word.
    """
    if coefficient <= 0:
        return numpy.ones(n_words, dtype=numpy.float32)
    inverse_rank = 1.0 / numpy.arange(2, n_words + 2)
    proba = inverse_rank / inverse_rank.sum()
    return (coefficient / (coefficient + proba)).astype(numpy.float32)
