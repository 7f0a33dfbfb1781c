"""Tests for TransformerKMeans.

The reference for every numerical result is ``sklearn.cluster.KMeans`` with
``algorithm="lloyd"`` or a plain numpy Lloyd iteration written below.
"""

import pickle
import re
from dataclasses import dataclass

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils._testing import assert_allclose, assert_array_equal

from sklearn_kmt import TransformerKMeans

from _references import (
    assert_centers_close,
    data_scale,
    dense,
    rtol_for,
    squared_distances,
)

# ---------------------------------------------------------------------------
# Shared assertions and reference computations
# ---------------------------------------------------------------------------


def _reference(**params):
    return KMeans(algorithm="lloyd", **params)


def assert_distances_close(D, D_expected, X, rtol):
    # Compare squared distances: the square root amplifies the rounding of
    # near-zero squared distances far beyond rtol, for any implementation.
    D = np.asarray(D, dtype=np.float64)
    D_expected = np.asarray(D_expected, dtype=np.float64)
    assert D.shape == D_expected.shape
    err = np.max(np.abs(D**2 - D_expected**2))
    assert err <= rtol * data_scale(X) ** 2, f"max squared distance error {err:.3g}"


def assert_same_fit(km, ref, X, rtol, centers_of=None):
    """Assert that two fitted models agree as the contract requires.

    ``centers_of`` restricts the center comparison to some clusters.
    """
    assert_array_equal(km.labels_, ref.labels_)
    assert km.n_iter_ == ref.n_iter_
    assert km.cluster_centers_.dtype == ref.cluster_centers_.dtype
    assert km.cluster_centers_.shape == ref.cluster_centers_.shape
    idx = slice(None) if centers_of is None else centers_of
    assert_centers_close(km.cluster_centers_[idx], ref.cluster_centers_[idx], X, rtol)
    assert km.inertia_ == pytest.approx(
        ref.inertia_, rel=rtol, abs=rtol * data_scale(X) ** 2
    )


def _snapshot(X):
    if sp.issparse(X):
        return (
            type(X),
            X.dtype,
            X.shape,
            X.data.copy(),
            X.indices.copy(),
            X.indptr.copy(),
        )
    return (type(X), X.dtype, X.shape, np.array(X, copy=True))


def assert_unchanged(X, snapshot):
    assert type(X) is snapshot[0]
    assert X.dtype == snapshot[1]
    assert X.shape == snapshot[2]
    if sp.issparse(X):
        assert_array_equal(X.data, snapshot[3])
        assert_array_equal(X.indices, snapshot[4])
        assert_array_equal(X.indptr, snapshot[5])
    else:
        assert np.array_equal(X, snapshot[3], equal_nan=True)


def _textbook_lloyd(X, sample_weight, centers, max_iter, tol):
    """Plain weighted Lloyd iterations with scikit-learn's stopping rule.

    Stops when the labels did not change (strict convergence) or when the
    summed squared center shift is <= ``tol`` times the mean feature variance.
    After a tol stop or max_iter, labels are recomputed from the final centers.
    Empty clusters are not handled: the problems using it must not have any.

    Returns labels, centers, n_iter and the center shift of each iteration.
    """
    X = dense(X).astype(np.float64)
    n_samples = X.shape[0]
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    centers = np.array(centers, dtype=np.float64)
    n_clusters = centers.shape[0]
    tol_abs = tol * np.mean(np.var(X, axis=0))
    labels_old = None
    shifts = []
    for i in range(max_iter):
        labels = np.argmin(squared_distances(X, centers), axis=1)
        assert np.all(np.bincount(labels, minlength=n_clusters) > 0)
        new_centers = np.array(
            [
                np.average(X[labels == j], axis=0, weights=w[labels == j])
                for j in range(n_clusters)
            ]
        )
        shifts.append(np.sum((new_centers - centers) ** 2))
        centers = new_centers
        if labels_old is not None and np.array_equal(labels, labels_old):
            return labels, centers, i + 1, shifts
        if shifts[-1] <= tol_abs:
            break
        labels_old = labels
    labels = np.argmin(squared_distances(X, centers), axis=1)
    return labels, centers, i + 1, shifts


def _first_assignment_counts(X, init, sample_weight=None):
    """Weight of each cluster after assigning X to the nearest init center."""
    labels = np.argmin(squared_distances(X, init), axis=1)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    return np.bincount(labels, weights=w, minlength=len(init))


def _pick_rows_init(X, n_clusters, random_state):
    """Callable init: distinct random rows of X (works for dense and CSR)."""
    idx = random_state.choice(X.shape[0], size=n_clusters, replace=False)
    return dense(X[idx])


