"""Tests for TransformerSoftKMeans.

The reference for every numerical result is a plain numpy soft k-means
(MacKay's, with the package's stopping rule) written below.
"""

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._testing import assert_allclose, assert_array_equal

from sklearn_kmt import TransformerKMeans, TransformerSoftKMeans

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


def _log_responsibilities(D, beta):
    scores = -0.5 * beta * D
    return scores - logsumexp(scores, axis=1, keepdims=True)


@dataclass
class SoftResult:
    labels: np.ndarray
    centers: np.ndarray
    n_iter: int
    responsibilities: np.ndarray
    inertia: float
    free_energy: float
    shifts: list
    tol_abs: float


def _textbook_soft_kmeans(X, sample_weight, init, beta, max_iter, tol):
    """Soft k-means from its definition, stopped on the scaled center shift."""
    X = dense(X).astype(np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    centers = np.array(init, dtype=np.float64)
    tol_abs = tol * np.mean(np.var(X, axis=0))
    shifts = []
    for _ in range(max_iter):
        r = np.exp(_log_responsibilities(squared_distances(X, centers), beta))
        mass = r.T @ w
        assert np.all(mass > 0), "a responsibility column underflowed"
        new_centers = (r * w[:, None]).T @ X / mass[:, None]
        shifts.append(float(np.sum((new_centers - centers) ** 2)))
        centers = new_centers
        if shifts[-1] <= tol_abs:
            break
    D = squared_distances(X, centers)
    log_r = _log_responsibilities(D, beta)
    labels = np.argmax(log_r, axis=1)
    return SoftResult(
        labels=labels,
        centers=centers,
        n_iter=len(shifts),
        responsibilities=np.exp(log_r),
        inertia=float(w @ D[np.arange(len(X)), labels]),
        free_energy=float(-(w @ logsumexp(-0.5 * beta * D, axis=1)) / beta),
        shifts=shifts,
        tol_abs=tol_abs,
    )


def _free_energy(X, centers, beta, sample_weight=None):
    D = squared_distances(X, centers)
    w = np.ones(D.shape[0]) if sample_weight is None else sample_weight
    return float(-(w @ logsumexp(-0.5 * beta * D, axis=1)) / beta)


# ---------------------------------------------------------------------------
# 1. Equality with textbook soft k-means on generated problems
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # "blobs" or "noise"
    n_samples: int
    n_features: int
    n_clusters: int
    beta: float
    container: str = "dense"
    dtype: str = "float64"
    weights: str = "none"  # "none", "random" or "int"
    max_iter: int = 300
    tol: float = 1e-4
    seed: int = 0

    def __str__(self):
        return (
            f"{self.kind}-n{self.n_samples}-d{self.n_features}-k{self.n_clusters}"
            f"-beta{self.beta:g}-{self.container}-{self.dtype}-w_{self.weights}"
            f"-it{self.max_iter}-tol{self.tol:g}-seed{self.seed}"
        )

    def build(self, to_container):
        rng = np.random.RandomState(self.seed)
        n_total = self.n_samples + 40  # the last rows are unseen data
        if self.kind == "blobs":
            X, _ = make_blobs(
                n_samples=n_total,
                n_features=self.n_features,
                centers=self.n_clusters,
                cluster_std=1.5,
                center_box=(-6.0, 6.0),
                random_state=rng,
            )
        else:
            X = rng.uniform(-4.0, 4.0, size=(n_total, self.n_features))
        if self.container != "dense":
            X[np.abs(X) < np.quantile(np.abs(X), 0.3)] = 0.0
        X = X.astype(self.dtype)
        X, X_new = X[: self.n_samples], X[self.n_samples :]
        if self.weights == "random":
            sample_weight = rng.uniform(0.2, 3.0, size=self.n_samples)
        elif self.weights == "int":
            sample_weight = rng.randint(1, 5, size=self.n_samples).astype(float)
        else:
            sample_weight = None
        idx = rng.choice(self.n_samples, size=self.n_clusters, replace=False)
        init = dense(X[idx]).astype(np.float64) + 0.3 * rng.normal(
            size=(self.n_clusters, self.n_features)
        )
        params = dict(
            n_clusters=self.n_clusters,
            beta=self.beta,
            init=init,
            max_iter=self.max_iter,
            tol=self.tol,
        )
        convert = to_container(self.container)
        return convert(X), convert(X_new), sample_weight, params


# fmt: off
PROBLEMS = [
    Problem("blobs", 200, 2, 3, beta=1.0),
    Problem("blobs", 200, 2, 3, beta=1.0, container="csr_matrix"),
    Problem("blobs", 300, 3, 4, beta=0.5, weights="random"),
    Problem("blobs", 300, 3, 4, beta=0.5, container="csr_array", weights="random"),
    Problem("blobs", 400, 5, 5, beta=0.15, weights="int", seed=1),
    Problem("blobs", 400, 5, 5, beta=0.15, container="csr_matrix", weights="int",
            seed=1),
    Problem("blobs", 250, 2, 4, beta=2.0, dtype="float32"),
    Problem("blobs", 250, 2, 4, beta=2.0, container="csr_array", dtype="float32",
            weights="random"),
    Problem("noise", 300, 2, 4, beta=1.0, tol=0.0, max_iter=25),
    Problem("noise", 300, 2, 4, beta=1.0, container="csr_matrix", tol=0.0,
            max_iter=25),
    Problem("noise", 500, 2, 6, beta=3.0, weights="random", tol=1e-3, seed=2),
    Problem("noise", 500, 3, 5, beta=0.8, weights="int", tol=1e-6, seed=3),
    Problem("noise", 200, 1, 3, beta=1.5, seed=4),
    Problem("noise", 200, 4, 3, beta=0.4, container="csr_array", tol=0.0,
            max_iter=10, seed=5),
    Problem("noise", 400, 2, 8, beta=5.0, dtype="float32", weights="int",
            max_iter=15, tol=0.0, seed=6),
    Problem("blobs", 600, 8, 6, beta=0.2, weights="random", seed=7),
    Problem("blobs", 600, 8, 6, beta=0.5, container="csr_matrix", dtype="float32",
            seed=7),
    Problem("blobs", 150, 2, 2, beta=0.7, tol=0.0, max_iter=20, seed=8),
    Problem("blobs", 1000, 4, 3, beta=1.0, weights="int", seed=9),
    Problem("noise", 800, 3, 10, beta=2.0, container="csr_array",
            weights="random", tol=1e-2, seed=10),
    Problem("blobs", 300, 6, 1, beta=1.0, weights="random", seed=11),
    Problem("noise", 350, 2, 5, beta=2.5, tol=1e-5, seed=12),
]
# fmt: on


def _check_problem_is_informative(ref, problem, X):
    """Guard: responsibilities are genuinely soft and the stop is unambiguous."""
    top = ref.responsibilities.max(axis=1)
    if problem.n_clusters > 1:
        assert np.mean(top < 0.99) > 0.1, "responsibilities are nearly hard"
        gaps = squared_distances(ref.centers, ref.centers)[
            np.triu_indices(problem.n_clusters, 1)
        ]
        assert gaps.min() > 1e-3 * data_scale(X) ** 2, "centers merged"
    if problem.tol > 0:
        # rounding must not be able to move the stop by one layer
        margin = 1e-6 if problem.dtype == "float64" else 0.05
        ratios = np.array(ref.shifts) / ref.tol_abs
        assert np.min(np.abs(ratios - 1)) > margin
    else:
        # with tol=0 the loop stops only on a shift of exactly 0, which is
        # rounding's choice: the reference must run every layer, far from 0
        assert ref.n_iter == problem.max_iter
        assert min(ref.shifts) > 1e-20 * data_scale(X) ** 2, "shift near 0"


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_equals_textbook_soft_kmeans(problem, to_container):
    X, X_new, sample_weight, params = problem.build(to_container)
    rtol = rtol_for(problem.dtype)
    ref = _textbook_soft_kmeans(
        X,
        sample_weight,
        params["init"],
        problem.beta,
        problem.max_iter,
        problem.tol,
    )
    _check_problem_is_informative(ref, problem, X)

    soft = TransformerSoftKMeans(**params).fit(X, sample_weight=sample_weight)

    assert soft.cluster_centers_.dtype == np.dtype(problem.dtype)
    assert soft.n_iter_ == ref.n_iter
    assert_array_equal(soft.labels_, ref.labels)
    assert_centers_close(soft.cluster_centers_, ref.centers, X, rtol)
    scale2 = data_scale(X) ** 2
    assert soft.inertia_ == pytest.approx(ref.inertia, rel=rtol, abs=rtol * scale2)
    assert soft.free_energy_ == pytest.approx(
        ref.free_energy, rel=rtol, abs=rtol * scale2
    )
    assert_allclose(soft.predict_proba(X), ref.responsibilities, rtol=0, atol=rtol)


@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_predictions_on_new_data_equal_textbook(problem, to_container):
    X, X_new, sample_weight, params = problem.build(to_container)
    rtol = rtol_for(problem.dtype)
    soft = TransformerSoftKMeans(**params).fit(X, sample_weight=sample_weight)
    # the reference evaluated at the fitted centers isolates predict from fit
    centers = soft.cluster_centers_.astype(np.float64)
    D = squared_distances(X_new, centers)
    log_r = _log_responsibilities(D, problem.beta)

    proba = soft.predict_proba(X_new)

    assert proba.dtype == np.dtype(problem.dtype)
    assert_allclose(proba, np.exp(log_r), rtol=0, atol=rtol)
    assert_array_equal(soft.predict(X_new), np.argmax(log_r, axis=1))
    assert_allclose(
        soft.transform(X_new) ** 2, D, rtol=0, atol=rtol * data_scale(X_new) ** 2
    )
    assert soft.score(X_new) == pytest.approx(
        -D.min(axis=1).sum(), rel=rtol, abs=rtol * data_scale(X_new) ** 2
    )


def test_problems_cover_the_required_grid():
    assert len(PROBLEMS) >= 20
    assert {p.container for p in PROBLEMS} == {"dense", "csr_matrix", "csr_array"}
    assert {p.dtype for p in PROBLEMS} == {"float32", "float64"}
    assert {p.weights for p in PROBLEMS} == {"none", "random", "int"}
    assert 0.0 in {p.tol for p in PROBLEMS}
    assert len({p.beta for p in PROBLEMS}) >= 5
    assert len({str(p) for p in PROBLEMS}) == len(PROBLEMS)


def test_labels_are_the_argmax_of_the_responsibilities(container):
    X, _ = make_blobs(n_samples=200, centers=3, cluster_std=2.0, random_state=0)
    X = container(X)
    soft = TransformerSoftKMeans(3, beta=0.5, random_state=0).fit(X)

    proba = soft.predict_proba(X)

    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(soft.labels_, np.argmax(proba, axis=1))
    assert_array_equal(soft.predict(X), soft.labels_)


# ---------------------------------------------------------------------------
# 2. Limits of the stiffness beta
# ---------------------------------------------------------------------------


def _separated_blobs(seed=0, n_samples=300, n_clusters=4):
    X, _ = make_blobs(
        n_samples=n_samples,
        centers=n_clusters,
        n_features=3,
        cluster_std=0.6,
        center_box=(-20.0, 20.0),
        random_state=seed,
    )
    rng = np.random.RandomState(seed)
    init = X[rng.choice(n_samples, size=n_clusters, replace=False)]
    return X, init


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_large_beta_gives_kmeans(container, seed, weighted):
    X, init = _separated_blobs(seed)
    sample_weight = (
        np.random.RandomState(seed).uniform(0.5, 2.0, size=X.shape[0])
        if weighted
        else None
    )
    Xc = container(X)

    soft = TransformerSoftKMeans(4, beta=1e12, init=init).fit(
        Xc, sample_weight=sample_weight
    )
    hard = TransformerKMeans(4, init=init).fit(Xc, sample_weight=sample_weight)

    assert_array_equal(soft.labels_, hard.labels_)
    assert_centers_close(soft.cluster_centers_, hard.cluster_centers_, X, 1e-12)
    assert soft.inertia_ == pytest.approx(hard.inertia_, rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_tiny_beta_puts_every_center_at_the_weighted_mean(container, weighted):
    X, init = _separated_blobs(3)
    sample_weight = (
        np.random.RandomState(3).uniform(0.1, 5.0, size=X.shape[0])
        if weighted
        else None
    )

    soft = TransformerSoftKMeans(4, beta=1e-12, init=init).fit(
        container(X), sample_weight=sample_weight
    )

    mean = np.average(X, axis=0, weights=sample_weight)
    expected = np.tile(mean, (4, 1))
    assert_centers_close(soft.cluster_centers_, expected, X, 1e-10)
    assert_allclose(soft.predict_proba(container(X)), 0.25, rtol=1e-8)


@pytest.mark.parametrize("beta", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("data_scale", [1.0, 1e150])
def test_extreme_beta_and_data_scale_are_numerically_safe(container, beta, data_scale):
    X, y = make_blobs(n_samples=150, centers=3, cluster_std=1.0, random_state=0)
    X = container(X * data_scale)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # At beta 1e-12 in unit data the centroids merge into the mean,
        # which the fit reports; nothing else may warn.
        warnings.filterwarnings("ignore", "At beta=.* have merged")
        soft = TransformerSoftKMeans(3, beta=beta, random_state=0).fit(X)
        proba = soft.predict_proba(X)
        distances = soft.transform(X)
        labels = soft.predict(X)

    assert np.all(np.isfinite(soft.cluster_centers_))
    assert np.isfinite(soft.free_energy_)
    assert np.isfinite(soft.inertia_)
    assert np.all(np.isfinite(proba))
    assert np.all(np.isfinite(distances))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(labels, soft.labels_)


@pytest.mark.parametrize("beta", [1e-12, 1.0, 1e12])
@pytest.mark.parametrize("data_scale", [1.0, 1e150])
def test_free_energy_at_extreme_scales_equals_its_definition(beta, data_scale):
    X, _ = make_blobs(n_samples=150, centers=3, cluster_std=1.0, random_state=0)
    X = X * data_scale
    soft = TransformerSoftKMeans(3, beta=beta, random_state=0).fit(X)

    D = squared_distances(X, soft.cluster_centers_)
    # -1/beta logsumexp(-beta/2 D), rearranged to stay finite at any scale
    d_min = D.min(axis=1)
    with np.errstate(over="ignore"):
        lse = logsumexp(-0.5 * beta * (D - d_min[:, None]), axis=1)
    expected = float(np.sum(0.5 * d_min - lse / beta))

    assert soft.free_energy_ == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------
# 3. The free energy decreases
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.3, 1.0, 4.0])
def test_free_energy_never_increases_layer_after_layer(container, beta):
    rng = np.random.RandomState(0)
    X = rng.uniform(-4.0, 4.0, size=(300, 2))
    sample_weight = rng.uniform(0.5, 2.0, size=300)
    init = X[rng.choice(300, size=5, replace=False)]
    Xc = container(X)

    energies = []
    for max_iter in range(1, 16):
        soft = TransformerSoftKMeans(
            5, beta=beta, init=init, max_iter=max_iter, tol=0.0
        ).fit(Xc, sample_weight=sample_weight)
        assert soft.n_iter_ == max_iter
        energies.append(soft.free_energy_)

    energies = np.array(energies)
    initial = _free_energy(X, init, beta, sample_weight)
    steps = np.diff(np.r_[initial, energies])
    assert np.all(steps <= 1e-12 * np.abs(energies).max())
    assert energies[-1] < initial


# ---------------------------------------------------------------------------
# 4. Sparse input, dtypes, pipelines
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.2, 1.0, 5.0])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sparse_input_gives_the_dense_result(sparse_container, beta, weighted):
    rng = np.random.RandomState(1)
    X = rng.uniform(-4.0, 4.0, size=(300, 4))
    X[np.abs(X) < 1.5] = 0.0
    sample_weight = rng.uniform(0.5, 2.0, size=300) if weighted else None
    init = X[rng.choice(300, size=4, replace=False)] + 0.2

    dense = TransformerSoftKMeans(4, beta=beta, init=init).fit(
        X, sample_weight=sample_weight
    )
    sparse = TransformerSoftKMeans(4, beta=beta, init=init).fit(
        sparse_container(X), sample_weight=sample_weight
    )

    assert_array_equal(sparse.labels_, dense.labels_)
    assert sparse.n_iter_ == dense.n_iter_
    assert_centers_close(sparse.cluster_centers_, dense.cluster_centers_, X, 1e-10)
    assert sparse.free_energy_ == pytest.approx(dense.free_energy_, rel=1e-10)
    assert_allclose(
        sparse.predict_proba(sparse_container(X)),
        dense.predict_proba(X),
        rtol=0,
        atol=1e-10,
    )


