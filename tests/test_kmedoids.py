"""Tests for TransformerKMedoids.

Every reference is computed here, independently of the package's engine:
exact dissimilarities from ``scipy.spatial.distance.cdist``, scikit-learn's
``pairwise_distances``, brute-force 1-medoid searches, and the ``kmedoids``
package's FasterPAM for the quality of the optimum.
"""

import functools
import pickle
import re
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_blobs,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils._testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from sklearn_kmt import TransformerKMedoids

from _references import dense

METRICS = ["euclidean", "sqeuclidean", "manhattan", "cosine"]
# The same dissimilarities under scipy's names, computed from differences
# (no expanded ||x||^2 - 2 x.c + ||c||^2 and its cancellation).
SCIPY_METRICS = {
    "euclidean": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "manhattan": "cityblock",
    "cosine": "cosine",
}
CONTAINER_IDS = ["dense", "csr_matrix", "csr_array"]


@pytest.fixture(autouse=True)
def _one_thread():
    # The candidate scoring calls the pairwise kernels on chunks of a few
    # rows; on a busy machine, waking an OpenMP or BLAS thread team for each
    # one costs far more than the work (a 240-point CSR Manhattan fit: 60 s
    # instead of 1.5 s). One thread keeps the timings of this file stable.
    with threadpool_limits(limits=1):
        yield


# ---------------------------------------------------------------------------
# Shared helpers and reference computations
# ---------------------------------------------------------------------------


def _dissimilarities(X, centers, metric):
    """Exact float64 dissimilarities of the rows of X to the centers."""
    return cdist(
        dense(X).astype(np.float64),
        np.asarray(centers, dtype=np.float64),
        SCIPY_METRICS[metric],
    )


def _weights_or_ones(sample_weight, n_samples):
    return np.ones(n_samples) if sample_weight is None else sample_weight


def _brute_force_objective(X, centers, metric, sample_weight=None):
    """Weighted dissimilarity of every sample to its nearest center."""
    D = _dissimilarities(X, centers, metric)
    return _weights_or_ones(sample_weight, D.shape[0]) @ D.min(axis=1)


def _general_position_data(n_samples, n_features, n_blobs, seed):
    """Blobs with about 30% zeros, for CSR input.

    Each row keeps its two largest entries, so that no row is zero and no two
    rows are parallel: the cosine medoid of a cluster is then unique.
    """
    X, _ = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_blobs,
        cluster_std=1.5,
        center_box=(-10.0, 10.0),
        random_state=seed,
    )
    small = np.abs(X) < np.quantile(np.abs(X), 0.3)
    top_two = np.argsort(-np.abs(X), axis=1)[:, :2]
    small[np.arange(n_samples)[:, None], top_two] = False
    X[small] = 0.0
    return X


def _problem(container_id, weighted, seed=0, n_samples=200):
    """(X, X_new, sample_weight) in the container named by ``container_id``."""
    X = _general_position_data(n_samples + 40, 5, 4, seed)
    rng = np.random.RandomState(seed)
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples) if weighted else None
    to_container = {"dense": np.asarray, "csr_matrix": sp.csr_matrix}.get(
        container_id, sp.csr_array
    )
    return to_container(X[:n_samples]), to_container(X[n_samples:]), sample_weight


@functools.cache
def _fitted(container_id, metric, weighted):
    """A default fit on a generated problem, shared by the invariant tests."""
    X, X_new, sample_weight = _problem(container_id, weighted)
    km = TransformerKMedoids(n_clusters=5, metric=metric, random_state=0)
    km.fit(X, sample_weight=sample_weight)
    return X, X_new, sample_weight, km


def _assert_close_to_pairwise(D, X, centers, metric):
    """``D`` against scikit-learn's ``pairwise_distances`` for ``metric``."""
    expected = pairwise_distances(
        dense(X).astype(np.float64), np.asarray(centers, np.float64), metric=metric
    )
    assert D.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(dense(X)))))
    if metric == "euclidean":
        # Compare squares: a square root amplifies the rounding of near-zero
        # squared distances far beyond any relative tolerance.
        err = np.max(np.abs(D**2 - expected**2))
        assert err <= 1e-10 * scale**2, f"max squared distance error {err:.3g}"
    else:
        atol = 1e-10 * max(1.0, float(expected.max()))
        assert_allclose(D, expected, rtol=1e-10, atol=atol)


invariant_cases = pytest.mark.parametrize(
    "container_id, metric, weighted",
    [(c, m, w) for c in CONTAINER_IDS for m in METRICS for w in (False, True)],
    ids=[
        f"{c}-{m}-{'weighted' if w else 'unweighted'}"
        for c in CONTAINER_IDS
        for m in METRICS
        for w in (False, True)
    ],
)

# ---------------------------------------------------------------------------
# 1. Fitted attributes against brute force
# ---------------------------------------------------------------------------


@invariant_cases
def test_cluster_centers_are_the_rows_medoid_indices_name(
    container_id, metric, weighted
):
    X, _, _, km = _fitted(container_id, metric, weighted)
    assert km.cluster_centers_.shape == (5, X.shape[1])
    assert km.medoid_indices_.shape == (5,)
    assert np.unique(km.medoid_indices_).size == 5
    assert_array_equal(km.cluster_centers_, dense(X)[km.medoid_indices_])


@invariant_cases
def test_labels_are_the_nearest_medoid(container_id, metric, weighted):
    X, _, _, km = _fitted(container_id, metric, weighted)
    D = _dissimilarities(X, km.cluster_centers_, metric)
    assert_array_equal(km.labels_, D.argmin(axis=1))