# ---------------------------------------------------------------------------
# 1. Equality with KMeans on generated problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # "blobs" or "noise"
    n_samples: int
    n_features: int
    n_clusters: int
    container: str = "dense"
    dtype: str = "float64"
    weights: str = "none"  # "none", "random" or "int"
    init: str = "k-means++"  # "k-means++", "random", "array" or "callable"
    n_init: object = "auto"
    max_iter: int = 300
    tol: float = 1e-4
    offset: float = 0.0
    n_blobs: int = 0  # 0: n_clusters // 2 + 1, so that blobs get split
    blob_std: float = 1.5
    seed: int = 0

    def __str__(self):
        return (
            f"{self.kind}-n{self.n_samples}-d{self.n_features}-k{self.n_clusters}"
            f"-{self.container}-{self.dtype}-w_{self.weights}-init_{self.init}"
            f"-ninit_{self.n_init}-it{self.max_iter}-tol{self.tol:g}"
            + (f"-offset{self.offset:g}" if self.offset else "")
        )

    def build(self, to_container):
        rng = np.random.RandomState(self.seed)
        n_total = self.n_samples + 50  # the last 50 rows are unseen data
        if self.kind == "blobs":
            X, _ = make_blobs(
                n_samples=n_total,
                n_features=self.n_features,
                centers=self.n_blobs or self.n_clusters // 2 + 1,
                cluster_std=self.blob_std,
                center_box=(-20.0, 20.0),
                random_state=rng,
            )
        else:
            X = rng.uniform(-5.0, 5.0, size=(n_total, self.n_features))
        X += self.offset
        if self.container != "dense":
            X[np.abs(X) < np.quantile(np.abs(X), 0.4)] = 0.0
        X = X.astype(self.dtype)
        X, X_new = X[: self.n_samples], X[self.n_samples :]

        if self.weights == "random":
            sample_weight = rng.uniform(0.2, 3.0, size=self.n_samples)
        elif self.weights == "int":
            sample_weight = rng.randint(1, 5, size=self.n_samples).astype(float)
        else:
            sample_weight = None

        if self.init == "array":
            idx = rng.choice(self.n_samples, size=self.n_clusters, replace=False)
            init = dense(X[idx]).astype(np.float64) + 0.1 * rng.normal(
                size=(self.n_clusters, self.n_features)
            )
        elif self.init == "callable":
            init = _pick_rows_init
        else:
            init = self.init

        params = dict(
            n_clusters=self.n_clusters,
            init=init,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.seed,
        )
        convert = to_container(self.container)
        return convert(X), convert(X_new), sample_weight, params


# fmt: off
PROBLEMS = [
    Problem("blobs", 50, 2, 3),
    Problem("blobs", 50, 2, 3, container="csr_matrix"),
    Problem("blobs", 200, 5, 4, dtype="float32", n_blobs=4, blob_std=0.5),
    Problem("blobs", 200, 5, 4, "csr_array", "float32", weights="random",
            n_blobs=4, blob_std=0.5),
    Problem("blobs", 500, 10, 8, weights="int"),
    Problem("blobs", 500, 10, 8, "csr_matrix", weights="int", init="random"),
    Problem("blobs", 300, 3, 5, weights="random", init="random"),
    Problem("blobs", 300, 3, 5, dtype="float32", weights="int", init="array",
            n_blobs=5, blob_std=0.5),
    Problem("blobs", 1000, 20, 10, init="array"),
    Problem("blobs", 1000, 20, 10, "csr_array", weights="random", init="callable"),
    Problem("blobs", 120, 1, 2),
    Problem("blobs", 120, 1, 3, "csr_matrix", "float32", init="random",
            n_blobs=3, blob_std=0.3),
    Problem("blobs", 80, 4, 1, weights="random"),
    Problem("blobs", 80, 4, 1, "csr_array", weights="int", init="array"),
    Problem("blobs", 2000, 50, 20),
    Problem("blobs", 2000, 50, 20, "csr_matrix", "float32", weights="random",
            n_blobs=20, blob_std=1.0),
    Problem("noise", 2000, 2, 20, tol=0.0),
    Problem("noise", 1000, 2, 8, weights="int", init="random", tol=0.0),
    Problem("noise", 1000, 5, 12, "csr_matrix", tol=0.0),
    Problem("noise", 100, 2, 3, dtype="float32", weights="random", tol=1e-6),
    Problem("noise", 400, 8, 10, "csr_array", init="array", tol=0.0, max_iter=20),
    Problem("noise", 1500, 2, 16, weights="random", init="callable", tol=1e-3),
    Problem("noise", 300, 1, 7, tol=0.0),
    Problem("noise", 500, 50, 5, weights="int", max_iter=5),
    Problem("noise", 500, 10, 5, "csr_matrix", weights="random", init="random",
            max_iter=3, tol=0.0),
    Problem("blobs", 400, 2, 6, n_init=5),
    Problem("blobs", 400, 2, 6, "csr_array", weights="int", n_init=3),
    Problem("noise", 800, 4, 9, init="random", n_init=4, tol=1e-2),
    Problem("blobs", 300, 3, 4, offset=1e3),
    Problem("blobs", 300, 3, 4, dtype="float32", weights="int", offset=100.0,
            n_blobs=4, blob_std=0.5),
    Problem("noise", 250, 2, 20, weights="random", tol=0.0),
    Problem("blobs", 60, 6, 12, init="random"),
    Problem("noise", 1200, 3, 15, "csr_array", weights="int", init="callable",
            tol=0.0),
    Problem("blobs", 700, 7, 7, dtype="float32", weights="random",
            init="callable", max_iter=10, n_blobs=7, blob_std=0.5),
    Problem("noise", 50, 2, 5, init="array", tol=0.0),
    Problem("blobs", 2000, 2, 3, dtype="float32", weights="int", tol=0.0,
            n_blobs=3, blob_std=1.0),
]
# fmt: on


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_equals_sklearn_kmeans(problem, to_container):
    X, X_new, sample_weight, params = problem.build(to_container)
    rtol = rtol_for(problem.dtype)

    km = TransformerKMeans(**params).fit(X, sample_weight=sample_weight)
    ref = _reference(**params).fit(X, sample_weight=sample_weight)

    assert_same_fit(km, ref, X, rtol)
    assert km.n_features_in_ == ref.n_features_in_
    assert_array_equal(km.predict(X), ref.labels_)
    assert_array_equal(km.predict(X_new), ref.predict(X_new))
    D, D_ref = km.transform(X_new), ref.transform(X_new)
    assert D.dtype == D_ref.dtype
    assert_distances_close(D, D_ref, X_new, rtol)
    assert km.score(X_new) == pytest.approx(
        ref.score(X_new), rel=rtol, abs=rtol * data_scale(X_new) ** 2
    )


