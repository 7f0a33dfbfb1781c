"""Determinism: the same random_state gives bit-identical results across runs,
BLAS thread counts and pickling; concurrent predictions equal serial ones."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)

ESTIMATORS = {
    "kmeans": lambda seed: TransformerKMeans(4, random_state=seed),
    "kmeans_random_init": lambda seed: TransformerKMeans(
        4, init="random", random_state=seed
    ),
    "soft": lambda seed: TransformerSoftKMeans(4, beta=0.5, random_state=seed),
    "spherical": lambda seed: TransformerSphericalKMeans(4, random_state=seed),
    "trimmed": lambda seed: TransformerTrimmedKMeans(
        4, trim_fraction=0.1, random_state=seed
    ),
    "kmedoids": lambda seed: TransformerKMedoids(4, n_candidates=8, random_state=seed),
}
FITTED = [
    "cluster_centers_",
    "labels_",
    "init_centers_",
    "inertia_",
    "n_iter_",
]


def problem(sparse=False):
    """Well separated blobs (no near-ties) with an offset, a few thousand
    samples so that the layers stream several chunks."""
    X, _ = make_blobs(
        n_samples=3000, n_features=6, centers=4, cluster_std=1.0, random_state=3
    )
    X += 4.0
    return sp.csr_matrix(X) if sparse else X


def assert_bitwise_equal(estimator, other):
    for name in FITTED + [
        n
        for n in ("radius_", "medoid_indices_", "free_energy_")
        if hasattr(estimator, n)
    ]:
        value, expected = (
            np.asarray(getattr(other, name)),
            np.asarray(getattr(estimator, name)),
        )
        assert value.dtype == expected.dtype, name
        assert value.tobytes() == expected.tobytes(), name


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_same_random_state_gives_bit_identical_runs(name, sparse):
    X = problem(sparse)
    first = ESTIMATORS[name](7).fit(X)
    second = ESTIMATORS[name](7).fit(X)
    assert_bitwise_equal(first, second)
    assert first.transform(X).tobytes() == second.transform(X).tobytes()


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_one_and_two_blas_threads_give_bit_identical_results(name, sparse, monkeypatch):
    # Small problems run on one thread; read these chunks on two.
    monkeypatch.setattr("sklearn_kmt._streams.MIN_THREADED_PRODUCT", 0)
    X = problem(sparse)
    with threadpool_limits(limits=1, user_api="blas"):
        single = ESTIMATORS[name](1).fit(X)
        single_distances = single.transform(X)
    with threadpool_limits(limits=2, user_api="blas"):
        double = ESTIMATORS[name](1).fit(X)
        double_distances = double.transform(X)
    assert_bitwise_equal(single, double)
    assert single_distances.tobytes() == double_distances.tobytes()


@pytest.mark.parametrize("name", ESTIMATORS)
def test_pickling_keeps_the_results_bit_identical(name):
    X = problem()
    # An estimator holding a RandomState, pickled before fitting, draws the
    # same seeding as the original.
    unfitted = ESTIMATORS[name](np.random.RandomState(5))
    restored = pickle.loads(pickle.dumps(unfitted))
    assert_bitwise_equal(unfitted.fit(X), restored.fit(X))

    fitted = ESTIMATORS[name](5).fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    assert_bitwise_equal(fitted, restored)
    assert restored.predict(X).tobytes() == fitted.predict(X).tobytes()
    assert restored.transform(X).tobytes() == fitted.transform(X).tobytes()
    refitted = pickle.loads(pickle.dumps(fitted)).fit(X)
    assert_bitwise_equal(fitted, refitted)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_concurrent_predictions_equal_serial_ones(name):
    X = problem()
    estimator = ESTIMATORS[name](2).fit(X)
    batches = [X[start : start + 700] for start in range(0, len(X), 300)]
    serial = [(estimator.predict(b), estimator.transform(b)) for b in batches]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(
            pool.map(
                lambda b: (estimator.predict(b), estimator.transform(b)), batches * 3
            )
        )
    for (labels, distances), (expected_labels, expected_distances) in zip(
        concurrent, serial * 3, strict=True
    ):
        assert_array_equal(labels, expected_labels)
        assert distances.tobytes() == expected_distances.tobytes()