@invariant_cases
def test_inertia_is_the_weighted_dissimilarity_to_the_medoids(
    container_id, metric, weighted
):
    X, _, sample_weight, km = _fitted(container_id, metric, weighted)
    D = _dissimilarities(X, km.cluster_centers_, metric)
    w = _weights_or_ones(sample_weight, X.shape[0])
    expected = w @ D[np.arange(X.shape[0]), km.labels_]
    assert km.inertia_ == pytest.approx(expected, rel=1e-10)


@invariant_cases
def test_predict_is_the_nearest_medoid(container_id, metric, weighted):
    X, X_new, _, km = _fitted(container_id, metric, weighted)
    assert_array_equal(km.predict(X), km.labels_)
    D_new = _dissimilarities(X_new, km.cluster_centers_, metric)
    assert_array_equal(km.predict(X_new), D_new.argmin(axis=1))


@invariant_cases
def test_transform_is_the_metric_to_the_medoids(container_id, metric, weighted):
    X, X_new, _, km = _fitted(container_id, metric, weighted)
    for data in (X, X_new):
        _assert_close_to_pairwise(km.transform(data), data, km.cluster_centers_, metric)


@invariant_cases
def test_score_is_minus_the_weighted_objective(container_id, metric, weighted):
    X, X_new, sample_weight, km = _fitted(container_id, metric, weighted)
    assert km.score(X, sample_weight=sample_weight) == pytest.approx(
        -km.inertia_, rel=1e-10
    )
    expected = _brute_force_objective(X_new, km.cluster_centers_, metric)
    assert km.score(X_new) == pytest.approx(-expected, rel=1e-10)


@pytest.mark.parametrize("metric", METRICS)
def test_inertia_is_zero_when_every_sample_is_a_medoid(container, metric):
    X = container(_general_position_data(60, 5, 3, seed=0))
    km = TransformerKMedoids(60, metric=metric, n_init=1, random_state=0).fit(X)
    assert_array_equal(np.sort(km.medoid_indices_), np.arange(60))
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_fit_predict_returns_labels(container, metric):
    X = container(_general_position_data(150, 4, 3, seed=1))
    km = TransformerKMedoids(4, metric=metric, n_init=1, random_state=0)
    labels = km.fit_predict(X)
    assert_array_equal(labels, km.labels_)
    assert_array_equal(labels, km.predict(X))


@pytest.mark.parametrize("metric", METRICS)
def test_float32_input_keeps_float32_and_its_rows(container, metric):
    X64 = _general_position_data(200, 4, 3, seed=2)
    X = container(X64.astype(np.float32))
    km = TransformerKMedoids(4, metric=metric, n_init=1, random_state=0).fit(X)

    assert km.cluster_centers_.dtype == np.float32
    assert_array_equal(km.cluster_centers_, dense(X)[km.medoid_indices_])
    expected = _brute_force_objective(X, km.cluster_centers_, metric)
    assert km.inertia_ == pytest.approx(expected, rel=1e-5)


def _points_next_to_the_first_rows(X, n_clusters, random_state):
    """Callable init off the data: the medoids must come from the layers."""
    return dense(X[:n_clusters]) + 0.01


@pytest.mark.parametrize("init", ["k-medoids++", "random", "callable", "array"])
def test_medoids_are_rows_of_X_for_every_init(container, init):
    X_dense = _general_position_data(150, 3, 3, seed=3)
    if init == "callable":
        init = _points_next_to_the_first_rows
    elif init == "array":
        init = X_dense[[0, 50, 100]] + 0.01
    X = container(X_dense)
    km = TransformerKMedoids(3, init=init, n_init=1, max_iter=1, random_state=0)
    km.fit(X)
    assert_array_equal(km.cluster_centers_, X_dense[km.medoid_indices_])


@pytest.mark.parametrize("metric", METRICS)
def test_medoid_indices_name_the_medoids_among_near_duplicate_rows(metric):
    # Every row has a twin 1e-9 away: the medoid is one of the two, and
    # medoid_indices_ must name that one, not its twin.
    for seed in range(5):
        rng = np.random.RandomState(seed)
        X = rng.normal(size=(100, 2)) + 5.0
        X = np.vstack([X, X + 1e-9])
        km = TransformerKMedoids(4, metric=metric, random_state=seed).fit(X)
        assert_array_equal(km.cluster_centers_, X[km.medoid_indices_])


def _rows_on_two_directions():
    """Twenty rows on each axis, each at its own distance from the origin."""
    norms = np.random.RandomState(0).uniform(1.0, 5.0, size=(20, 1))
    zeros = np.zeros_like(norms)
    return np.vstack([np.hstack([norms, zeros]), np.hstack([zeros, norms])])


def test_cosine_medoid_indices_name_the_medoids_among_parallel_rows():
    X = _rows_on_two_directions()
    km = TransformerKMedoids(2, metric="cosine", max_iter=30, random_state=0).fit(X)
    assert_array_equal(km.cluster_centers_, X[km.medoid_indices_])