def test_center_rounding_as_kmeans_on_a_point_halfway():
    # The means of these clusters are repeated decimals; a point lies
    # exactly halfway between two of them when each mean is the sum times
    # the reciprocal of the weight (as KMeans rounds it), not the quotient.
    X = np.repeat([-2.6, 1.8, 0.2, 1.6, -0.6, 0.8], 3)[:, None]
    params = dict(n_clusters=2, init=[[-0.6], [1.8]], n_init=1)
    km = TransformerKMeans(**params).fit(X)
    ref = _reference(**params).fit(X)
    assert (km.n_iter_, ref.n_iter_) == (3, 3)
    assert_array_equal(km.labels_, ref.labels_)
    assert km.inertia_ == pytest.approx(10.92)


def tie_heavy_problems(kind, n_problems, seed):
    """Small data on integer grids or repeated decimals, full of exact ties.

    With at least three distinct points per cluster, so that no cluster
    ends empty for lack of points (where KMeans' relocation differs by
    design, see TransformerKMeans' Notes).
    """
    rng = np.random.RandomState(seed)
    problems = []
    while len(problems) < n_problems:
        n_samples, n_features = rng.randint(20, 200), rng.randint(1, 9)
        n_clusters = rng.randint(2, 17)
        X = rng.randint(0, rng.randint(2, 10), size=(n_samples, n_features))
        X = X.astype(np.float64)
        if kind == "decimals":
            X = X * 0.1 + rng.choice([0.0, 0.3])
        if np.unique(X, axis=0).shape[0] < 3 * n_clusters:
            continue
        init = X[rng.choice(n_samples, n_clusters, replace=False)]
        if np.unique(init, axis=0).shape[0] == n_clusters:
            problems.append((X, init))
    return problems


@pytest.mark.parametrize("kind", ["integers", "decimals"])
def test_tie_heavy_data_gives_the_labels_and_iterations_of_kmeans(kind, container):
    # Which centroid wins an exact tie depends on how the score product and
    # the center means round; KMeans' choices must be ours, layer by layer.
    differing = []
    for index, (X, init) in enumerate(tie_heavy_problems(kind, 150, seed=0)):
        params = dict(n_clusters=init.shape[0], init=init, n_init=1)
        km = TransformerKMeans(**params).fit(container(X))
        ref = _reference(**params).fit(container(X))
        if km.n_iter_ != ref.n_iter_ or not np.array_equal(km.labels_, ref.labels_):
            differing.append(index)
    assert differing == []


def test_many_features_break_ties_as_kmeans(container):
    # With many features BLAS adds the score product to the bias a block of
    # features at a time, which a product followed by the bias rounds apart.
    rng = np.random.RandomState(0)
    X = rng.randint(0, 5, size=(2000, 300)).astype(np.float64)
    differing = []
    for trial in range(10):
        members = [
            rng.choice(2000, rng.randint(1, 7)) for _ in range(rng.randint(10, 20))
        ]
        init = np.array([X[rows].mean(axis=0) for rows in members])
        params = dict(n_clusters=len(init), init=init, n_init=1, max_iter=1)
        km = TransformerKMeans(**params).fit(container(X))
        ref = _reference(**params).fit(container(X))
        if not np.array_equal(km.labels_, ref.labels_):
            differing.append(trial)
    assert differing == []


def test_problems_cover_the_required_grid():
    # Guard against the problem list silently shrinking in coverage.
    assert len(PROBLEMS) >= 30
    assert {p.container for p in PROBLEMS} == {"dense", "csr_matrix", "csr_array"}
    assert {p.dtype for p in PROBLEMS} == {"float32", "float64"}
    assert {p.weights for p in PROBLEMS} == {"none", "random", "int"}
    assert {p.init for p in PROBLEMS} == {"k-means++", "random", "array", "callable"}
    assert {p.kind for p in PROBLEMS} == {"blobs", "noise"}
    assert 0.0 in {p.tol for p in PROBLEMS}
    assert {1, 20} <= {p.n_clusters for p in PROBLEMS}
    assert {1, 50} <= {p.n_features for p in PROBLEMS}
    assert len({str(p) for p in PROBLEMS}) == len(PROBLEMS)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_fit_predict_and_fit_transform_equal_sklearn(init, container, dtype):
    X, _ = make_blobs(n_samples=300, centers=4, n_features=3, random_state=1)
    X = container(X.astype(dtype))
    params = dict(n_clusters=4, init=init, random_state=7)
    rtol = rtol_for(dtype)

    labels = TransformerKMeans(**params).fit_predict(X)
    assert_array_equal(labels, _reference(**params).fit_predict(X))

    D = TransformerKMeans(**params).fit_transform(X)
    D_ref = _reference(**params).fit_transform(X)
    assert D.dtype == D_ref.dtype == dtype
    assert_distances_close(D, D_ref, X, rtol)


def test_random_state_instance_consumed_like_kmeans():
    X, _ = make_blobs(n_samples=200, centers=5, random_state=3)
    rs, rs_ref = np.random.RandomState(11), np.random.RandomState(11)

    km = TransformerKMeans(5, init="random", random_state=rs).fit(X)
    ref = _reference(n_clusters=5, init="random", random_state=rs_ref).fit(X)

    assert_same_fit(km, ref, X, 1e-10)
    # Both must have drawn the same numbers from the shared stream.
    assert rs.randint(2**31) == rs_ref.randint(2**31)


