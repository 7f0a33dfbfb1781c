"""One answer on every path.

Each estimator's fit runs the layers through the fast pass; ``network_.forward``
replays them literally, with the dense weights as written; a Dask array is
fitted blockwise. On every problem below, including those where the paths
once parted (zero rows behind a normalisation, an empty centroid, a faint
soft centroid, ties at the trimming radius, empty Dask blocks), they give
the same labels and number of layers, and centers equal to rounding.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)


def blobs_with_weights():
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.randn(20, 3) + shift for shift in (0, 4, 8)])
    return X, rng.uniform(0.5, 2.0, X.shape[0]), X[[0, 25, 45]].copy()


def zero_rows():
    # Spherical k-means: three rows without direction, and a centroid that
    # attracts nothing; it must never be moved onto a zero row.
    X = np.abs(np.random.RandomState(0).randn(40, 2)) + 0.1
    X[:3] = 0
    return X, None, np.array([[1.0, 1.0], [-1.0, -1.3]])


def empty_centroid():
    # The third centroid starts beyond the data and attracts nothing at first.
    rng = np.random.RandomState(1)
    X = np.concatenate([rng.randn(25, 2), rng.randn(25, 2) + 6])
    return X, None, np.array([[0.0, 0.0], [6.0, 6.0], [40.0, -40.0]])


def faint_soft_centroid():
    # Two data rows and one row 50 units beyond the data: a soft centroid
    # whose responsibilities underflow everywhere.
    X = np.random.RandomState(0).randn(60, 2)
    return X, None, np.vstack([X[:2], X[:1] + 50])


def ties_at_the_trimming_radius():
    # An integer grid, symmetric about its centroids: many points at the
    # same distance, trimmed in order of their index.
    grid = np.array([[x, y] for x in range(-3, 4) for y in range(-3, 4)], float)
    X = np.concatenate([grid, grid + [20, 0]])
    return X, None, np.array([[0.5, 0.0], [19.5, 0.0]])


PROBLEMS = {
    "blobs with weights": blobs_with_weights,
    "zero rows": zero_rows,
    "empty centroid": empty_centroid,
    "faint soft centroid": faint_soft_centroid,
    "ties at the trimming radius": ties_at_the_trimming_radius,
}

ESTIMATORS = {
    "kmeans": lambda init: TransformerKMeans(len(init), init=init, n_init=1),
    "soft": lambda init: TransformerSoftKMeans(
        len(init), beta=1.0, init=init, n_init=1, max_iter=30
    ),
    "spherical": lambda init: TransformerSphericalKMeans(
        len(init), init=init, n_init=1
    ),
    "trimmed": lambda init: TransformerTrimmedKMeans(
        len(init), trim_fraction=0.1, init=init, n_init=1
    ),
    "kmedoids": lambda init: TransformerKMedoids(
        len(init), init=init, n_init=1, max_iter=20, random_state=0
    ),
}

CONTAINERS = {"dense": np.asarray, "csr": sp.csr_matrix}


def fitted(name, problem, container):
    X, sample_weight, init = PROBLEMS[problem]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = ESTIMATORS[name](init).fit(
            container(X), sample_weight=sample_weight
        )
    return estimator, X, sample_weight


def assert_same_result(labels, n_iter, centers, expected):
    assert_array_equal(np.asarray(labels), expected.labels_)
    assert n_iter == expected.n_iter_
    scale = max(np.abs(expected.cluster_centers_).max(), 1e-300)
    assert_allclose(centers, expected.cluster_centers_, rtol=1e-10, atol=1e-10 * scale)


@pytest.mark.parametrize("container", list(CONTAINERS))
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_the_literal_pass_replays_the_fit(name, problem, container):
    estimator, X, sample_weight = fitted(name, problem, CONTAINERS[container])
    output = estimator.network_.forward(
        CONTAINERS[container](X),
        estimator.init_centers_,
        estimator.n_iter_,
        sample_weight=sample_weight,
        literal=True,
    )
    # forward applies exactly n_iter_ layers; its labels are those of the
    # final centroids, as the fit's.
    assert_same_result(output.labels, estimator.n_iter_, output.centers, estimator)


@pytest.mark.parametrize(
    "chunks",
    [(0, 30, 30), (30, 0, 30), (30, 30, 0), (0, 17, 0, 43, 0)],
    ids=["first empty", "middle empty", "last empty", "several empty"],
)
@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("name", [name for name in ESTIMATORS if name != "kmedoids"])
def test_dask_blocks_give_the_in_memory_fit(name, problem, chunks):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    estimator, X, sample_weight = fitted(name, problem, np.asarray)
    # Blocks of the given sizes, stretched over the data.
    sizes = np.asarray(chunks, dtype=float)
    bounds = np.round(np.cumsum(sizes) / sizes.sum() * X.shape[0]).astype(int)
    rows = tuple(np.diff(np.concatenate([[0], bounds])).tolist())
    assert 0 in rows and sum(rows) == X.shape[0]
    blocks = da.from_array(X, chunks=(rows, X.shape[1]))
    weights = None
    if sample_weight is not None:
        weights = da.from_array(sample_weight, chunks=(rows,))
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        on_dask = ESTIMATORS[name](estimator.init_centers_).fit(
            blocks, sample_weight=weights
        )
        labels = np.asarray(on_dask.labels_)
        assert_same_result(labels, on_dask.n_iter_, on_dask.cluster_centers_, estimator)
        # The blocks of the fitted model's outputs pair with the data's.
        assert_array_equal(on_dask.predict(blocks).compute(), estimator.predict(X))
        distances = estimator.transform(X)
        assert_allclose(
            on_dask.transform(blocks).compute(),
            distances,
            rtol=1e-10,
            atol=1e-10 * distances.max(),
        )