def test_cosine_fit_on_parallel_rows_converges_before_max_iter():
    # Every row of a direction is an exact cosine medoid; the current medoid
    # is one of them, so no layer can improve on it and the loop must stop
    # two layers after the first one.
    X = _rows_on_two_directions()
    km = TransformerKMedoids(2, metric="cosine", max_iter=30, random_state=0).fit(X)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-12)
    assert km.n_iter_ < km.max_iter


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_array_init_point_that_attracts_no_sample_still_ends_on_a_row(container):
    X_dense, _ = make_blobs(n_samples=200, centers=3, random_state=0)
    init = np.vstack([X_dense[:2], [[1000.0, 1000.0]]])
    km = TransformerKMedoids(3, init=init, random_state=0).fit(container(X_dense))
    assert_array_equal(km.cluster_centers_, X_dense[km.medoid_indices_])


# ---------------------------------------------------------------------------
# 2. The objective over the layers, and the stopping rule
# ---------------------------------------------------------------------------

N_LAYERS = 8


@pytest.mark.parametrize("container_id", ["dense", "csr_matrix"])
@pytest.mark.parametrize("metric", METRICS)
def test_objective_never_increases_from_layer_to_layer(container_id, metric, capsys):
    """Fits with max_iter = 1, ..., 8 follow one trajectory, whose objective
    never increases.

    The seeding is drawn before any layer, and the sampling noise comes from a
    generator seeded by random_state alone, one Gumbel vector per layer: a
    fit with max_iter=k therefore runs the first k layers of any longer fit
    with the same random_state, and its inertia_ is the objective after
    layer k. The test checks this nesting on what verbose prints (one line
    per layer: the lines of a shorter fit must begin those of a longer one),
    so that comparing the inertia_ of successive fits compares successive
    layers of a single run.
    """
    rng = np.random.RandomState(0)
    X = rng.uniform(-1.0, 1.0, size=(400, 3))
    X = sp.csr_matrix(X) if container_id == "csr_matrix" else X
    # Few candidates: the search improves in small steps over many layers.
    params = dict(
        n_clusters=10, metric=metric, n_candidates=3, n_init=1, random_state=0
    )

    def fit(max_iter):
        km = TransformerKMedoids(max_iter=max_iter, verbose=1, **params).fit(X)
        out = capsys.readouterr().out
        return km, re.findall(r"^Iteration (\d+), inertia (\S+)\.$", out, re.M)

    longest, longest_lines = fit(N_LAYERS)
    assert len(longest_lines) == longest.n_iter_
    inertias = []
    for max_iter in range(1, N_LAYERS + 1):
        km, lines = fit(max_iter)
        assert km.n_iter_ == min(max_iter, longest.n_iter_)
        assert lines == longest_lines[: km.n_iter_]
        # Whatever the line reports for the last layer (before or after the
        # final assignment), the final assignment can only lower it.
        assert km.inertia_ <= float(lines[-1][1]) * (1 + 1e-5)
        inertias.append(km.inertia_)
    assert_array_equal(km.medoid_indices_, longest.medoid_indices_)

    inertias = np.array(inertias)
    assert np.all(inertias[1:] <= inertias[:-1] * (1 + 1e-12)), inertias
    assert inertias[-1] < inertias[0]  # the trajectory did move


@pytest.mark.parametrize("metric", METRICS)
def test_stops_two_layers_after_the_last_medoid_change(metric):
    X = np.random.RandomState(1).uniform(-1.0, 1.0, size=(300, 2))
    params = dict(n_clusters=6, metric=metric, n_candidates=4, n_init=1, random_state=0)
    final = TransformerKMedoids(**params).fit(X)
    n_layers = final.n_iter_
    assert 3 < n_layers < final.max_iter

    # Trajectories are nested (see the test above): the medoids after
    # n_layers - 2 layers are the final ones, those one layer earlier are not.
    settled = TransformerKMedoids(max_iter=n_layers - 2, **params).fit(X)
    before = TransformerKMedoids(max_iter=n_layers - 3, **params).fit(X)
    assert_array_equal(settled.medoid_indices_, final.medoid_indices_)
    assert not np.array_equal(before.medoid_indices_, final.medoid_indices_)


def test_medoid_indices_are_distinct_samples_among_identical_ones(container):
    # Four medoids on two distinct points, each point three times: the
    # medoids at one point are different samples.
    X = np.repeat([[0.0, 0.0], [3.0, 3.0]], 3, axis=0)
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = TransformerKMedoids(4, random_state=0).fit(container(X))
    assert np.unique(km.medoid_indices_).size == 4
    assert_array_equal(X[km.medoid_indices_], km.cluster_centers_)
    two = TransformerKMedoids(2, random_state=0).fit(container(np.ones((2, 3))))
    assert sorted(two.medoid_indices_.tolist()) == [0, 1]


def test_max_iter_before_the_medoids_settle_warns():
    X = np.random.RandomState(1).uniform(-1.0, 1.0, size=(300, 2))
    params = dict(n_clusters=6, n_candidates=4, n_init=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match="Maximum number of iteration"):
        TransformerKMedoids(max_iter=2, **params).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        settled = TransformerKMedoids(**params).fit(X)
    assert settled.n_iter_ < settled.max_iter


def test_sparse_candidates_stay_sparse():
    # 1,000 rows of a million features, 20 non-zeros each: k (m + 1) dense
    # candidate rows alone would take 66 x 10^6 x 8 bytes = 528 MB.
    rng = np.random.RandomState(0)
    n_samples, n_features, nnz = 1000, 10**6, 20
    indices = np.concatenate(
        [np.sort(rng.choice(n_features, nnz, replace=False)) for _ in range(n_samples)]
    )
    X = sp.csr_matrix(
        (rng.rand(n_samples * nnz), indices, np.arange(n_samples + 1) * nnz),
        shape=(n_samples, n_features),
    )
    km = TransformerKMedoids(2, n_candidates=32, n_init=1, max_iter=3, random_state=0)
    peak = _peak_traced_bytes(lambda: km.fit(X))
    # Two dense centers (16 MB) and their few copies; no n_features x
    # n_candidates matrix.
    assert peak < 100e6, f"peak {peak / 1e6:.1f} MB"
    assert_array_equal(X[km.medoid_indices_].toarray(), km.cluster_centers_)