@pytest.mark.parametrize(
    "init, expected_n_init", [("k-means++", 1), ("random", 10), ("callable", 10)]
)
def test_n_init_auto_runs(init, expected_n_init):
    X = np.random.RandomState(0).uniform(size=(300, 2))
    init = _pick_rows_init if init == "callable" else init
    auto = TransformerKMeans(6, init=init, n_init="auto", random_state=0).fit(X)
    explicit = TransformerKMeans(
        6, init=init, n_init=expected_n_init, random_state=0
    ).fit(X)
    assert_same_fit(auto, explicit, X, 1e-12)


def test_init_array_with_n_init_warns_and_runs_once():
    X, _ = make_blobs(n_samples=100, centers=3, random_state=0)
    init = X[:3].copy()
    with pytest.warns(RuntimeWarning, match="init"):
        km = TransformerKMeans(3, init=init, n_init=5).fit(X)
    with pytest.warns(RuntimeWarning):
        ref = _reference(n_clusters=3, init=init, n_init=5).fit(X)
    assert_same_fit(km, ref, X, 1e-10)


# ---------------------------------------------------------------------------
# 2. Relocation of empty clusters
# ---------------------------------------------------------------------------

BLOB_CENTERS = np.array([[0.0, 0.0], [10.0, 1.0], [3.0, 12.0], [14.0, 10.0]])


def _relocation_problem(case, rng):
    """Blob data and an init array that leaves clusters empty at step one.

    Returns X (dense float64), init, sample_weight, number of empty clusters.
    """
    X, _ = make_blobs(
        n_samples=200, centers=BLOB_CENTERS, cluster_std=1.2, random_state=rng
    )
    sample_weight = None
    c = BLOB_CENTERS
    if case == "far_center":
        init = np.vstack([c[:3], [[100.0, 100.0]]])
        n_empty = 1
    elif case == "duplicate_centers":
        # the second copy loses every tie, so it is empty
        init = np.vstack([c[:3], c[2:3]])
        n_empty = 1
    elif case == "two_far_centers":
        init = np.vstack([c[:2], [[100.0, 100.0], [-80.0, 60.0]]])
        n_empty = 2
    elif case == "more_clusters_than_blobs_weighted":
        init = np.vstack([c, [[50.0, -50.0]], c[0:1]])
        sample_weight = rng.uniform(0.5, 2.0, size=X.shape[0])
        n_empty = 2
    else:
        raise ValueError(case)
    return X, init, sample_weight, n_empty


RELOCATION_CASES = [
    ("far_center", "dense", "float64"),
    ("far_center", "csr_matrix", "float64"),
    ("duplicate_centers", "csr_array", "float64"),
    ("duplicate_centers", "dense", "float32"),
    ("two_far_centers", "dense", "float64"),
    ("two_far_centers", "csr_matrix", "float64"),
    ("more_clusters_than_blobs_weighted", "dense", "float64"),
    ("more_clusters_than_blobs_weighted", "csr_array", "float32"),
]


@pytest.mark.parametrize(
    "case, container_id, dtype_name",
    RELOCATION_CASES,
    ids=["-".join(c) for c in RELOCATION_CASES],
)
def test_empty_cluster_relocation_equals_sklearn(
    case, container_id, dtype_name, to_container
):
    rng = np.random.RandomState(42)
    X, init, sample_weight, n_empty = _relocation_problem(case, rng)

    # Independent check that the problem does exercise relocation.
    counts = _first_assignment_counts(X, init, sample_weight)
    assert np.sum(counts == 0) == n_empty

    X = to_container(container_id)(X.astype(dtype_name))
    params = dict(n_clusters=init.shape[0], init=init, tol=0.0)
    km = TransformerKMeans(**params).fit(X, sample_weight=sample_weight)
    ref = _reference(**params).fit(X, sample_weight=sample_weight)

    assert_same_fit(km, ref, X, rtol_for(dtype_name))
    # Relocated centers took points: every cluster is populated at the end.
    assert len(np.unique(km.labels_)) == init.shape[0]


@pytest.mark.parametrize("case", ["far_center", "two_far_centers"])
def test_relocation_moves_empty_center_to_farthest_point(case, container):
    rng = np.random.RandomState(42)
    X, init, sample_weight, n_empty = _relocation_problem(case, rng)

    # One textbook Lloyd step with relocation: the empty clusters, in
    # increasing order, receive the points farthest from their assigned
    # center, farthest first; those points leave their old cluster.
    labels = np.argmin(squared_distances(X, init), axis=1)
    dist = np.sum((X - init[labels]) ** 2, axis=1)
    farthest = np.argsort(dist)[::-1][:n_empty]
    empty = np.flatnonzero(np.bincount(labels, minlength=len(init)) == 0)
    expected = np.empty_like(init)
    members = [np.flatnonzero(labels == j) for j in range(len(init))]
    for j, far_idx in zip(empty, farthest, strict=True):
        members[labels[far_idx]] = np.setdiff1d(members[labels[far_idx]], far_idx)
        members[j] = np.array([far_idx])
    for j in range(len(init)):
        expected[j] = X[members[j]].mean(axis=0)

    Xc = container(X)
    km = TransformerKMeans(len(init), init=init, max_iter=1).fit(Xc)
    ref = _reference(n_clusters=len(init), init=init, max_iter=1).fit(Xc)

    assert km.n_iter_ == 1
    for j, far_idx in zip(empty, farthest, strict=True):
        assert_allclose(km.cluster_centers_[j], X[far_idx], rtol=1e-12)
    assert_centers_close(km.cluster_centers_, expected, X, 1e-10)
    assert_centers_close(ref.cluster_centers_, expected, X, 1e-10)


# ---------------------------------------------------------------------------
# 3. Integer weights equal repetition
# ---------------------------------------------------------------------------


