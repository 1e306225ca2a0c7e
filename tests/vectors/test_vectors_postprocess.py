"""PCA and SIF weights of `init vectors`' own method, against their definitions."""

import numpy
import pytest

from spacy_mtl.vectors.postprocess import pca, sif_weights
from spacy_mtl.vectors.vocabulary import build_vocabulary, row_keys


def test_pca_keeps_the_largest_uncorrelated_directions_with_fixed_signs():
    rng = numpy.random.default_rng(0)
    matrix = rng.normal(size=(200, 6)) * numpy.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    projected = pca(matrix, 3)
    assert projected.shape == (200, 3) and projected.dtype == numpy.float32
    covariance = numpy.cov(projected.T)
    assert numpy.allclose(covariance, numpy.diag(numpy.diag(covariance)), atol=1e-3)
    assert list(numpy.diag(covariance)) == sorted(numpy.diag(covariance), reverse=True)
    # The kept share of variance is that of the three largest scales.
    kept = numpy.diag(covariance).sum() / numpy.cov(matrix.T).trace()
    assert kept > 0.95
    # The rows in another order give the same rows: the axes' signs are not left to the SVD.
    order = rng.permutation(200)
    assert numpy.allclose(pca(matrix[order], 3), projected[order], atol=1e-4)


def test_pca_with_fewer_rows_than_dims_keeps_what_there_is():
    assert pca(numpy.arange(12.0).reshape(3, 4), 8).shape == (3, 3)


def test_sif_weights_shrink_frequent_words_and_zero_turns_them_off():
    weights = sif_weights(1000, 1e-3)
    assert numpy.all(numpy.diff(weights) > 0) and 0 < weights[0] < weights[-1] < 1
    proba = (1 / 2) / (1 / numpy.arange(2, 1002)).sum()
    assert weights[0] == pytest.approx(1e-3 / (1e-3 + proba), rel=1e-5)
    assert numpy.array_equal(sif_weights(5, 0.0), numpy.ones(5, dtype=numpy.float32))


def test_vocabulary_ranks_corpus_words_then_transformer_words_and_keys_every_case():
    from collections import Counter

    counts = Counter({"Boston": 3, "boston": 1, "to": 5, "iPhone": 1})
    rows = build_vocabulary(counts, ["the", "to", "boston", "zebra"], lowercase=True)
    assert rows == ["to", "boston", "iphone", "the", "zebra"]
    keys = dict(row_keys(rows, counts, lowercase=True))
    assert keys["iPhone"] == keys["IPHONE"] == keys["iphone"] == 2
    assert keys["BOSTON"] == keys["Boston"] == 1
    assert dict(row_keys(["Boston"], Counter(), lowercase=False)) == {"Boston": 0}