def test_verbose_does_not_change_the_fit(capsys):
    X = np.random.RandomState(0).uniform(size=(200, 2))
    quiet = TransformerKMedoids(5, random_state=0).fit(X)
    assert capsys.readouterr().out == ""
    loud = TransformerKMedoids(5, verbose=1, random_state=0).fit(X)
    assert "Iteration 0, inertia" in capsys.readouterr().out
    assert_array_equal(loud.medoid_indices_, quiet.medoid_indices_)
    assert loud.inertia_ == quiet.inertia_


# ---------------------------------------------------------------------------
# 3. Local optimality at convergence
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("container_id", ["dense", "csr_matrix"])
def test_converged_medoids_are_exact_weighted_1_medoids(
    container_id, metric, weighted, to_container
):
    n_samples = 150
    X_dense = _general_position_data(n_samples, 3, 3, seed=4)
    rng = np.random.RandomState(4)
    sample_weight = rng.uniform(0.2, 3.0, size=n_samples) if weighted else None
    w = _weights_or_ones(sample_weight, n_samples)
    # n_candidates + n_nearest >= any cluster's size: every member is a
    # candidate in every layer, drawn or among the nearest, so the medoid of
    # a settled cluster minimises its cost.
    n_candidates, n_nearest = (1, n_samples) if weighted else (n_samples, 0)
    km = TransformerKMedoids(
        4,
        metric=metric,
        n_candidates=n_candidates,
        n_nearest=n_nearest,
        n_init=1,
        random_state=0,
    )
    km.fit(to_container(container_id)(X_dense), sample_weight=sample_weight)
    assert km.n_iter_ < km.max_iter

    for j in range(4):
        members = np.flatnonzero(km.labels_ == j)
        rows = X_dense[members]
        costs = w[members] @ _dissimilarities(rows, rows, metric)
        medoid = km.cluster_centers_[[j]]
        chosen = w[members] @ _dissimilarities(rows, medoid, metric)[:, 0]
        assert chosen == pytest.approx(costs.min(), rel=1e-12), f"cluster {j}"


# ---------------------------------------------------------------------------
# 4. Quality against FasterPAM
# ---------------------------------------------------------------------------


def _quality_datasets():
    """(name, X, n_clusters) of at most 3,000 samples."""
    scale = StandardScaler().fit_transform
    return [
        ("blobs", make_blobs(3000, 5, centers=8, cluster_std=2, random_state=0)[0], 8),
        ("digits", load_digits().data, 10),
        ("wine", scale(load_wine().data), 3),
        ("breast_cancer", scale(load_breast_cancer().data), 2),
        ("uniform", np.random.RandomState(0).uniform(size=(2000, 4)), 12),
        ("iris", load_iris().data, 3),
    ]


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_default_fit_within_2_percent_of_fasterpam_on_average(metric):
    kmedoids = pytest.importorskip("kmedoids")
    ratios = {}
    for name, X, k in _quality_datasets():
        D = pairwise_distances(X, metric=metric)
        reference = kmedoids.fasterpam(D, k, init="build", random_state=0).loss
        km = TransformerKMedoids(k, metric=metric, random_state=0).fit(X)
        ratios[name] = km.inertia_ / reference
    assert np.mean(list(ratios.values())) <= 1.02, ratios


# ---------------------------------------------------------------------------
# 5. Memory
# ---------------------------------------------------------------------------


