"""Tests for TransformerSphericalKMeans.

The reference for every numerical result is a plain numpy spherical k-means
(Dhillon and Modha's, with the package's stopping rule) written below.
"""

import time
import tracemalloc
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._testing import assert_allclose, assert_array_equal

from sklearn_kmt import TransformerSphericalKMeans

from _references import dense, rtol_for

# ---------------------------------------------------------------------------
# Reference computations and assertions
# ---------------------------------------------------------------------------


def _normalise_rows(A):
    A = np.asarray(A, dtype=np.float64)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)


def assert_unit_centers_close(centers, expected, rtol):
    # centers are unit vectors: absolute errors are relative errors
    centers = np.asarray(centers, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert centers.shape == expected.shape
    err = np.max(np.abs(centers - expected))
    assert err <= rtol, f"max center error {err:.3g}"


@dataclass
class SphericalResult:
    labels: np.ndarray
    centers: np.ndarray
    n_iter: int
    inertia: float
    shifts: list
    tol_abs: float


def _assign(X_hat, centers):
    # np.argmax sends ties (zero rows) to the lowest index
    return np.argmax(X_hat @ centers.T, axis=1)


def _textbook_spherical_kmeans(X, sample_weight, init, max_iter, tol):
    """Spherical k-means from its definition, with the package's stopping rule.

    Stops when the labels did not change or when the summed squared shift of
    the unit centers is <= ``tol`` times the mean variance of the normalised
    rows. Empty clusters are not handled: the problems using it have none.
    """
    X_hat = _normalise_rows(dense(X))
    w = np.ones(X_hat.shape[0]) if sample_weight is None else sample_weight
    centers = _normalise_rows(init)
    n_clusters = centers.shape[0]
    tol_abs = tol * np.mean(np.var(X_hat, axis=0))
    previous, strict, shifts = None, False, []
    for _ in range(max_iter):
        labels = _assign(X_hat, centers)
        assert np.all(np.bincount(labels, weights=w, minlength=n_clusters) > 0)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, w[:, None] * X_hat)
        new_centers = _normalise_rows(sums)
        shifts.append(float(np.sum((new_centers - centers) ** 2)))
        centers = new_centers
        if previous is not None and np.array_equal(labels, previous):
            strict = True
            break
        if shifts[-1] <= tol_abs:
            break
        previous = labels
    if not strict:
        labels = _assign(X_hat, centers)
    similarity = np.einsum("ij,ij->i", X_hat, centers[labels])
    return SphericalResult(
        labels=labels,
        centers=centers,
        n_iter=len(shifts),
        inertia=float(w @ (1 - similarity)),
        shifts=shifts,
        tol_abs=tol_abs,
    )


def _cosine_distances(X, centers):
    return 1 - _normalise_rows(dense(X)) @ _normalise_rows(centers).T