def test_weighted_vs_repeated(container, dtype):
    rng = np.random.RandomState(0)
    X, _ = make_blobs(
        n_samples=80, centers=BLOB_CENTERS, cluster_std=2.5, random_state=rng
    )
    X = X.astype(dtype)
    sample_weight = rng.randint(1, 5, size=X.shape[0])
    init = X[rng.choice(X.shape[0], size=5, replace=False)].astype(np.float64)
    # tol=0: a positive tol is scaled by the unweighted feature variance,
    # which repetition changes.
    params = dict(n_clusters=5, init=init, n_init=1, tol=0.0, max_iter=300)

    km_w = TransformerKMeans(**params).fit(
        container(X), sample_weight=sample_weight.astype(float)
    )
    X_rep = np.repeat(X, sample_weight, axis=0)
    km_r = TransformerKMeans(**params).fit(container(X_rep))

    rtol = rtol_for(dtype)
    assert km_w.n_iter_ > 2
    assert_array_equal(km_r.labels_, np.repeat(km_w.labels_, sample_weight))
    assert km_r.n_iter_ == km_w.n_iter_
    assert_centers_close(km_r.cluster_centers_, km_w.cluster_centers_, X, rtol)
    assert km_r.inertia_ == pytest.approx(km_w.inertia_, rel=rtol)
    assert km_w.score(container(X), sample_weight=sample_weight) == pytest.approx(
        km_r.score(container(X_rep)), rel=rtol
    )


# 4. k-means++ seeding with weights draws like repetition: tests/test_weights.py


# ---------------------------------------------------------------------------
# 5. Convergence
# ---------------------------------------------------------------------------


def _noise_with_row_init(n_samples=500, n_clusters=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    init = X[rng.choice(n_samples, size=n_clusters, replace=False)]
    return X, init


def test_strict_convergence_stops_when_labels_stable(container):
    X, init = _noise_with_row_init()
    labels, centers, n_iter, _ = _textbook_lloyd(X, None, init, 300, tol=0.0)
    assert 3 < n_iter < 300

    Xc = container(X)
    km = TransformerKMeans(6, init=init, tol=0.0).fit(Xc)
    ref = _reference(n_clusters=6, init=init, tol=0.0).fit(Xc)

    assert km.n_iter_ == n_iter == ref.n_iter_
    assert_array_equal(km.labels_, labels)
    assert_array_equal(km.labels_, km.predict(Xc))
    assert_centers_close(km.cluster_centers_, centers, X, 1e-10)
    assert_same_fit(km, ref, X, 1e-10)


@pytest.mark.parametrize("data_scale", [1.0, 1e3])
def test_tol_scaled_by_variance(container, data_scale):
    X, init = _noise_with_row_init()
    X, init = X * data_scale, init * data_scale
    tol = 1e-3
    _, _, n_iter_strict, _ = _textbook_lloyd(X, None, init, 300, tol=0.0)
    labels, centers, n_iter, shifts = _textbook_lloyd(X, None, init, 300, tol=tol)
    assert n_iter < n_iter_strict
    # The stopping decision is far from the threshold, so rounding cannot flip it.
    threshold = tol * np.mean(np.var(X, axis=0))
    assert np.min(np.abs(np.array(shifts) / threshold - 1)) > 1e-3

    Xc = container(X)
    km = TransformerKMeans(6, init=init, tol=tol).fit(Xc)
    ref = _reference(n_clusters=6, init=init, tol=tol).fit(Xc)

    assert km.n_iter_ == n_iter == ref.n_iter_
    assert_array_equal(km.labels_, labels)
    assert_centers_close(km.cluster_centers_, centers, X, 1e-10)
    assert_same_fit(km, ref, X, 1e-10)


@pytest.mark.parametrize("max_iter", [1, 3])
def test_max_iter_reached(container, max_iter):
    X, init = _noise_with_row_init()
    labels, centers, n_iter, _ = _textbook_lloyd(X, None, init, max_iter, tol=0.0)
    assert n_iter == max_iter

    Xc = container(X)
    km = TransformerKMeans(6, init=init, tol=0.0, max_iter=max_iter).fit(Xc)
    ref = _reference(n_clusters=6, init=init, tol=0.0, max_iter=max_iter).fit(Xc)

    assert km.n_iter_ == max_iter
    # labels_ are those of the final centers, not of the last iteration
    assert_array_equal(km.labels_, labels)
    assert_array_equal(km.labels_, km.predict(Xc))
    assert_centers_close(km.cluster_centers_, centers, X, 1e-10)
    assert_same_fit(km, ref, X, 1e-10)


# ---------------------------------------------------------------------------
# 6. Inputs are not mutated
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("init_dtype", [np.float32, np.float64])
def test_centers_not_mutated(container, dtype, init_dtype):
    X, _ = make_blobs(n_samples=100, centers=3, random_state=0)
    X = container(X.astype(dtype))
    init = np.array([[-5.0, 5.0], [0.0, 0.0], [5.0, -5.0]], dtype=init_dtype)
    init_snapshot = init.copy()

    km = TransformerKMeans(3, init=init).fit(X)
    km.predict(X)
    km.transform(X)

    assert km.init is init
    assert init.dtype == init_dtype
    assert_array_equal(init, init_snapshot)
    assert not np.shares_memory(km.cluster_centers_, init)


def test_input_not_mutated(container, dtype):
    X_dense, _ = make_blobs(n_samples=120, centers=3, n_features=3, random_state=0)
    X_dense += 20.0  # a non-zero mean, so that centring would be visible
    X = container(X_dense.astype(dtype))
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, size=X.shape[0])
    X_snapshot, w_snapshot = _snapshot(X), sample_weight.copy()

    km = TransformerKMeans(3, random_state=0)
    calls = [
        lambda: km.fit(X, sample_weight=sample_weight),
        lambda: km.predict(X),
        lambda: km.transform(X),
        lambda: km.score(X, sample_weight=sample_weight),
        lambda: km.fit_predict(X, sample_weight=sample_weight),
        lambda: km.fit_transform(X, sample_weight=sample_weight),
    ]
    for call in calls:
        call()
        assert_unchanged(X, X_snapshot)
        assert_array_equal(sample_weight, w_snapshot)