def _peak_traced_bytes(function):
    """Peak memory traced by tracemalloc while ``function`` runs, above the start."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        function()
        return tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if not was_tracing:
            tracemalloc.stop()


def test_traced_peak_sees_an_n_by_n_matrix():
    # The bound below is only meaningful if numpy's buffers are traced.
    X = np.random.RandomState(0).uniform(size=(2000, 2))
    assert _peak_traced_bytes(lambda: pairwise_distances(X)) >= 2000 * 2000 * 8


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("container_id", ["dense", "csr_matrix"])
def test_fit_never_forms_an_n_by_n_matrix(container_id, metric, to_container):
    n_samples = 20_000
    X, _ = make_blobs(n_samples=n_samples, n_features=2, centers=5, random_state=0)
    X = to_container(container_id)(X)
    km = TransformerKMedoids(5, metric=metric, n_init=1, max_iter=5, random_state=0)

    peak = _peak_traced_bytes(lambda: km.fit(X))

    # Measured: about 3 MB (linear in n); an n x n float64 matrix is 3.2 GB.
    assert peak < 50e6, f"peak {peak / 1e6:.1f} MB"


# ---------------------------------------------------------------------------
# 6. Sample weights
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("container_id", ["dense", "csr_matrix"])
def test_integer_weights_equal_repeated_rows(container_id, metric, to_container):
    container = to_container(container_id)
    rng = np.random.RandomState(0)
    X, _ = make_blobs(
        n_samples=60, n_features=3, centers=3, cluster_std=1.5, random_state=0
    )
    weights = rng.randint(1, 4, size=60)
    X_repeated = np.repeat(X, weights, axis=0)
    init = X[rng.choice(60, size=4, replace=False)]
    # Every member is a candidate in every layer: the draw does not matter.
    params = dict(n_clusters=4, metric=metric, init=init, n_candidates=len(X_repeated))

    weighted = TransformerKMedoids(**params).fit(
        container(X), sample_weight=weights.astype(float)
    )
    repeated = TransformerKMedoids(**params).fit(container(X_repeated))

    assert_array_equal(weighted.cluster_centers_, repeated.cluster_centers_)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-10)
    assert_array_equal(np.repeat(weighted.labels_, weights), repeated.labels_)


# ---------------------------------------------------------------------------
# 7. Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "param, value",
    [
        ("metric", "chebyshev"),
        ("metric", "l2"),
        ("n_candidates", 0),
        ("n_candidates", 2.5),
        ("n_nearest", -1),
        ("n_nearest", 1.5),
        ("init", "k-means++"),
        ("init", "bogus"),
    ],
)
def test_invalid_parameter_raises(param, value):
    X, _ = make_blobs(n_samples=30, centers=3, random_state=0)
    with pytest.raises(InvalidParameterError, match=re.escape(f"'{param}'")):
        TransformerKMedoids(3, **{param: value}).fit(X)


def test_n_samples_less_than_n_clusters_raises(container):
    X, _ = make_blobs(n_samples=3, centers=3, random_state=0)
    with pytest.raises(ValueError, match=r"n_samples=3 should be >= n_clusters=4"):
        TransformerKMedoids(4).fit(container(X))


# ---------------------------------------------------------------------------
# 8. scikit-learn integration
# ---------------------------------------------------------------------------


def test_grid_search_over_n_candidates_with_adjusted_rand_score():
    X, y = make_blobs(n_samples=300, centers=4, cluster_std=0.7, random_state=0)
    search = GridSearchCV(
        TransformerKMedoids(4, random_state=0),
        {"n_candidates": [2, 8, 32]},
        scoring="adjusted_rand_score",
        cv=3,
    ).fit(X, y)

    assert sorted(search.cv_results_["param_n_candidates"]) == [2, 8, 32]
    assert search.best_score_ > 0.9
    best = search.best_estimator_
    assert best.n_candidates in (2, 8, 32)
    assert_array_equal(best.cluster_centers_, X[best.medoid_indices_])


def test_get_feature_names_out():
    X, _ = make_blobs(n_samples=60, centers=3, random_state=0)
    km = TransformerKMedoids(3, random_state=0).fit(X)
    assert_array_equal(
        km.get_feature_names_out(),
        ["transformerkmedoids0", "transformerkmedoids1", "transformerkmedoids2"],
    )


def test_n_init_auto_runs_five_seedings():
    X = np.random.RandomState(0).uniform(size=(300, 2))
    auto = TransformerKMedoids(6, random_state=0).fit(X)
    five = TransformerKMedoids(6, n_init=5, random_state=0).fit(X)
    one = TransformerKMedoids(6, n_init=1, random_state=0).fit(X)
    assert_array_equal(auto.medoid_indices_, five.medoid_indices_)
    assert auto.inertia_ <= one.inertia_


# ---------------------------------------------------------------------------
# 9. Determinism and persistence
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, "instance"])
@pytest.mark.parametrize("metric", METRICS)
def test_same_random_state_gives_the_same_medoids(container, metric, seed):
    X = container(_general_position_data(200, 3, 5, seed=5))

    def fit():
        random_state = np.random.RandomState(7) if seed == "instance" else seed
        return TransformerKMedoids(
            6, metric=metric, n_candidates=4, n_init=2, random_state=random_state
        ).fit(X)

    first, second = fit(), fit()
    assert_array_equal(second.medoid_indices_, first.medoid_indices_)
    assert_array_equal(second.labels_, first.labels_)
    assert second.inertia_ == first.inertia_


def test_pickle_round_trip_keeps_predictions(container):
    X = container(_general_position_data(200, 3, 3, seed=6))
    km = TransformerKMedoids(3, metric="manhattan", random_state=0).fit(X)
    loaded = pickle.loads(pickle.dumps(km))
    assert_array_equal(loaded.medoid_indices_, km.medoid_indices_)
    assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    assert_array_equal(loaded.predict(X), km.predict(X))
    assert_array_equal(loaded.transform(X), km.transform(X))
    assert loaded.score(X) == km.score(X)


# ---------------------------------------------------------------------------
# 10. Cosine: only directions matter
# ---------------------------------------------------------------------------


def test_cosine_labels_do_not_depend_on_row_norms(container):
    X = _general_position_data(300, 4, 4, seed=7)
    factors = np.random.RandomState(7).uniform(0.1, 10.0, size=300)
    scaled = X * factors[:, None]

    params = dict(n_clusters=4, metric="cosine", n_init=2, random_state=0)
    km = TransformerKMedoids(**params).fit(container(X))
    km_scaled = TransformerKMedoids(**params).fit(container(scaled))

    assert_array_equal(km_scaled.labels_, km.labels_)
    assert km_scaled.inertia_ == pytest.approx(km.inertia_, rel=1e-10)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_csr_with_64bit_indices_gives_the_32bit_result(metric):
    # scikit-learn's sparse Manhattan distances take 32-bit indices only; the
    # boundary converts a copy, the caller's matrix keeps its own.
    X = sp.random(80, 6, density=0.5, format="csr", random_state=0)
    wide = X.copy()
    wide.indices = wide.indices.astype(np.int64)
    wide.indptr = wide.indptr.astype(np.int64)
    params = dict(n_clusters=3, metric=metric, n_init=1, random_state=0)
    expected = TransformerKMedoids(**params).fit(X)
    model = TransformerKMedoids(**params).fit(wide)
    np.testing.assert_array_equal(model.labels_, expected.labels_)
    np.testing.assert_array_equal(model.medoid_indices_, expected.medoid_indices_)
    np.testing.assert_array_equal(model.predict(wide), expected.predict(X))
    assert wide.indices.dtype == np.int64 and wide.indptr.dtype == np.int64


# -- the cost of the candidates: each cluster's members only ----------------------


class CountingScore:
    """A metric's score that counts the dissimilarities it is asked for."""

    def __init__(self, score):
        self.score = score
        self.computed = 0

    def pairwise(self, points, centers):
        self.computed += points.shape[0] * centers.shape[0]
        return self.score.pairwise(points, centers)