# ---------------------------------------------------------------------------
# 1. Equality with textbook spherical k-means on generated problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # "directions", "positive" or "noise"
    n_samples: int
    n_features: int
    n_clusters: int
    container: str = "dense"
    dtype: str = "float64"
    weights: str = "none"  # "none", "random" or "int"
    max_iter: int = 300
    tol: float = 1e-4
    n_zero_rows: int = 0
    seed: int = 0

    def __str__(self):
        return (
            f"{self.kind}-n{self.n_samples}-d{self.n_features}-k{self.n_clusters}"
            f"-{self.container}-{self.dtype}-w_{self.weights}-it{self.max_iter}"
            f"-tol{self.tol:g}-zeros{self.n_zero_rows}-seed{self.seed}"
        )

    def build(self, to_container):
        rng = np.random.RandomState(self.seed)
        n_total = self.n_samples + 40  # the last rows are unseen data
        d = self.n_features
        if self.kind == "noise":
            X = rng.normal(size=(n_total, d))
            directions = None
        elif self.kind == "positive":
            # peaked non-negative "topics", as for term frequencies
            directions = _normalise_rows(rng.gamma(0.3, size=(self.n_clusters, d)))
            X = directions[rng.randint(self.n_clusters, size=n_total)]
            X += 0.05 * np.abs(rng.normal(size=(n_total, d)))
        else:
            directions = _normalise_rows(rng.normal(size=(self.n_clusters, d)))
            X = directions[rng.randint(self.n_clusters, size=n_total)]
            X += 0.35 * rng.normal(size=(n_total, d))
        if directions is not None:
            # lengths vary over three orders of magnitude; directions matter
            X *= np.exp(rng.uniform(np.log(1e-2), np.log(10.0), size=(n_total, 1)))
        if self.container != "dense":
            X[np.abs(X) < np.quantile(np.abs(X), 0.3, axis=1, keepdims=True)] = 0.0
        X[rng.choice(self.n_samples, size=self.n_zero_rows, replace=False)] = 0.0
        X = X.astype(self.dtype)
        X, X_new = X[: self.n_samples], X[self.n_samples :]
        if self.weights == "random":
            sample_weight = rng.uniform(0.2, 3.0, size=self.n_samples)
        elif self.weights == "int":
            sample_weight = rng.randint(1, 5, size=self.n_samples).astype(float)
        else:
            sample_weight = None
        if directions is None:
            nonzero = np.flatnonzero(np.abs(dense(X)).sum(axis=1) > 0)
            idx = rng.choice(nonzero, size=self.n_clusters, replace=False)
            directions = _normalise_rows(dense(X[idx]))
        init = directions + 0.2 * rng.normal(size=(self.n_clusters, d))
        # rows of the init are deliberately not unit vectors
        init *= rng.uniform(0.1, 20.0, size=(self.n_clusters, 1))
        params = dict(
            n_clusters=self.n_clusters,
            init=init,
            max_iter=self.max_iter,
            tol=self.tol,
        )
        convert = to_container(self.container)
        return convert(X), convert(X_new), sample_weight, params


# fmt: off
PROBLEMS = [
    Problem("directions", 200, 3, 3),
    Problem("directions", 200, 3, 3, container="csr_matrix"),
    Problem("directions", 300, 10, 5, weights="random", seed=1),
    Problem("directions", 300, 10, 5, container="csr_array", weights="random",
            seed=1),
    Problem("positive", 400, 20, 6, weights="int", seed=2),
    Problem("positive", 400, 20, 6, container="csr_matrix", weights="int", seed=2),
    Problem("positive", 300, 8, 4, dtype="float32", seed=3),
    Problem("positive", 300, 8, 4, container="csr_array", dtype="float32",
            weights="random", seed=3),
    Problem("noise", 500, 2, 6, tol=0.0, seed=4),
    Problem("noise", 500, 3, 8, container="csr_matrix", tol=0.0, seed=5),
    Problem("noise", 400, 5, 4, weights="random", tol=0.0, max_iter=4, seed=6),
    Problem("noise", 400, 5, 4, container="csr_array", weights="int", tol=1e-2,
            seed=7),
    Problem("directions", 250, 4, 3, n_zero_rows=5, seed=8),
    Problem("directions", 250, 4, 3, container="csr_matrix", n_zero_rows=5,
            weights="random", seed=8),
    Problem("positive", 600, 30, 10, container="csr_array", seed=9),
    Problem("directions", 100, 2, 2, dtype="float32", weights="int", seed=10),
    Problem("noise", 800, 6, 12, weights="random", tol=1e-6, seed=11),
    Problem("positive", 200, 50, 3, container="csr_matrix", dtype="float32",
            tol=0.0, seed=12),
    Problem("directions", 300, 5, 1, weights="random", seed=13),
    Problem("noise", 300, 3, 5, dtype="float32", tol=0.0, max_iter=3, seed=14),
    Problem("positive", 1000, 15, 8, weights="int", tol=1e-3, seed=17),
    Problem("directions", 400, 6, 5, container="csr_array", tol=0.0,
            n_zero_rows=10, seed=16),
]
# fmt: on