def test_float32_kept(container):
    X, _ = make_blobs(n_samples=120, centers=3, random_state=0)
    X32 = container(X.astype(np.float32))

    soft = TransformerSoftKMeans(3, beta=0.5, random_state=0).fit(X32)

    assert soft.cluster_centers_.dtype == np.float32
    assert soft.transform(X32).dtype == np.float32
    assert soft.predict_proba(X32).dtype == np.float32


def test_grid_search_over_beta_picks_a_clustering_beta():
    X, y = make_blobs(
        n_samples=300,
        centers=[[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]],
        cluster_std=1.0,
        random_state=0,
    )
    pipe = make_pipeline(
        StandardScaler(), TransformerSoftKMeans(3, n_init=3, random_state=0)
    )
    # after scaling, beta <= 0.1 merges the centers into the mean
    betas = [1e-4, 0.1, 1.0, 30.0]
    grid = {"transformersoftkmeans__beta": betas}

    search = GridSearchCV(pipe, grid, scoring="adjusted_rand_score", cv=3).fit(X, y)

    scores = dict(zip(betas, search.cv_results_["mean_test_score"], strict=True))
    assert search.best_params_["transformersoftkmeans__beta"] in (1.0, 30.0)
    assert search.best_score_ > 0.95
    assert max(scores[1e-4], scores[0.1]) < search.best_score_ - 0.3
    assert search.predict(X).shape == (300,)