@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_candidates_are_scored_against_their_own_cluster_only(metric, container):
    from sklearn_kmt._components import MedoidSamplingAttention
    from sklearn_kmt._kmedoids import METRIC_SCORES
    from sklearn_kmt._tokens import PointTokens

    rng = np.random.RandomState(0)
    X = rng.uniform(0.1, 3, size=(300, 4)) * (rng.uniform(size=(300, 4)) < 0.7)
    weights = rng.uniform(0.5, 2, size=300)
    labels = rng.randint(-1, 5, size=300)  # -1: a zeroed slot, in no cluster
    members = np.flatnonzero(labels >= 0)
    # Two to four candidates per cluster, among its members.
    candidates = np.concatenate(
        [
            rng.choice(members[labels[members] == j], 2 + j % 3, replace=False)
            for j in range(5)
        ]
    )
    score = CountingScore(METRIC_SCORES[metric]())
    by_cluster = members[np.argsort(labels[members], kind="stable")]
    bounds = np.r_[0, np.cumsum(np.bincount(labels[members], minlength=5))]
    points = PointTokens(container(X), weights)
    costs = MedoidSamplingAttention._costs(
        points, labels, by_cluster, bounds, candidates, score
    )
    # Without the counting wrapper, the Euclidean scores on dense data take
    # their own path (one product of augmented rows): the same costs.
    direct_costs = MedoidSamplingAttention._costs(
        points, labels, by_cluster, bounds, candidates, METRIC_SCORES[metric]()
    )
    assert_allclose(direct_costs, costs, rtol=1e-12, atol=1e-9)
    if metric in ("euclidean", "sqeuclidean") and container is np.asarray:
        # Augmented rows held for every point, or made for each chunk when
        # they would take too much memory: the same costs, bit for bit.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sklearn_kmt._components.HELD_ROWS_BYTES", 0)
            chunked_costs = MedoidSamplingAttention._costs(
                PointTokens(container(X), weights),
                labels,
                by_cluster,
                bounds,
                candidates,
                METRIC_SCORES[metric](),
            )
        assert_array_equal(chunked_costs, direct_costs)
    # The definition: a candidate's total weighted dissimilarity to the
    # members of its cluster.
    distance = {
        "sqeuclidean": "sqeuclidean",
        "euclidean": "euclidean",
        "manhattan": "cityblock",
        "cosine": None,
    }[metric]
    for candidate, cost in zip(candidates, costs, strict=True):
        cluster = members[labels[members] == labels[candidate]]
        if metric == "cosine":  # 1 - cos, a zero row being at cos 0 of all
            norms = np.linalg.norm(X[cluster], axis=1) * np.linalg.norm(X[candidate])
            products = X[cluster] @ X[candidate]
            cosines = np.zeros(len(cluster))
            np.divide(products, norms, out=cosines, where=norms > 0)
            dissimilarities = 1 - cosines
        else:
            pairs = cdist(X[cluster], X[candidate : candidate + 1], distance)
            dissimilarities = pairs[:, 0]
        expected = weights[cluster] @ dissimilarities
        # The metrics' expanded forms leave about 1e-8 in a point's distance
        # to itself (a square root of a rounding residue).
        assert_allclose(cost, expected, rtol=1e-9, atol=1e-6)
    # Each member is scored against its own cluster's candidates, no other.
    expected_count = sum(
        np.count_nonzero(labels == j) * np.count_nonzero(labels[candidates] == j)
        for j in range(5)
    )
    assert score.computed == expected_count


@pytest.mark.parametrize("n_keys", [0, 5, 32, 33, 200, 5_000, 100_000])
@pytest.mark.parametrize("n_minus_infinity", [0, 10, 4_990])
def test_largest_keys_are_the_top_of_a_sort(n_keys, n_minus_infinity):
    from sklearn_kmt._components import _largest

    rng = np.random.RandomState(n_keys)
    keys = rng.gumbel(size=n_keys)
    keys[rng.permutation(n_keys)[:n_minus_infinity]] = -np.inf
    n_largest = 32
    top = _largest(keys, n_largest)
    assert top.shape == (min(n_keys, n_largest),)
    assert np.unique(top).shape == top.shape
    expected = np.sort(keys)[::-1][:n_largest]
    assert_array_equal(np.sort(keys[top])[::-1], expected)