def _check_problem_is_informative(ref, problem):
    """Guard: the run is not trivial and its stop is unambiguous."""
    if problem.max_iter > 3 and problem.n_clusters > 1:
        assert ref.n_iter >= 2
    if problem.tol > 0:
        margin = 1e-6 if problem.dtype == "float64" else 0.05
        ratios = np.array(ref.shifts) / ref.tol_abs
        assert np.min(np.abs(ratios - 1)) > margin


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_equals_textbook_spherical_kmeans(problem, to_container):
    X, _, sample_weight, params = problem.build(to_container)
    ref = _textbook_spherical_kmeans(
        X, sample_weight, params["init"], problem.max_iter, problem.tol
    )
    _check_problem_is_informative(ref, problem)

    est = TransformerSphericalKMeans(**params).fit(X, sample_weight=sample_weight)

    rtol = rtol_for(problem.dtype)
    assert est.cluster_centers_.dtype == np.dtype(problem.dtype)
    assert est.n_iter_ == ref.n_iter
    assert_array_equal(est.labels_, ref.labels)
    assert_unit_centers_close(est.cluster_centers_, ref.centers, rtol)
    total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
    assert est.inertia_ == pytest.approx(ref.inertia, rel=rtol, abs=rtol * total_weight)


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_predict_and_transform_equal_textbook(problem, to_container):
    X, X_new, sample_weight, params = problem.build(to_container)
    est = TransformerSphericalKMeans(**params).fit(X, sample_weight=sample_weight)
    centers = est.cluster_centers_.astype(np.float64)

    D = est.transform(X_new)

    rtol = rtol_for(problem.dtype)
    assert D.dtype == np.dtype(problem.dtype)
    assert_allclose(D, _cosine_distances(X_new, centers), rtol=0, atol=rtol)
    assert_array_equal(
        est.predict(X_new), _assign(_normalise_rows(dense(X_new)), centers)
    )
    assert_array_equal(est.predict(X), est.labels_)


def test_problems_cover_the_required_grid():
    assert len(PROBLEMS) >= 20
    assert {p.container for p in PROBLEMS} == {"dense", "csr_matrix", "csr_array"}
    assert {p.dtype for p in PROBLEMS} == {"float32", "float64"}
    assert {p.weights for p in PROBLEMS} == {"none", "random", "int"}
    assert 0.0 in {p.tol for p in PROBLEMS}
    assert any(p.n_zero_rows for p in PROBLEMS)
    assert len({str(p) for p in PROBLEMS}) == len(PROBLEMS)


def test_centers_have_unit_norm(container, dtype):
    rng = np.random.RandomState(0)
    X = np.abs(rng.normal(size=(200, 6))) * rng.uniform(0.1, 100.0, size=(200, 1))

    est = TransformerSphericalKMeans(5, random_state=0).fit(container(X.astype(dtype)))

    assert est.cluster_centers_.dtype == dtype
    assert_allclose(
        np.linalg.norm(est.cluster_centers_.astype(np.float64), axis=1),
        1.0,
        rtol=rtol_for(dtype),
    )


# ---------------------------------------------------------------------------
# 2. Invariance to the length of the rows
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["k-means++", "array"])
def test_scaling_rows_changes_nothing(container, init):
    rng = np.random.RandomState(0)
    X = _normalise_rows(
        rng.normal(size=(300, 5)) + rng.normal(size=(4, 5))[rng.randint(4, size=300)]
    )
    factors = np.exp(rng.uniform(np.log(1e-3), np.log(1e3), size=(300, 1)))
    if init == "array":
        init = X[rng.choice(300, size=4, replace=False)]
    params = dict(n_clusters=4, init=init, random_state=0)

    unit = TransformerSphericalKMeans(**params).fit(container(X))
    scaled = TransformerSphericalKMeans(**params).fit(container(X * factors))

    assert_array_equal(scaled.labels_, unit.labels_)
    assert scaled.n_iter_ == unit.n_iter_
    assert_unit_centers_close(scaled.cluster_centers_, unit.cluster_centers_, 1e-10)
    assert scaled.inertia_ == pytest.approx(unit.inertia_, rel=1e-10)
    assert_allclose(
        scaled.transform(container(X * factors)),
        unit.transform(container(X)),
        rtol=0,
        atol=1e-10,
    )