@pytest.mark.parametrize("weighted", [False, True])
def test_centroid_whose_responsibilities_all_underflow_still_moves(weighted):
    # The far centroid's responsibilities are about exp(-1e5): zero in floating
    # point, yet by definition it moves to their weighted mean, which in log
    # space is dominated by the points nearest to it.
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(60, 2))
    w = rng.uniform(0.5, 2.0, size=60) if weighted else np.ones(60)
    init = np.array([[0.2, 0.2], [0.8, 0.8], [100.0, 100.0]])
    beta = 10.0
    log_r = _log_responsibilities(squared_distances(X, init), beta)
    assert np.all(np.exp(log_r[:, 2]) == 0.0)
    scores = log_r.T + np.log(w)
    attention = np.exp(scores - logsumexp(scores, axis=1, keepdims=True))
    expected = attention @ X

    soft = TransformerSoftKMeans(3, beta=beta, init=init, max_iter=1).fit(
        X, sample_weight=w if weighted else None
    )
    assert_allclose(soft.cluster_centers_, expected, rtol=1e-10)


@pytest.mark.parametrize("far", [6.0, 6.4, 6.8, 9.6])
def test_centroid_whose_responsibilities_straddle_the_underflow_edge(far):
    # About sqrt(tiny) = 1.5e-154 = exp(-354) the weights of a centroid are
    # checked for underflow: for far = 6 to 6.8 some are above, some below,
    # and their total in between; for far = 9.6 the largest are subnormal
    # (below exp(-708)), so that plain products would keep only a few bits.
    # Either way the centroid moves to their weighted mean.
    rng = np.random.RandomState(1)
    X = rng.uniform(size=(400, 2))
    init = np.array([[0.2, 0.2], [0.8, 0.8], [far, far]])
    beta = 10.0
    log_r = _log_responsibilities(squared_distances(X, init), beta)
    edge = np.log(np.sqrt(np.finfo(np.float64).tiny))
    if far < 9:
        assert log_r[:, 2].min() < edge < log_r[:, 2].max()
    else:
        assert log_r[:, 2].max() < np.log(np.finfo(np.float64).tiny)
    attention = np.exp(log_r.T - logsumexp(log_r.T, axis=1, keepdims=True))
    expected = attention @ X

    soft = TransformerSoftKMeans(3, beta=beta, init=init, max_iter=1).fit(X)
    assert_allclose(soft.cluster_centers_, expected, rtol=1e-10)