def test_input_restored_with_copy_x_false():
    X, _ = make_blobs(n_samples=120, centers=3, n_features=3, random_state=0)
    X += 20.0
    X = np.ascontiguousarray(X)
    X_orig = X.copy()

    km = TransformerKMeans(3, random_state=0, copy_x=False).fit(X)
    km_copy = TransformerKMeans(3, random_state=0, copy_x=True).fit(X_orig)

    # the documented in-place centring is undone, up to rounding
    assert_allclose(X, X_orig, rtol=0, atol=1e-12 * data_scale(X_orig))
    assert_same_fit(km, km_copy, X_orig, 1e-10)


def test_sparse_input_not_mutated_with_copy_x_false(sparse_container):
    X, _ = make_blobs(n_samples=120, centers=3, n_features=3, random_state=0)
    X = sparse_container(X + 20.0)
    snapshot = _snapshot(X)
    TransformerKMeans(3, random_state=0, copy_x=False).fit(X)
    assert_unchanged(X, snapshot)


# ---------------------------------------------------------------------------
# 7. dtypes
# ---------------------------------------------------------------------------


def test_float32_kept(container):
    X, _ = make_blobs(n_samples=100, centers=3, random_state=0)
    X32 = container(X.astype(np.float32))

    km = TransformerKMeans(3, random_state=0).fit(X32)

    assert km.cluster_centers_.dtype == np.float32
    assert km.transform(X32).dtype == np.float32
    assert km.fit_transform(X32).dtype == np.float32


@pytest.mark.parametrize("input_dtype", [np.int32, np.int64, np.float16])
def test_other_dtypes_become_float64(container, input_dtype):
    if input_dtype == np.float16 and container is not np.asarray:
        pytest.skip("scipy.sparse has no float16")
    rng = np.random.RandomState(0)
    X_int = rng.randint(-20, 20, size=(150, 3))
    X = container(X_int.astype(input_dtype))
    X64 = container(X_int.astype(np.float64))

    km = TransformerKMeans(4, random_state=0).fit(X)
    ref = _reference(n_clusters=4, random_state=0).fit(X64)

    assert km.cluster_centers_.dtype == np.float64
    assert km.transform(X).dtype == np.float64
    assert_same_fit(km, ref, X64, 1e-10)


# ---------------------------------------------------------------------------
# 8. Degenerate data: fewer distinct points than clusters
# ---------------------------------------------------------------------------


def _three_distinct_points():
    points = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    return np.repeat(points, [5, 4, 3], axis=0), points


@pytest.mark.parametrize("init", ["k-means++", "random", "duplicate_array"])
def test_fewer_distinct_points_than_clusters_warns(container, init):
    X, points = _three_distinct_points()
    if init == "duplicate_array":
        # The duplicates copy the heaviest cluster, which comes first: where
        # scikit-learn moves an unrelocatable empty center (onto that
        # cluster's center), it does not move at all, so n_iter_ is comparable.
        init = np.vstack([points, points[[0, 0]]])
    Xc = container(X)
    params = dict(n_clusters=5, init=init, random_state=0)

    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = TransformerKMeans(**params).fit(Xc)
    with pytest.warns(ConvergenceWarning):
        ref = _reference(**params).fit(Xc)

    assert np.all(np.isfinite(km.cluster_centers_))
    # scikit-learn moves unrelocatable empty centers arbitrarily: compare the
    # populated clusters only
    populated = np.unique(ref.labels_)
    assert len(populated) == 3
    assert_same_fit(km, ref, X, 1e-10, centers_of=populated)


@pytest.mark.parametrize("extra_center", [[4.0, 1.0], [30.0, -30.0]])
def test_unrelocatable_empty_cluster_keeps_its_center(container, extra_center):
    X, points = _three_distinct_points()
    init = np.vstack([points, [extra_center]])

    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = TransformerKMeans(4, init=init).fit(container(X))

    assert_array_equal(km.labels_, np.repeat([0, 1, 2], [5, 4, 3]))
    assert_allclose(km.cluster_centers_, init, rtol=0, atol=1e-12)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-20)


# ---------------------------------------------------------------------------
# 9. Integration with the scikit-learn API
# ---------------------------------------------------------------------------


def _anisotropic_blobs():
    X, y = make_blobs(n_samples=300, centers=4, cluster_std=0.6, random_state=0)
    return X * np.array([100.0, 0.01]), y


def test_pipeline_with_standard_scaler():
    X, y = _anisotropic_blobs()
    pipe = make_pipeline(StandardScaler(), TransformerKMeans(4, random_state=0))
    ref = make_pipeline(StandardScaler(), _reference(n_clusters=4, random_state=0))

    labels = pipe.fit_predict(X)
    ref_labels = ref.fit_predict(X)

    assert_array_equal(labels, ref_labels)
    assert_array_equal(pipe.predict(X), ref.predict(X))
    assert adjusted_rand_score(y, labels) > 0.9
    Xs = pipe[0].transform(X)
    assert_distances_close(pipe.transform(X), ref.transform(X), Xs, 1e-10)