def test_lengths_of_init_rows_do_not_change_the_layer_count(container):
    # From centers that are already a fixed point, the first layer moves the
    # unit centers by nothing, whatever the lengths of the init rows.
    rng = np.random.RandomState(1)
    X = (
        rng.normal(size=(300, 3))
        + 2 * rng.normal(size=(3, 3))[rng.randint(3, size=300)]
    )
    Xc = container(X)
    fixed_point = TransformerSphericalKMeans(3, random_state=0, tol=0.0).fit(Xc)
    centers = fixed_point.cluster_centers_
    ref = _textbook_spherical_kmeans(X, None, centers * 50.0, 300, 1e-4)
    assert ref.n_iter == 1

    unit = TransformerSphericalKMeans(3, init=centers).fit(Xc)
    long = TransformerSphericalKMeans(3, init=centers * 50.0).fit(Xc)

    assert unit.n_iter_ == ref.n_iter
    assert long.n_iter_ == ref.n_iter
    assert_array_equal(long.labels_, ref.labels)
    assert_unit_centers_close(long.cluster_centers_, ref.centers, 1e-10)


# ---------------------------------------------------------------------------
# 3. Rows of zeros and empty clusters
# ---------------------------------------------------------------------------


def _data_with_zero_rows(n_zero_rows=12):
    rng = np.random.RandomState(3)
    X = (
        np.abs(rng.normal(size=(150, 4)))
        + rng.uniform(0, 3, size=(3, 4))[rng.randint(3, size=150)]
    )
    zero_rows = rng.choice(150, size=n_zero_rows, replace=False)
    X[zero_rows] = 0.0
    return X, zero_rows


def test_zero_rows_give_no_nan(container, dtype):
    X, zero_rows = _data_with_zero_rows()
    Xc = container(X.astype(dtype))

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = TransformerSphericalKMeans(3, random_state=0).fit(Xc)
        D = est.transform(Xc)
        labels = est.predict(Xc)
        score = est.score(Xc)

    assert np.all(np.isfinite(est.cluster_centers_))
    assert np.all(np.isfinite(D))
    assert np.isfinite(est.inertia_)
    assert np.isfinite(score)
    # no direction: similarity 0 to every centroid, so the tie goes to the first
    assert_array_equal(est.labels_[zero_rows], 0)
    assert_array_equal(labels[zero_rows], 0)
    assert_allclose(D[zero_rows], 1.0, rtol=0, atol=rtol_for(dtype))