def test_largest_keys_fall_back_when_the_sample_threshold_keeps_too_few():
    from sklearn_kmt._components import SAMPLE_PER_LARGEST, _largest

    # Three keys far above the rest, all at sampled positions: the sample's
    # threshold keeps those three only, and the whole array is partitioned.
    n_keys, n_largest = 100_000, 32
    stride = n_keys // (SAMPLE_PER_LARGEST * n_largest)
    keys = np.random.RandomState(0).uniform(size=n_keys)
    keys[[0, stride, 2 * stride]] = [10.0, 11.0, 12.0]
    top = _largest(keys, n_largest)
    assert_array_equal(np.sort(keys[top]), np.sort(keys)[-n_largest:])


# ---------------------------------------------------------------------------
# 13. The candidates: the medoid, its nearest members, draws among the rest
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_values", [0, 1, 7, 300])
@pytest.mark.parametrize("n_distinct", [1, 3, 1000])
def test_smallest_first_is_the_head_of_a_stable_sort(n_values, n_distinct):
    from sklearn_kmt._components import _smallest_first

    # Few distinct values: ties on both sides of every boundary.
    values = np.random.RandomState(n_values).randint(0, n_distinct, n_values) / 7
    for n_smallest in (1, 2, 5, 24, 299, 300, 400):
        expected = np.argsort(values, kind="stable")[:n_smallest]
        assert_array_equal(_smallest_first(values, n_smallest), expected)


@pytest.mark.parametrize("n_nearest", [0, 1, 3, 50])
@pytest.mark.parametrize("n_candidates", [1, 4, 50])
def test_candidates_are_the_medoid_its_nearest_and_draws_among_the_rest(
    n_candidates, n_nearest
):
    from sklearn_kmt._components import MedoidSamplingAttention

    rng = np.random.RandomState(n_candidates + 10 * n_nearest)
    n_tokens, n_clusters = 120, 5
    labels = rng.randint(-1, n_clusters, n_tokens)
    labels[labels == 3] = 2  # cluster 3 is empty
    # Integer-valued distances: ties everywhere. The coordinates' distance
    # (own) and the score's (nearness) differ, as for the cosine score.
    own = rng.randint(0, 4, n_tokens).astype(float)
    nearness = rng.randint(0, 5, n_tokens).astype(float)
    keys = rng.gumbel(size=n_tokens)
    keys[rng.uniform(size=n_tokens) < 0.2] = -np.inf  # weight 0: never drawn
    members = np.flatnonzero(labels >= 0)
    by_cluster = members[np.argsort(labels[members], kind="stable")]
    bounds = np.r_[0, np.cumsum(np.bincount(labels[members], minlength=n_clusters))]

    update = MedoidSamplingAttention(n_candidates, n_nearest)
    current, others = update._candidates(
        by_cluster, bounds, own[by_cluster], nearness[by_cluster], keys
    )

    # The definition, cluster by cluster in increasing index.
    expected_current, expected_others = [], []
    for j in range(n_clusters):
        cluster = np.flatnonzero(labels == j)
        if not cluster.size:
            continue
        medoid = cluster[np.argmin(own[cluster])]  # the first of least own
        rest = sorted(set(cluster) - {medoid}, key=lambda i: (nearness[i], i))
        nearest = rest[:n_nearest]
        drawable = [i for i in rest[n_nearest:] if np.isfinite(keys[i])]
        drawn = sorted(drawable, key=lambda i: (-keys[i], i))[:n_candidates]
        expected_current.append(medoid)
        expected_others += nearest + drawn
    assert_array_equal(current, expected_current)
    assert_array_equal(others, expected_others)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_literal_forward_replays_the_nearest_members_on_tied_data(metric, container):
    # Integer points on a small grid, many of them repeated: distances to a
    # medoid tie at every rank, so the replay must break ties as the fit does.
    rng = np.random.RandomState(3)
    X = rng.randint(0, 4, size=(150, 3)).astype(float) + 1.0
    sample_weight = rng.randint(1, 4, 150).astype(float)
    km = TransformerKMedoids(
        5, metric=metric, n_candidates=2, n_nearest=3, n_init=1, random_state=0
    ).fit(container(X), sample_weight=sample_weight)
    output = km.network_.forward(
        container(X), km.init_centers_, km.n_iter_, sample_weight=sample_weight
    )
    assert_array_equal(output.labels, km.labels_)
    assert_array_equal(output.centers, km.cluster_centers_)


def test_nearest_members_find_better_medoids_than_draws_alone():
    # Each layer scores the same number of candidates; the local search
    # settles lower on blobs, averaged over seedings (each fit is one
    # seeding, and the two searches start from the same seeding).
    X, _ = make_blobs(2000, 5, centers=6, cluster_std=2.0, random_state=0)
    ratios = []
    for seed in range(5):
        params = dict(n_init=1, random_state=seed)
        local = TransformerKMedoids(6, n_candidates=4, n_nearest=12, **params).fit(X)
        drawn = TransformerKMedoids(6, n_candidates=16, n_nearest=0, **params).fit(X)
        assert_array_equal(local.init_centers_, drawn.init_centers_)
        ratios.append(local.inertia_ / drawn.inertia_)
    assert np.mean(ratios) < 1.0, ratios


# ---------------------------------------------------------------------------
# 14. The replay on hard inputs: members of weight 0, duplicates, tiny rows
# ---------------------------------------------------------------------------


def _replay(km, X, sample_weight=None):
    return km.network_.forward(
        X, km.init_centers_, km.n_iter_, sample_weight=sample_weight
    )


