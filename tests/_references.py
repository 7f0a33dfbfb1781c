"""Helpers the reference tests share: dense views, tolerances, center checks.

A reference implementation of an algorithm stays in the test file that uses
it; this module holds only what compares its results with the package's.
"""

import numpy as np
import scipy.sparse as sp


def dense(X):
    """X as a dense array, whatever its container."""
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def data_scale(X):
    """Scale of the data, used to make absolute center errors relative."""
    return max(1.0, float(np.max(np.abs(dense(X)))))


def rtol_for(dtype):
    """The relative tolerance of an equivalence in that floating type."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-10


def assert_centers_close(centers, expected, X, rtol):
    """Centers equal to ``rtol`` relative to the scale of the data X."""
    centers = np.asarray(centers, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert centers.shape == expected.shape
    error = np.max(np.abs(centers - expected)) if centers.size else 0.0
    assert error <= rtol * data_scale(X), f"max center error {error:.3g}"


def squared_distances(X, centers):
    """Squared Euclidean distances of every row of X to every center."""
    X = dense(X).astype(np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    return ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