def test_zero_rows_count_one_in_the_inertia(container):
    X, zero_rows = _data_with_zero_rows()
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, size=X.shape[0])
    init = X[np.abs(X).sum(axis=1) > 0][:3]

    est = TransformerSphericalKMeans(3, init=init).fit(
        container(X), sample_weight=sample_weight
    )

    centers = est.cluster_centers_
    similarity = np.einsum("ij,ij->i", _normalise_rows(X), centers[est.labels_])
    expected = sample_weight @ (1 - similarity)
    assert est.inertia_ == pytest.approx(expected, rel=1e-10)
    assert sample_weight[zero_rows].sum() < expected
    assert est.score(container(X), sample_weight=sample_weight) == pytest.approx(
        -expected, rel=1e-10
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_zero_rows_do_not_take_a_center(container, weighted):
    # Rows of zeros (say empty documents) have no direction to be a center of:
    # the fit still finds three directions among the other rows.
    X, zero_rows = _data_with_zero_rows()
    sample_weight = (
        np.random.RandomState(0).uniform(0.5, 2.0, size=X.shape[0])
        if weighted
        else None
    )
    nonzero = np.setdiff1d(np.arange(X.shape[0]), zero_rows)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = TransformerSphericalKMeans(3, random_state=0).fit(
            container(X), sample_weight=sample_weight
        )

    assert_allclose(np.linalg.norm(est.cluster_centers_, axis=1), 1.0)
    assert_array_equal(np.unique(est.labels_[nonzero]), [0, 1, 2])


def _mostly_zero_rows(n_nonzero, n_samples=200, n_features=30, seed=0):
    """Non-negative sparse rows (TF-IDF-like); all but ``n_nonzero`` are zero,
    as for documents of stop words only."""
    rng = np.random.RandomState(seed)
    X = np.zeros((n_samples, n_features))
    rows = rng.choice(n_samples, n_nonzero, replace=False)
    X[rows] = rng.exponential(size=(n_nonzero, n_features)) * (
        rng.rand(n_nonzero, n_features) < 0.3
    )
    X[rows, rng.randint(n_features, size=n_nonzero)] += 1.0  # no empty row among them
    return X, np.sort(rows)


@pytest.mark.parametrize("n_init", [1, 10])
def test_random_init_draws_among_the_rows_with_a_direction(container, n_init):
    X, rows = _mostly_zero_rows(n_nonzero=8)
    est = TransformerSphericalKMeans(
        6, init="random", n_init=n_init, max_iter=1, random_state=0
    ).fit(container(X))
    # Every seed is a normalised non-zero row: none is a zero row.
    unit_rows = X[rows] / np.linalg.norm(X[rows], axis=1, keepdims=True)
    matches = np.isclose(est.init_centers_ @ unit_rows.T, 1.0)
    assert np.all(matches.sum(axis=1) == 1)
    assert np.unique(matches.argmax(axis=1)).size == 6


def test_random_init_with_fewer_directions_than_clusters_seeds_them_all(container):
    X, rows = _mostly_zero_rows(n_nonzero=4)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        est = TransformerSphericalKMeans(
            6, init="random", n_init=1, random_state=0
        ).fit(container(X))
    unit_rows = X[rows] / np.linalg.norm(X[rows], axis=1, keepdims=True)
    # Each of the four directions seeds a center; two seeds are zero rows.
    assert np.all(np.isclose(est.init_centers_ @ unit_rows.T, 1.0).sum(axis=0) == 1)
    assert np.count_nonzero(np.linalg.norm(est.init_centers_, axis=1) == 0) == 2
    assert_array_equal(np.unique(est.labels_[rows]).size, 4)


def test_inertia_is_never_negative(container):
    # Two equal rows: their cosine rounds to 1 + 2.2e-16, and 1 - cos below 0.
    x = np.array([5.44883183, 4.23654799, 6.45894113])
    X = np.array([x, x])
    est = TransformerSphericalKMeans(1, init=X[:1]).fit(container(X))
    assert est.inertia_ == 0
    assert est.score(container(X)) == 0


def test_center_of_zero_rows_only_stays_at_zero(container):
    X, zero_rows = _data_with_zero_rows()
    # the first center points away from the (non-negative) data: only the
    # zero rows, which go to the first center on ties, join it
    init = np.array([[-1.0, -1.0, -1.0, -1.0], [1.0, 0.0, 1.0, 0.0], [0, 1, 0, 1]])

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = TransformerSphericalKMeans(3, init=init, tol=0.0).fit(container(X))

    assert_array_equal(np.flatnonzero(est.labels_ == 0), np.sort(zero_rows))
    assert_array_equal(est.cluster_centers_[0], 0.0)
    assert_allclose(np.linalg.norm(est.cluster_centers_[1:], axis=1), 1.0)
    assert np.all(np.isfinite(est.transform(container(X))))


def _orthogonal_center_problem():
    """Data in the (x, y) quadrant and an init whose last center is along z."""
    rng = np.random.RandomState(7)
    X = np.zeros((120, 3))
    angles = rng.uniform(0.05, np.pi / 2 - 0.05, size=120)
    X[:, 0], X[:, 1] = np.cos(angles), np.sin(angles)
    X *= rng.uniform(0.5, 5.0, size=(120, 1))
    init = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.0], [0.0, 0.0, 2.0]])
    return X, init


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_empty_cluster_takes_the_least_similar_point(container, weighted):
    X, init = _orthogonal_center_problem()
    sample_weight = (
        np.random.RandomState(0).uniform(0.5, 2.0, size=X.shape[0])
        if weighted
        else np.ones(X.shape[0])
    )
    X_hat = _normalise_rows(X)
    C = _normalise_rows(init)
    labels = _assign(X_hat, C)
    assert not np.any(labels == 2)  # the z center attracts no point
    # one textbook step with relocation: the least similar point moves to
    # the empty cluster and leaves its own
    similarity = np.einsum("ij,ij->i", X_hat, C[labels])
    least = np.argmin(similarity)
    assert np.sort(similarity)[1] - similarity[least] > 1e-6
    labels[least] = 2
    sums = np.zeros_like(C)
    np.add.at(sums, labels, sample_weight[:, None] * X_hat)
    expected = _normalise_rows(sums)

    est = TransformerSphericalKMeans(3, init=init, max_iter=1).fit(
        container(X), sample_weight=sample_weight
    )

    assert est.n_iter_ == 1
    assert_unit_centers_close(est.cluster_centers_, expected, 1e-10)
    assert_allclose(est.cluster_centers_[2], X_hat[least], rtol=1e-10)