def test_pipeline_as_features_for_logistic_regression():
    X, blob = make_blobs(n_samples=400, centers=6, cluster_std=0.8, random_state=2)
    y = blob % 2  # pairs of blobs: not linearly separable in general
    pipe = make_pipeline(
        TransformerKMeans(6, random_state=0), LogisticRegression(max_iter=1000)
    )
    ref = make_pipeline(
        _reference(n_clusters=6, random_state=0), LogisticRegression(max_iter=1000)
    )

    pipe.fit(X, y)
    ref.fit(X, y)

    assert_array_equal(pipe.predict(X), ref.predict(X))
    assert_allclose(pipe.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-8)
    assert pipe.score(X, y) > 0.9


def test_grid_search_default_score_equals_kmeans():
    X, _ = make_blobs(n_samples=300, centers=4, random_state=0)
    grid = {"n_clusters": [2, 3, 4, 5]}

    search = GridSearchCV(TransformerKMeans(random_state=0), grid, cv=3).fit(X)
    ref = GridSearchCV(_reference(random_state=0), grid, cv=3).fit(X)

    assert search.best_params_ == ref.best_params_
    assert_allclose(
        search.cv_results_["mean_test_score"],
        ref.cv_results_["mean_test_score"],
        rtol=1e-8,
    )
    # negative inertia can only improve with more clusters here
    assert search.best_params_ == {"n_clusters": 5}


def test_grid_search_adjusted_rand_score_finds_true_n_clusters():
    X, y = make_blobs(n_samples=300, centers=4, cluster_std=0.7, random_state=0)
    search = GridSearchCV(
        TransformerKMeans(random_state=0),
        {"n_clusters": [2, 3, 4, 5, 6]},
        scoring="adjusted_rand_score",
        cv=3,
    ).fit(X, y)

    assert search.best_params_ == {"n_clusters": 4}
    assert search.best_score_ > 0.9


def test_set_output_pandas():
    pd = pytest.importorskip("pandas")
    X, _ = make_blobs(n_samples=100, centers=3, random_state=0)
    X_df = pd.DataFrame(X, columns=["a", "b"], index=np.arange(100) + 1000)

    km = TransformerKMeans(3, random_state=0).set_output(transform="pandas")
    out = km.fit_transform(X_df)

    names = km.get_feature_names_out()
    assert len(names) == 3 and len(set(names)) == 3
    assert all(isinstance(name, str) for name in names)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(names)
    assert_array_equal(out.index, X_df.index)
    km.set_output(transform="default")
    assert_allclose(out.to_numpy(), km.transform(X_df), rtol=1e-12)


def test_feature_names_in_from_dataframe():
    pd = pytest.importorskip("pandas")
    X, _ = make_blobs(n_samples=100, centers=3, n_features=3, random_state=0)
    X_df = pd.DataFrame(X, columns=["x0", "height", "z"])

    km = TransformerKMeans(3, random_state=0).fit(X_df)

    assert_array_equal(km.feature_names_in_, ["x0", "height", "z"])
    assert km.n_features_in_ == 3
    assert_array_equal(km.predict(X_df), km.labels_)
    with pytest.raises(ValueError, match="feature names"):
        km.predict(X_df.rename(columns={"z": "w"}))
    assert not hasattr(TransformerKMeans(3, random_state=0).fit(X), "feature_names_in_")


def test_clone_refits_identically():
    X, _ = make_blobs(n_samples=150, centers=3, random_state=0)
    km = TransformerKMeans(3, init="random", random_state=4).fit(X)

    cloned = clone(km)

    assert not hasattr(cloned, "cluster_centers_")
    assert cloned.get_params() == km.get_params()
    assert_array_equal(cloned.fit(X).labels_, km.labels_)
    assert_array_equal(cloned.predict(X), km.predict(X))


@pytest.mark.parametrize("round_trip", ["pickle", "joblib"])
def test_serialization_round_trip(round_trip, tmp_path, container):
    X, _ = make_blobs(n_samples=150, centers=3, random_state=0)
    X = container(X)
    km = TransformerKMeans(3, random_state=0).fit(X)

    if round_trip == "pickle":
        loaded = pickle.loads(pickle.dumps(km))
    else:
        joblib.dump(km, tmp_path / "model.joblib")
        loaded = joblib.load(tmp_path / "model.joblib")

    assert_array_equal(loaded.predict(X), km.predict(X))
    assert_allclose(loaded.transform(X), km.transform(X), rtol=1e-12)
    assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    assert loaded.score(X) == km.score(X)


# ---------------------------------------------------------------------------
# 10. Errors
# ---------------------------------------------------------------------------


def _small_X():
    X, _ = make_blobs(n_samples=30, centers=3, random_state=0)
    return X


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "method", ["fit", "fit_predict", "fit_transform", "predict", "transform", "score"]
)
def test_non_finite_X_raises(container, bad_value, method):
    X = _small_X()
    X_bad = X.copy()
    X_bad[3, 1] = bad_value
    X_bad = container(X_bad)
    snapshot = _snapshot(X_bad)
    km = TransformerKMeans(3, random_state=0)
    if method in ("predict", "transform", "score"):
        km.fit(X)

    with pytest.raises(ValueError, match="NaN|infinity"):
        getattr(km, method)(X_bad)
    assert_unchanged(X_bad, snapshot)


def test_n_samples_less_than_n_clusters_raises(container):
    X = container(_small_X()[:3])
    snapshot = _snapshot(X)
    match = r"n_samples.*n_clusters|n_clusters.*n_samples"
    with pytest.raises(ValueError, match=match):
        TransformerKMeans(n_clusters=4).fit(X)
    assert_unchanged(X, snapshot)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_wrong_number_of_features_raises(container, method):
    X = _small_X()
    km = TransformerKMeans(3, random_state=0).fit(container(X))
    X_wide = container(np.hstack([X, X[:, :1]]))
    snapshot = _snapshot(X_wide)
    with pytest.raises(ValueError, match="features"):
        getattr(km, method)(X_wide)
    assert_unchanged(X_wide, snapshot)