def test_tiny_sample_weights_give_the_centers_of_the_weights_scaled_up():
    # Weights of 1e-312 make every product r_ij * w_i subnormal (plain products
    # would keep a few bits), so the weights are taken from the logarithms; a
    # weighted mean does not change when every weight is scaled by a factor.
    rng = np.random.RandomState(3)
    X = rng.uniform(size=(300, 3))
    w = rng.uniform(0.5, 2.0, size=300)
    init = X[:4].copy()
    params = dict(n_clusters=4, beta=20.0, init=init, max_iter=5, tol=0)
    tiny = TransformerSoftKMeans(**params).fit(X, sample_weight=1e-312 * w)
    plain = TransformerSoftKMeans(**params).fit(X, sample_weight=w)
    assert_allclose(tiny.cluster_centers_, plain.cluster_centers_, rtol=1e-12)


def test_verbose_prints_a_free_energy_that_never_increases(capsys):
    # The layer is one EM step of an isotropic Gaussian mixture: it never
    # increases the free energy, which verbose prints at the centroids each
    # assignment was made with.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(center, 1.0, size=(100, 2)) for center in (0, 3, 6)])
    TransformerSoftKMeans(
        3, beta=0.5, init=X[[0, 1, 2]], tol=0.0, max_iter=30, verbose=1
    ).fit(X)
    lines = capsys.readouterr().out.splitlines()
    energies = [
        float(line.split()[-1].rstrip(".")) for line in lines if "free energy" in line
    ]
    assert len(energies) == 30
    assert all(line.startswith("Iteration ") for line in lines if "energy" in line)
    assert np.all(np.diff(energies) <= 1e-9 * np.abs(energies[1:]))
    assert energies[-1] < energies[0]