def test_empty_cluster_relocation_populates_every_cluster(container):
    X, init = _orthogonal_center_problem()

    est = TransformerSphericalKMeans(3, init=init).fit(container(X))

    assert len(np.unique(est.labels_)) == 3
    assert_allclose(np.linalg.norm(est.cluster_centers_, axis=1), 1.0)
    assert_array_equal(est.cluster_centers_[:, 2], 0.0)


# ---------------------------------------------------------------------------
# 4. Sparse input is never densified
# ---------------------------------------------------------------------------


def _large_sparse_matrix(n_rows=20_000, n_cols=50_000, nnz_per_row=250, seed=0):
    """A random CSR matrix at 0.5% density, built from its arrays directly.

    Each row holds one non-zero in each of ``nnz_per_row`` equal column
    strata, so the column indices are distinct and sorted without any sort.
    """
    rng = np.random.RandomState(seed)
    stride = n_cols // nnz_per_row
    offsets = rng.randint(0, stride, size=(n_rows, nnz_per_row))
    indices = (np.arange(nnz_per_row) * stride + offsets).astype(np.int32).ravel()
    data = rng.uniform(0.1, 1.0, size=n_rows * nnz_per_row)
    indptr = np.arange(0, n_rows * nnz_per_row + 1, nnz_per_row, dtype=np.int32)
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def test_sparse_input_is_never_densified():
    X = _large_sparse_matrix()
    assert X.nnz == 5_000_000 and X.has_sorted_indices
    matrix_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    n_clusters = 8
    centers_bytes = n_clusters * X.shape[1] * 8

    tracemalloc.start()
    try:
        start = time.perf_counter()
        est = TransformerSphericalKMeans(n_clusters, max_iter=5, random_state=0).fit(X)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Measured: about 3.1 matrices (the validated copy, the normalised copy
    # the seeding reads, and one transient). Densifying even one chunk of
    # rows would take about 400 MB (7 matrices), and the whole matrix 8 GB.
    assert peak < 4 * matrix_bytes + 4 * centers_bytes, f"peak {peak / 2**20:.0f} MB"
    assert elapsed < 10.0
    assert est.cluster_centers_.shape == (n_clusters, X.shape[1])
    assert np.all(np.isfinite(est.cluster_centers_))