@pytest.mark.parametrize(
    "weights, match",
    [
        ("negative", r"(?i)negative|weight"),
        ("nan", r"(?i)NaN|weight"),
        ("inf", r"(?i)inf|weight"),
        ("all_zero", r"(?i)zero|weight"),
        ("wrong_length", r"(?i)shape|weight|length"),
    ],
)
def test_invalid_sample_weight_raises(container, weights, match):
    X = container(_small_X())
    n = X.shape[0]
    sample_weight = {
        "negative": np.r_[-1.0, np.ones(n - 1)],
        "nan": np.r_[np.nan, np.ones(n - 1)],
        "inf": np.r_[np.inf, np.ones(n - 1)],
        "all_zero": np.zeros(n),
        "wrong_length": np.ones(n + 1),
    }[weights]
    X_snapshot, w_snapshot = _snapshot(X), sample_weight.copy()
    # an explicit init, so that no weighted random draw can raise instead
    init = dense(X[:3])

    with pytest.raises(ValueError, match=match):
        TransformerKMeans(3, init=init).fit(X, sample_weight=sample_weight)
    assert_unchanged(X, X_snapshot)
    assert np.array_equal(sample_weight, w_snapshot, equal_nan=True)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_not_fitted_raises(method):
    with pytest.raises(NotFittedError):
        getattr(TransformerKMeans(3), method)(_small_X())


@pytest.mark.parametrize(
    "init_shape, match",
    [((2, 2), r"shape|2|3"), ((4, 2), r"shape|4|3"), ((3, 3), r"shape|feature")],
    ids=["too_few_clusters", "too_many_clusters", "wrong_n_features"],
)
@pytest.mark.parametrize("as_callable", [False, True], ids=["array", "callable"])
def test_init_wrong_shape_raises(container, init_shape, match, as_callable):
    X = container(_small_X())
    init = np.ones(init_shape)
    init_snapshot, X_snapshot = init.copy(), _snapshot(X)
    init_param = (lambda X, n_clusters, random_state: init) if as_callable else init

    with pytest.raises(ValueError, match=match):
        TransformerKMeans(3, init=init_param, n_init=1).fit(X)
    assert_array_equal(init, init_snapshot)
    assert_unchanged(X, X_snapshot)


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_clusters", 0),
        ("n_clusters", -2),
        ("n_clusters", 2.5),
        ("max_iter", 0),
        ("tol", -1),
        ("init", "bogus"),
        ("n_init", 0),
        ("n_init", "bogus"),
        ("copy_x", "yes"),
    ],
)
def test_invalid_parameter_raises(param, value):
    X = _small_X()
    X_snapshot = _snapshot(X)
    km = TransformerKMeans(**{param: value})
    with pytest.raises(InvalidParameterError, match=re.escape(f"'{param}'")):
        km.fit(X)
    assert_unchanged(X, X_snapshot)
    # the reference agrees that the value is invalid
    with pytest.raises(InvalidParameterError):
        _reference(**{param: value}).fit(X)


# ---------------------------------------------------------------------------
# 11. verbose
# ---------------------------------------------------------------------------


def test_verbose_prints_per_iteration_and_keeps_result(capsys, container):
    X, init = _noise_with_row_init()
    X = container(X)
    quiet = TransformerKMeans(6, init=init, tol=0.0, verbose=0).fit(X)
    assert capsys.readouterr().out == ""

    loud = TransformerKMeans(6, init=init, tol=0.0, verbose=1).fit(X)
    out = capsys.readouterr().out

    assert loud.n_iter_ > 3
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) >= loud.n_iter_
    assert_same_fit(loud, quiet, X, 1e-12)


@pytest.mark.parametrize("tol", [0.0, 1e-2])
def test_verbose_prints_the_lines_kmeans_prints(capsys, container, tol):
    X, init = _noise_with_row_init()
    params = dict(n_clusters=6, init=init, n_init=1, tol=tol, verbose=1)
    _reference(**params).fit(container(X))
    theirs = capsys.readouterr().out.splitlines()
    TransformerKMeans(**params).fit(container(X))
    ours = capsys.readouterr().out.splitlines()

    number = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
    assert [number.sub("#", line) for line in ours] == [
        number.sub("#", line) for line in theirs
    ]
    assert ours[0] == "Initialization complete"
    assert ours[-1].startswith("Converged at iteration")
    inertias = [
        [float(line.split()[-1].rstrip(".")) for line in lines if "inertia" in line]
        for lines in (ours, theirs)
    ]
    assert_allclose(inertias[0], inertias[1], rtol=1e-10)


def test_algorithm_takes_kmeans_values_and_gives_lloyds_result():
    X, init = _noise_with_row_init()
    kmeans_params = KMeans(6, init=init, n_init=1).get_params()
    lloyd = TransformerKMeans(**kmeans_params).fit(X)
    elkan = TransformerKMeans(**{**kmeans_params, "algorithm": "elkan"}).fit(X)
    assert lloyd.algorithm == "lloyd"
    assert_array_equal(elkan.labels_, lloyd.labels_)
    assert_array_equal(elkan.cluster_centers_, lloyd.cluster_centers_)
    assert elkan.n_iter_ == lloyd.n_iter_
    with pytest.raises(InvalidParameterError, match="algorithm"):
        TransformerKMeans(algorithm="full").fit(X)


def test_fewer_distinct_clusters_warning_points_at_the_caller():
    X, points = _three_distinct_points()
    with pytest.warns(ConvergenceWarning, match="distinct clusters") as caught:
        TransformerKMeans(4, init=np.vstack([points, [[4.0, 1.0]]])).fit(X)
    assert {w.filename for w in caught} == {__file__}