@pytest.mark.parametrize("random_state", [1, 4, 5])
def test_replay_zero_weight_member_is_nearest(random_state):
    X = np.array([[0.0], [1.0], [2.0], [2.1], [5.0], [5.2]])
    sample_weight = np.array([1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    km = TransformerKMedoids(
        1,
        init=np.array([[0.0]]),
        n_nearest=1,
        n_candidates=1,
        max_iter=1,
        random_state=random_state,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter=1
        km.fit(X, sample_weight=sample_weight)
    output = _replay(km, X, sample_weight)
    # The zero-weight X[1] is a member, the medoid's nearest: in the replay
    # too.
    assert_array_equal(output.centers, km.cluster_centers_)


def test_replay_zero_weight_members_random():
    rng = np.random.RandomState(0)
    mismatches = 0
    for trial in range(20):
        X = rng.randint(0, 5, size=(40, 2)) + rng.uniform(0, 0.01, size=(40, 2))
        sample_weight = rng.randint(0, 3, 40).astype(float)
        km = TransformerKMedoids(
            3, n_candidates=1, n_nearest=1, n_init=1, random_state=trial
        ).fit(X, sample_weight=sample_weight)
        output = _replay(km, X, sample_weight)
        mismatches += not np.array_equal(output.centers, km.cluster_centers_)
    assert mismatches == 0


def _duplicates_and_far_init():
    rng = np.random.RandomState(3)
    X = np.vstack(
        [rng.randn(30, 2), rng.randn(30, 2) + 6, np.repeat([[3.0, 3.0]], 6, axis=0)]
    )
    init = np.array([[1e6, 0.0], [1e6, 1.0], [0.0, 0.0], [6.0, 6.0]])
    return X, init


@pytest.mark.parametrize("metric", ["sqeuclidean", "manhattan"])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_replay_duplicate_rows_far_init(metric, container):
    X, init = _duplicates_and_far_init()
    X = container(X)
    km = TransformerKMedoids(4, init=init, n_init=1, metric=metric, random_state=0)
    km.fit(X)
    output = _replay(km, X)
    assert_array_equal(output.labels, km.labels_)
    assert_array_equal(output.centers, km.cluster_centers_)


def _integer_grid_fit():
    rng = np.random.RandomState(2)
    X = rng.randint(0, 6, size=(6000, 3)).astype(float)
    sample_weight = rng.randint(1, 3, 6000).astype(float)
    km = TransformerKMedoids(
        3, metric="euclidean", random_state=0, n_init=1, max_iter=6
    ).fit(X, sample_weight=sample_weight)
    return km, X, sample_weight


def test_replay_emits_no_runtime_warning():
    km, X, sample_weight = _integer_grid_fit()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # The erase head averages identical tokens, leaving slot entries
        # of +-2.2e-16: the sampling head reads the slots rounded, and no
        # logarithm of a negative residue is taken.
        _replay(km, X, sample_weight)


def test_replay_integer_grid_default_parameters():
    km, X, sample_weight = _integer_grid_fit()
    output = _replay(km, X, sample_weight)
    assert_array_equal(output.centers, km.cluster_centers_)
    assert_array_equal(output.labels, km.labels_)


def test_cosine_dissimilarity_to_assigned_of_tiny_rows():
    # A product of two rows of 1e-170 underflows: the centers are scaled to
    # the unit sphere first.
    from sklearn_kmt._components import CosineScore
    from sklearn_kmt._tokens import PointTokens

    X = np.array([[1e-170, 2e-170], [2e-170, 4e-170], [1.0, 2.0]])
    points = PointTokens(X, np.ones(3))
    score = CosineScore()
    centers = X[:1]
    expected = score.pairwise(X, centers).ravel()  # parallel rows: 0
    got = score.dissimilarity_to_assigned(points, centers, np.zeros(3, np.intp), 3)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def _cosine_tiny_rows():
    rng = np.random.RandomState(1)
    return np.vstack([rng.randn(20, 3), rng.randn(10, 3) * 1e-170, np.zeros((3, 3))])


def test_cosine_tiny_rows_medoids_inertia_and_replay():
    X = _cosine_tiny_rows()
    km = TransformerKMedoids(3, metric="cosine", random_state=0, n_init=1).fit(X)
    output = _replay(km, X)
    # Squared distances between rows of 1e-170 underflow to 0: the medoid
    # must still be told from the rows next to it, in the layers and in
    # medoid_indices_.
    assert_array_equal(output.centers, km.cluster_centers_)
    from sklearn_kmt._components import CosineScore

    true_inertia = CosineScore().pairwise(X, km.cluster_centers_).min(axis=1).sum()
    np.testing.assert_allclose(km.inertia_, true_inertia, rtol=1e-9)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean"])
def test_seeding_holds_prepared_rows_only_within_the_budget(metric):
    from sklearn_kmt._components import pairwise_against
    from sklearn_kmt._kmedoids import METRIC_SCORES

    X = np.random.RandomState(0).uniform(-3, 3, size=(20_000, 30))
    centers = X[[5, 17, 999]]
    expected = cdist(X, centers, SCIPY_METRICS[metric])
    for budget, holds_a_copy in [(2**30, True), (0, False)]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sklearn_kmt._components.HELD_ROWS_BYTES", budget)
            peak = _peak_traced_bytes(
                lambda: pairwise_against(METRIC_SCORES[metric](), X)
            )
            dissimilarity = pairwise_against(METRIC_SCORES[metric](), X)
        # Prepared rows are a float64 copy of X with two more columns.
        assert (peak >= X.nbytes) == holds_a_copy, peak
        assert_allclose(dissimilarity(X, centers), expected, rtol=1e-9, atol=1e-6)