def _standardized_iris():
    from sklearn.datasets import load_iris

    return StandardScaler().fit_transform(load_iris().data)


@pytest.mark.parametrize("beta", [0.01, 0.1])
def test_merged_centroids_warn_and_share_every_sample(beta):
    X = _standardized_iris()
    with pytest.warns(ConvergenceWarning, match="have merged") as record:
        soft = TransformerSoftKMeans(3, beta=beta, random_state=0).fit(X)
    assert record[0].filename == __file__  # points at the caller of fit
    # What the warning says, read off the responsibilities: the named
    # centroids share every training sample within 0.1%.
    pair = re.search(r"centroids (\d+) and (\d+)", str(record[0].message))
    i, j = map(int, pair.groups())
    responsibilities = soft.predict_proba(X)
    ratio = responsibilities[:, i] / responsibilities[:, j]
    assert np.all(np.abs(np.log(ratio)) < 1e-3)


@pytest.mark.parametrize("scale", [1.0, 100.0])
def test_distinct_centroids_do_not_warn_at_any_data_scale(scale):
    # beta is in inverse squared data units: the same clustering at 100
    # times the data needs beta 10,000 times smaller, and does not warn.
    X = _standardized_iris() * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        soft = TransformerSoftKMeans(3, beta=1.0 / scale**2, random_state=0).fit(X)
    assert np.unique(soft.labels_).size == 3


def test_data_near_the_float64_limit_is_assigned_as_by_the_hardmax():
    # Scaled to 1e300, every squared distance is about 1e600 and beta = 1
    # makes the responsibilities one-hot; the layers scale the data down,
    # and beta up past the largest float: the hardmax, its limit.
    X, _ = make_blobs(600, 3, centers=4, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        soft = TransformerSoftKMeans(4, beta=1.0, random_state=0).fit(X * 1e300)
    hard = TransformerKMeans(4, random_state=0).fit(X * 1e300)
    assert_array_equal(soft.labels_, hard.labels_)
    assert_allclose(soft.cluster_centers_, hard.cluster_centers_, rtol=1e-12)
