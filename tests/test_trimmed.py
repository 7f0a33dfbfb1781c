"""Tests for TransformerTrimmedKMeans.

The reference for every numerical result is a plain numpy trimmed k-means
(Cuesta-Albertos, Gordaliza and Matran's concentration steps, with the
package's stopping rule) written below.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.utils._testing import assert_allclose, assert_array_equal

from sklearn_kmt import TransformerKMeans, TransformerTrimmedKMeans
from sklearn_kmt._network import Network

from _references import (
    assert_centers_close,
    data_scale,
    dense,
    rtol_for,
    squared_distances,
)

# ---------------------------------------------------------------------------
# Reference computations and assertions
# ---------------------------------------------------------------------------


def _kept(d, w, trim_fraction):
    """Keep all but the longest farthest-first prefix within the weight budget.

    Ties in distance are trimmed in order of the sample index.
    """
    farthest_first = np.argsort(-d, kind="stable")
    cumulative = np.cumsum(w[farthest_first])
    n_trimmed = int(np.sum(cumulative <= trim_fraction * w.sum()))
    kept = np.ones(d.shape[0], dtype=bool)
    kept[farthest_first[:n_trimmed]] = False
    return kept


def _concentration(X, w, centers, trim_fraction):
    """Nearest center of each point, -1 for the trimmed ones, and distances."""
    D = squared_distances(X, centers)
    labels = np.argmin(D, axis=1)
    d = D[np.arange(D.shape[0]), labels]
    return np.where(_kept(d, w, trim_fraction), labels, -1), d


@dataclass
class TrimmedResult:
    labels: np.ndarray
    centers: np.ndarray
    n_iter: int
    inertia: float
    radius: float
    shifts: list
    tol_abs: float


def _textbook_trimmed_kmeans(
    X, sample_weight, init, trim_fraction, max_iter, tol, allow_empty=False
):
    """Trimmed k-means from its definition, with the package's stopping rule.

    Each iteration is one concentration step. Stops when the labels (-1
    included) did not change or the summed squared center shift is <= ``tol``
    times the mean feature variance of the points that trimming keeps around
    the data mean (so that outliers do not loosen it). An empty cluster keeps
    its center when ``allow_empty``; otherwise it fails the reference.
    """
    X = dense(X).astype(np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    centers = np.array(init, dtype=np.float64)
    around_mean = _kept(((X - X.mean(axis=0)) ** 2).sum(axis=1), w, trim_fraction)
    tol_abs = tol * np.mean(np.var(X[around_mean], axis=0))
    previous, strict, shifts = None, False, []
    for _ in range(max_iter):
        labels, _ = _concentration(X, w, centers, trim_fraction)
        new_centers = centers.copy()
        for j in range(centers.shape[0]):
            members = labels == j
            if w[members].sum() > 0:
                new_centers[j] = np.average(X[members], axis=0, weights=w[members])
            else:
                assert allow_empty, f"cluster {j} is empty"
        shifts.append(float(np.sum((new_centers - centers) ** 2)))
        centers = new_centers
        if previous is not None and np.array_equal(labels, previous):
            strict = True
            break
        if shifts[-1] <= tol_abs:
            break
        previous = labels
    if not strict:
        labels, _ = _concentration(X, w, centers, trim_fraction)
    d = np.min(squared_distances(X, centers), axis=1)
    kept = labels >= 0
    return TrimmedResult(
        labels=labels,
        centers=centers,
        n_iter=len(shifts),
        inertia=float(w[kept] @ d[kept]),
        radius=float(np.sqrt(d[kept].max())),
        shifts=shifts,
        tol_abs=tol_abs,
    )


def _blobs_with_outliers(
    n_inliers, n_blobs, n_features, box_factor, seed, outlier_share=0.1
):
    """Gaussian blobs (centers in a box of side 20) and uniform outliers.

    The outliers are ``outlier_share`` of all samples, spread uniformly over
    a box ``box_factor`` times larger than the blobs' box. Returns X and the
    true labels, -1 for the outliers.
    """
    rng = np.random.RandomState(seed)
    X, y = make_blobs(
        n_samples=n_inliers,
        centers=n_blobs,
        n_features=n_features,
        cluster_std=1.0,
        center_box=(-10.0, 10.0),
        random_state=rng,
    )
    n_outliers = round(n_inliers * outlier_share / (1 - outlier_share))
    half_side = 10.0 * box_factor
    outliers = rng.uniform(-half_side, half_side, size=(n_outliers, n_features))
    return np.vstack([X, outliers]), np.r_[y, np.full(n_outliers, -1)]


# ---------------------------------------------------------------------------
# 1. Equality with textbook trimmed k-means on generated problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # "outliers" or "noise"
    n_samples: int
    n_features: int
    n_clusters: int
    trim_fraction: float
    container: str = "dense"
    dtype: str = "float64"
    weights: str = "none"  # "none", "random" or "int"
    max_iter: int = 300
    tol: float = 1e-4
    seed: int = 0

    def __str__(self):
        return (
            f"{self.kind}-n{self.n_samples}-d{self.n_features}-k{self.n_clusters}"
            f"-trim{self.trim_fraction:g}-{self.container}-{self.dtype}"
            f"-w_{self.weights}-it{self.max_iter}-tol{self.tol:g}-seed{self.seed}"
        )

    def build(self, to_container):
        rng = np.random.RandomState(self.seed)
        if self.kind == "outliers":
            X, y = _blobs_with_outliers(
                round(self.n_samples * 0.9),
                self.n_clusters,
                self.n_features,
                box_factor=5.0,
                seed=self.seed,
            )
            X, y = X[: self.n_samples], y[: self.n_samples]
            init = np.array([X[y == j].mean(axis=0) for j in range(self.n_clusters)])
            init += rng.normal(scale=1.0, size=init.shape)
        else:
            X = rng.uniform(-5.0, 5.0, size=(self.n_samples, self.n_features))
            idx = rng.choice(self.n_samples, size=self.n_clusters, replace=False)
            init = X[idx] + 0.1 * rng.normal(size=(self.n_clusters, self.n_features))
        if self.container != "dense":
            X[np.abs(X) < np.quantile(np.abs(X), 0.2)] = 0.0
        X = X.astype(self.dtype)
        if self.weights == "random":
            sample_weight = rng.uniform(0.2, 3.0, size=self.n_samples)
        elif self.weights == "int":
            sample_weight = rng.randint(1, 5, size=self.n_samples).astype(float)
        else:
            sample_weight = None
        params = dict(
            n_clusters=self.n_clusters,
            trim_fraction=self.trim_fraction,
            init=init,
            max_iter=self.max_iter,
            tol=self.tol,
        )
        return to_container(self.container)(X), sample_weight, params


# fmt: off
PROBLEMS = [
    Problem("outliers", 200, 2, 3, 0.1),
    Problem("outliers", 200, 2, 3, 0.1, container="csr_matrix"),
    Problem("outliers", 300, 3, 4, 0.15, weights="random", seed=1),
    Problem("outliers", 300, 3, 4, 0.15, container="csr_array", weights="random",
            seed=1),
    Problem("outliers", 500, 5, 5, 0.1, weights="int", seed=2),
    Problem("outliers", 500, 5, 5, 0.1, container="csr_matrix", weights="int",
            seed=2),
    Problem("outliers", 250, 2, 3, 0.2, dtype="float32", seed=3),
    Problem("outliers", 250, 2, 3, 0.2, container="csr_array", dtype="float32",
            weights="random", seed=3),
    Problem("noise", 400, 2, 6, 0.1, tol=0.0, seed=4),
    Problem("noise", 400, 2, 6, 0.1, container="csr_matrix", tol=0.0, seed=4),
    Problem("noise", 300, 3, 4, 0.3, weights="random", tol=0.0, seed=5),
    Problem("noise", 300, 3, 4, 0.05, weights="int", tol=1e-2, seed=6),
    Problem("noise", 500, 2, 8, 0.25, container="csr_array", tol=0.0,
            max_iter=5, seed=7),
    Problem("outliers", 1000, 4, 3, 0.1, weights="random", tol=1e-6, seed=8),
    Problem("outliers", 150, 1, 2, 0.1, seed=9),
    Problem("noise", 200, 1, 3, 0.5, tol=0.0, seed=10),
    Problem("outliers", 400, 10, 6, 0.1, container="csr_matrix", dtype="float32",
            weights="int", seed=11),
    Problem("noise", 350, 5, 5, 0.12, dtype="float32", weights="random", tol=0.0,
            max_iter=8, seed=12),
    Problem("outliers", 300, 3, 1, 0.1, weights="random", seed=13),
    Problem("noise", 600, 2, 10, 0.02, container="csr_array", weights="int",
            tol=0.0, seed=14),
    Problem("outliers", 800, 2, 4, 0.1, tol=1e-3, seed=15),
    Problem("noise", 450, 4, 7, 0.4, container="csr_matrix", weights="random",
            tol=0.0, seed=16),
]
# fmt: on


def _check_problem_is_informative(ref, problem):
    """Guard: some points are trimmed and the stop is unambiguous."""
    assert np.any(ref.labels == -1)
    if problem.tol > 0:
        margin = 1e-6 if problem.dtype == "float64" else 0.05
        ratios = np.array(ref.shifts) / ref.tol_abs
        assert np.min(np.abs(ratios - 1)) > margin


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_equals_textbook_trimmed_kmeans(problem, to_container):
    X, sample_weight, params = problem.build(to_container)
    ref = _textbook_trimmed_kmeans(
        X,
        sample_weight,
        params["init"],
        problem.trim_fraction,
        problem.max_iter,
        problem.tol,
    )
    _check_problem_is_informative(ref, problem)

    est = TransformerTrimmedKMeans(**params).fit(X, sample_weight=sample_weight)

    rtol = rtol_for(problem.dtype)
    assert est.cluster_centers_.dtype == np.dtype(problem.dtype)
    assert est.n_iter_ == ref.n_iter
    assert_array_equal(est.labels_, ref.labels)
    assert_centers_close(est.cluster_centers_, ref.centers, X, rtol)
    scale2 = data_scale(X) ** 2
    assert est.inertia_ == pytest.approx(ref.inertia, rel=rtol, abs=rtol * scale2)
    assert est.radius_ == pytest.approx(ref.radius, rel=rtol, abs=rtol * data_scale(X))


def test_problems_cover_the_required_grid():
    assert len(PROBLEMS) >= 20
    assert {p.container for p in PROBLEMS} == {"dense", "csr_matrix", "csr_array"}
    assert {p.dtype for p in PROBLEMS} == {"float32", "float64"}
    assert {p.weights for p in PROBLEMS} == {"none", "random", "int"}
    assert 0.0 in {p.tol for p in PROBLEMS}
    assert len({p.trim_fraction for p in PROBLEMS}) >= 5
    assert len({str(p) for p in PROBLEMS}) == len(PROBLEMS)


# ---------------------------------------------------------------------------
# 2. How much is trimmed
# ---------------------------------------------------------------------------


def _floor_of_the_fraction(trim_fraction, n_samples):
    """floor(trim_fraction * n_samples) in the decimal the user wrote: the
    float product rounds 0.29 * 100 to 28.999999999999996."""
    return math.floor(Fraction(repr(trim_fraction)) * n_samples)


@pytest.mark.parametrize("n_samples", [50, 100, 101, 333])
@pytest.mark.parametrize("trim_fraction", [0.01, 0.1, 0.29, 0.5, 0.7])
def test_unit_weights_trim_floor_of_the_fraction(n_samples, trim_fraction):
    X = np.random.RandomState(n_samples).uniform(-5.0, 5.0, size=(n_samples, 2))

    est = TransformerTrimmedKMeans(3, trim_fraction=trim_fraction, random_state=0).fit(
        X
    )

    n_trimmed = _floor_of_the_fraction(trim_fraction, n_samples)
    assert np.sum(est.labels_ == -1) == n_trimmed
    # the trimmed points are the farthest ones from their nearest center
    d = np.min(squared_distances(X, est.cluster_centers_), axis=1)
    if 0 < n_trimmed:
        assert d[est.labels_ == -1].min() >= d[est.labels_ >= 0].max()


@pytest.mark.parametrize("trim_fraction", [0.29, 0.3, 0.7])
@pytest.mark.parametrize("factor", [0.1, 1e-3, 3.0, 7.7])
def test_a_constant_factor_on_the_weights_trims_the_same_samples(
    trim_fraction, factor, container
):
    X = np.random.RandomState(1).uniform(-5.0, 5.0, size=(100, 2))
    init = X[:3]
    params = dict(n_clusters=3, trim_fraction=trim_fraction, init=init, n_init=1)
    unit = TransformerTrimmedKMeans(**params).fit(container(X))
    scaled = TransformerTrimmedKMeans(**params).fit(
        container(X), sample_weight=np.full(100, factor)
    )
    assert np.sum(unit.labels_ == -1) == _floor_of_the_fraction(trim_fraction, 100)
    assert_array_equal(scaled.labels_, unit.labels_)


@pytest.mark.parametrize(
    "trim_fraction, n_clusters, sample_weight, match",
    [
        (
            0.75,
            4,
            None,
            "trim_fraction=0.75 keeps 3 of the 10 samples, fewer than n_clusters=4",
        ),
        (0.6, 4, None, None),  # keeps exactly 4
        (0.5, 6, np.r_[np.full(5, 0.1), np.ones(5)], "keeps as few as 3 of the 10"),
    ],
)
def test_fewer_kept_samples_than_clusters_raise(
    trim_fraction, n_clusters, sample_weight, match, monkeypatch
):
    X = np.random.RandomState(0).uniform(size=(10, 2))
    estimator = TransformerTrimmedKMeans(n_clusters, trim_fraction=trim_fraction)
    if match is None:
        estimator.fit(X, sample_weight=sample_weight)
        assert np.count_nonzero(estimator.labels_ >= 0) == 4
        return

    def refuse(*args, **kwargs):
        raise AssertionError("a layer ran before the input was refused")

    monkeypatch.setattr(Network, "_run", refuse)
    with pytest.raises(ValueError, match=match):
        estimator.fit(X, sample_weight=sample_weight)


def _line_with_weighted_outliers():
    """20 unit-weight points near 0 and three far points of weights 1, 2, 3.

    Whatever the center among the near points, the far points are the
    farthest, the heaviest first: at 300 (weight 3), -200 (2), 100 (1).
    """
    rng = np.random.RandomState(0)
    X = np.r_[rng.uniform(-1.0, 1.0, size=20), 300.0, -200.0, 100.0][:, None]
    sample_weight = np.r_[np.ones(20), 3.0, 2.0, 1.0]
    return X, sample_weight


@pytest.mark.parametrize(
    "trim_fraction, expected_trimmed",
    [
        # budget 0.1 * 26 = 2.6: the farthest point alone weighs 3, so the
        # longest fitting prefix is empty; the lighter points behind it are
        # not trimmed out of turn
        (0.1, []),
        (0.2, [20, 21]),  # budget 5.2: 3 + 2 fit, + 1 does not
        (0.24, [20, 21, 22]),  # budget 6.24: 3 + 2 + 1 fit exactly
    ],
)
def test_weighted_trimming_takes_the_longest_prefix_within_the_budget(
    container, trim_fraction, expected_trimmed
):
    X, sample_weight = _line_with_weighted_outliers()

    est = TransformerTrimmedKMeans(
        1, trim_fraction=trim_fraction, init=[[0.0]], tol=0.0
    ).fit(container(X), sample_weight=sample_weight)

    assert_array_equal(np.flatnonzero(est.labels_ == -1), expected_trimmed)
    kept = est.labels_ == 0
    expected_center = np.average(X[kept], axis=0, weights=sample_weight[kept])
    assert_allclose(est.cluster_centers_[0], expected_center, rtol=1e-12)


def test_weighted_trimming_with_a_core_point_in_the_budget(container):
    X, sample_weight = _line_with_weighted_outliers()

    # budget 0.3 * 26 = 7.8: the three far points (6) and one near point (7)
    est = TransformerTrimmedKMeans(1, trim_fraction=0.3, init=[[0.0]], tol=0.0).fit(
        container(X), sample_weight=sample_weight
    )

    trimmed = np.flatnonzero(est.labels_ == -1)
    assert len(trimmed) == 4
    assert {20, 21, 22} < set(trimmed)
    near = trimmed[trimmed < 20][0]
    d = np.abs(X[:20, 0] - est.cluster_centers_[0, 0])
    assert near == np.argmax(d)


def test_ties_in_distance_trim_the_lower_index_first(container):
    # 10 (index 5) and -10 (index 6) tie at the init 0 and one point is
    # trimmed: trimming 10 moves the center towards -10, which leaves 10 the
    # farthest at the end; trimming -10 would end with -10 trimmed instead.
    X = np.array([-1.0, 0.0, 1.0, -0.5, 0.5, 10.0, -10.0, 0.25, -0.25, 0.1, -0.1])
    X = X[:, None]

    est = TransformerTrimmedKMeans(1, trim_fraction=0.1, init=[[0.0]], max_iter=1).fit(
        container(X)
    )

    assert_array_equal(np.flatnonzero(est.labels_ == -1), [5])
    assert_allclose(est.cluster_centers_[0], np.delete(X, 5, axis=0).mean(axis=0))


# ---------------------------------------------------------------------------
# 3. trim_fraction=0 is k-means
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["array", "random"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_zero_trim_fraction_equals_kmeans(container, dtype, init, weighted):
    rng = np.random.RandomState(0)
    X, _ = make_blobs(n_samples=300, centers=4, n_features=3, random_state=0)
    X = X.astype(dtype)
    sample_weight = rng.uniform(0.5, 2.0, size=300) if weighted else None
    if init == "array":
        init = X[rng.choice(300, size=5, replace=False)].astype(np.float64)
    params = dict(n_clusters=5, init=init, random_state=3)
    Xc = container(X)

    trimmed = TransformerTrimmedKMeans(trim_fraction=0.0, **params).fit(
        Xc, sample_weight=sample_weight
    )
    kmeans = TransformerKMeans(**params).fit(Xc, sample_weight=sample_weight)

    assert not np.any(trimmed.labels_ == -1)
    assert_array_equal(trimmed.labels_, kmeans.labels_)
    assert trimmed.n_iter_ == kmeans.n_iter_
    assert_centers_close(trimmed.cluster_centers_, kmeans.cluster_centers_, X, 1e-12)
    assert trimmed.inertia_ == pytest.approx(kmeans.inertia_, rel=1e-12)


# ---------------------------------------------------------------------------
# 4. predict is an outlier detector
# ---------------------------------------------------------------------------


def _fitted_on_outlier_data(container):
    X, _ = _blobs_with_outliers(270, 3, 2, box_factor=5.0, seed=0)
    est = TransformerTrimmedKMeans(3, trim_fraction=0.1, random_state=0).fit(
        container(X)
    )
    return X, est


def test_radius_is_the_distance_of_the_farthest_kept_point(container):
    X, est = _fitted_on_outlier_data(container)

    d = np.sqrt(np.min(squared_distances(X, est.cluster_centers_), axis=1))

    assert est.radius_ == pytest.approx(d[est.labels_ >= 0].max(), rel=1e-10)
    assert np.all(d[est.labels_ == -1] >= est.radius_ * (1 - 1e-10))


def test_predict_on_training_data_gives_labels(container):
    X, est = _fitted_on_outlier_data(container)
    d = np.sqrt(np.min(squared_distances(X, est.cluster_centers_), axis=1))
    # rounding may flip a point that lies on the trimming radius itself
    clear = np.abs(d - est.radius_) > 1e-9 * est.radius_
    assert np.sum(~clear) <= 1

    labels = est.predict(container(X))

    assert_array_equal(labels[clear], est.labels_[clear])


def test_predict_gives_minus_one_beyond_the_radius(container):
    X, est = _fitted_on_outlier_data(container)
    rng = np.random.RandomState(1)
    X_new = np.vstack(
        [
            est.cluster_centers_ + rng.normal(scale=0.5, size=(3, 2)),
            rng.uniform(-60.0, 60.0, size=(200, 2)),
        ]
    )
    D = squared_distances(X_new, est.cluster_centers_)
    d = np.sqrt(D.min(axis=1))
    expected = np.where(d > est.radius_, -1, D.argmin(axis=1))
    clear = np.abs(d - est.radius_) > 1e-9 * est.radius_

    labels = est.predict(container(X_new))

    assert np.sum(expected == -1) > 50 and np.sum(expected >= 0) >= 3
    assert_array_equal(labels[clear], expected[clear])


# ---------------------------------------------------------------------------
# 5. The trimmed criterion decreases
# ---------------------------------------------------------------------------


def _criteria_after_each_layer(X, init, trim_fraction, sample_weight, n_layers):
    criteria = []
    for max_iter in range(1, n_layers + 1):
        est = TransformerTrimmedKMeans(
            init.shape[0],
            trim_fraction=trim_fraction,
            init=init,
            max_iter=max_iter,
            tol=0.0,
        ).fit(X, sample_weight=sample_weight)
        criteria.append(est.inertia_)
    return np.array(criteria)


@pytest.mark.parametrize("trim_fraction", [0.05, 0.2, 0.4])
def test_trimmed_criterion_never_increases_layer_after_layer(container, trim_fraction):
    rng = np.random.RandomState(0)
    X = rng.uniform(-5.0, 5.0, size=(300, 2))
    init = X[rng.choice(300, size=6, replace=False)]

    criteria = _criteria_after_each_layer(container(X), init, trim_fraction, None, 15)

    labels, d = _concentration(X, np.ones(300), init, trim_fraction)
    at_init = d[labels >= 0].sum()
    steps = np.diff(np.r_[at_init, criteria])
    assert np.all(steps <= 1e-12 * at_init)
    assert criteria[-1] < 0.9 * at_init


# ---------------------------------------------------------------------------
# 6. The default seeding ignores the outliers
# ---------------------------------------------------------------------------


# (n_inliers, n_blobs, n_features, box_factor, seed): Gaussian blobs with
# unit standard deviation and centers in [-10, 10]^d, plus 10% of all
# samples as uniform outliers over a box box_factor times larger.
OUTLIER_DATA_SETS = [
    (900, 3, 2, 30.0, 0),
    (900, 4, 3, 20.0, 1),
    (1350, 5, 5, 50.0, 2),
    (900, 5, 2, 25.0, 4),
]


def _best_of_random_restarts(X, n_clusters, trim_fraction, n_restarts, seed):
    """Lowest trimmed criterion of textbook runs from random data points."""
    rng = np.random.RandomState(seed)
    best = np.inf
    for _ in range(n_restarts):
        init = X[rng.choice(X.shape[0], size=n_clusters, replace=False)]
        result = _textbook_trimmed_kmeans(
            X, None, init, trim_fraction, 300, 0.0, allow_empty=True
        )
        best = min(best, result.inertia)
    return best


@pytest.mark.parametrize(
    "data_set", OUTLIER_DATA_SETS, ids=lambda s: "n{}-k{}-d{}-box{:g}-seed{}".format(*s)
)
def test_default_seeding_reaches_the_best_of_100_restarts(data_set):
    n_inliers, n_blobs, n_features, box_factor, seed = data_set
    X, _ = _blobs_with_outliers(n_inliers, n_blobs, n_features, box_factor, seed)
    best = _best_of_random_restarts(X, n_blobs, 0.1, 100, seed)

    ratios = {}
    for random_state in range(5):
        est = TransformerTrimmedKMeans(n_blobs, random_state=random_state).fit(X)
        ratios[random_state] = est.inertia_ / best

    assert max(ratios.values()) <= 1.01, f"inertia / best of 100: {ratios}"


# ---------------------------------------------------------------------------
# 7. Model selection
# ---------------------------------------------------------------------------


def test_grid_search_over_trim_fraction():
    X, y = _blobs_with_outliers(450, 3, 2, box_factor=20.0, seed=3)
    order = np.random.RandomState(0).permutation(X.shape[0])
    X, y = X[order], y[order]

    search = GridSearchCV(
        TransformerTrimmedKMeans(3, random_state=0),
        {"trim_fraction": [0.0, 0.1, 0.3]},
        scoring="adjusted_rand_score",
        cv=3,
    ).fit(X, y)

    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_params_ == {"trim_fraction": 0.1}
    assert search.best_score_ > 0.8
    assert_array_equal(np.unique(search.predict(X)), [-1, 0, 1, 2])
