"""Each component of the k-means transformer against its definition."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmt._components import (
    AssignAttention,
    ClusterStatistics,
    Hardmax,
    RelocationHead,
    SquaredEuclideanScore,
    TrimmingGate,
    UpdateAttention,
)
from sklearn_kmt._streams import InMemoryStream
from sklearn_kmt._tokens import CentroidTokens, OneHotSlots, PointTokens

CONTAINERS = {"dense": np.asarray, "csr": sp.csr_matrix}


def textbook_squared_distances(X, centers):
    X = X.toarray() if sp.issparse(X) else X
    return ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def test_hardmax_picks_the_largest_score_and_the_first_of_tied_ones():
    scores = np.array([[0.0, 2.0, 1.0], [3.0, 3.0, 1.0], [-1.0, -5.0, -1.0]])
    assert Hardmax()(scores).labels.tolist() == [1, 0, 0]


@pytest.mark.parametrize("n_keys", [1, 2, 7, 16, 17, 40, 300])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_hardmax_in_either_memory_layout_follows_the_first_largest_rule(n_keys, layout):
    # Small integers make many ties; key-major (F) scores take the running maximum.
    rng = np.random.RandomState(n_keys)
    scores = rng.randint(0, 4, size=(500, n_keys)).astype(float, order=layout)
    expected = []
    for row in scores:
        best = 0
        for key in range(1, n_keys):
            if row[key] > row[best]:
                best = key
        expected.append(best)
    assert Hardmax()(scores).labels.tolist() == expected


@pytest.mark.parametrize("container", CONTAINERS.values(), ids=CONTAINERS.keys())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_clusters", [7, 40])
def test_assign_attention_picks_the_nearest_centroid(container, dtype, n_clusters):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 5)).astype(dtype)
    centers = rng.standard_normal((n_clusters, 5)).astype(dtype)
    attention = AssignAttention()
    points = container(X)
    labels = attention(points, centers, attention.key_bias(centers)).labels
    expected = textbook_squared_distances(X.astype(np.float64), centers).argmin(axis=1)
    np.testing.assert_array_equal(labels, expected)


# Few keys and features (key-major scores), more keys than features (the bias
# through a constant coordinate), more features than keys (the bias added),
# few keys but many features (key-major in float64, the bias added in
# float32), sparse.
@pytest.mark.parametrize(
    "n_clusters, n_features, container",
    [
        (6, 4, np.asarray),
        (40, 4, np.asarray),
        (20, 30, np.asarray),
        (6, 100, np.asarray),
        (6, 100, lambda X: X.astype(np.float32)),
        (40, 4, sp.csr_matrix),
    ],
)
def test_assign_attention_scores_are_minus_half_squared_distances_up_to_a_constant(
    n_clusters, n_features, container
):
    rng = np.random.RandomState(1)
    X = rng.standard_normal((30, n_features))
    centers = rng.standard_normal((n_clusters, n_features))
    attention = AssignAttention()
    scores = attention.scores(container(X), centers, attention.key_bias(centers))
    negative_half = -0.5 * textbook_squared_distances(X, centers)
    row_constant = scores - negative_half
    np.testing.assert_allclose(
        row_constant, row_constant[:, :1].repeat(n_clusters, axis=1)
    )
    np.testing.assert_allclose(row_constant[:, 0], 0.5 * (X**2).sum(axis=1))


@pytest.mark.parametrize("container", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_update_attention_gives_the_weighted_mean_of_each_cluster(container):
    rng = np.random.RandomState(2)
    X = rng.standard_normal((100, 3))
    labels = rng.randint(0, 4, size=100).astype(np.int32)
    weights = rng.uniform(0.1, 3.0, size=100)
    centers = rng.standard_normal((5, 3))  # cluster 4 has no member
    attention = UpdateAttention()
    statistics = ClusterStatistics(5, 3)
    points = container(X)
    for rows in [slice(0, 37), slice(37, 38), slice(38, 100)]:
        slots = OneHotSlots(labels[rows], 5)
        attention.accumulate(statistics, points[rows], slots, weights[rows])
    new_centers = attention(statistics, centers)
    for j in range(4):
        members = labels == j
        expected = (weights[members, None] * X[members]).sum(0) / weights[members].sum()
        np.testing.assert_allclose(new_centers[j], expected, rtol=1e-12)
    np.testing.assert_array_equal(new_centers[4], centers[4])


def test_update_attention_never_attends_a_point_of_zero_weight():
    X = np.array([[0.0], [2.0], [100.0]])
    labels = np.array([0, 0, 0], dtype=np.int32)
    statistics = ClusterStatistics(1, 1)
    attention = UpdateAttention()
    attention.accumulate(
        statistics, X, OneHotSlots(labels, 1), np.array([1.0, 1.0, 0.0])
    )
    updated = attention(statistics, np.zeros((1, 1)))
    np.testing.assert_array_equal(updated, [[1.0]])


def test_update_attention_leaves_a_centroid_whose_members_weigh_nothing_in_place():
    X = np.array([[0.0], [2.0], [5.0]])
    labels = np.array([0, 0, 1], dtype=np.int32)
    statistics = ClusterStatistics(2, 1)
    attention = UpdateAttention()
    attention.accumulate(
        statistics, X, OneHotSlots(labels, 2), np.array([1.0, 1.0, 0.0])
    )
    new_centers = attention(statistics, np.array([[9.0], [7.0]]))
    np.testing.assert_array_equal(new_centers, [[1.0], [7.0]])


@pytest.mark.parametrize("container", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_squared_distances_to_assigned_centroid(container):
    rng = np.random.RandomState(3)
    X = rng.standard_normal((50, 4)) * (rng.uniform(size=(50, 4)) < 0.5)
    centers = rng.standard_normal((3, 4))
    labels = rng.randint(0, 3, size=50).astype(np.int32)
    points = PointTokens(container(X), np.ones(50))
    distances = SquaredEuclideanScore().dissimilarity_to_assigned(
        points, centers, labels, chunk_n_rows=7
    )
    expected = ((X - centers[labels]) ** 2).sum(axis=1)
    np.testing.assert_allclose(distances, expected, rtol=1e-12, atol=1e-12)


def assigned_stream(points, centers, labels):
    """An in-memory stream of ``points`` and slots naming ``labels``."""
    stream = InMemoryStream(points)
    slots = stream.assign(AssignAttention(), centers)
    slots.labels = labels
    return stream, slots


@pytest.mark.parametrize("container", CONTAINERS.values(), ids=CONTAINERS.keys())
def test_relocation_head_moves_the_farthest_points_to_the_empty_centroids(container):
    X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [0.0, 20.0], [0.5, 0.5]])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 1.0])
    centers = np.array([[0.0, 0.0], [50.0, 50.0], [60.0, 60.0]])
    labels = np.zeros(5, dtype=np.int32)  # clusters 1 and 2 are empty
    points = PointTokens(container(X), weights)
    statistics = ClusterStatistics(3, 2)
    UpdateAttention().accumulate(
        statistics, points.data, OneHotSlots(labels, 3), weights
    )
    stream, slots = assigned_stream(points, centers, labels)
    RelocationHead()(stream, statistics, slots)
    # The farthest point from its centroid, [0, 20], goes to the first empty
    # centroid, the next farthest, [10, 0], to the second.
    np.testing.assert_allclose(statistics.sums[1], 4.0 * X[3])
    np.testing.assert_allclose(statistics.sums[2], 3.0 * X[2])
    np.testing.assert_allclose(statistics.weights, [4.0, 4.0, 3.0])
    kept = [0, 1, 4]
    np.testing.assert_allclose(
        statistics.sums[0], (weights[kept, None] * X[kept]).sum(0)
    )


def test_relocation_head_moves_nothing_when_every_point_sits_on_its_centroid():
    X = np.array([[0.0], [0.0], [3.0]])
    centers = np.array([[0.0], [3.0], [8.0]])
    labels = np.array([0, 0, 1], dtype=np.int32)
    points = PointTokens(X, np.ones(3))
    statistics = ClusterStatistics(3, 1)
    UpdateAttention().accumulate(statistics, X, OneHotSlots(labels, 3), np.ones(3))
    sums, weights = statistics.sums.copy(), statistics.weights.copy()
    stream, slots = assigned_stream(points, centers, labels)
    RelocationHead()(stream, statistics, slots)
    np.testing.assert_array_equal(statistics.sums, sums)
    np.testing.assert_array_equal(statistics.weights, weights)


def test_one_hot_slots_and_literal_token_matrices():
    labels = np.array([2, 0, 2], dtype=np.int32)
    slots = OneHotSlots(labels, 3).dense()
    np.testing.assert_array_equal(slots, np.eye(3)[labels])
    X = np.arange(6.0).reshape(3, 2)
    tokens = PointTokens(sp.csr_matrix(X), np.ones(3)).dense(slots)
    np.testing.assert_array_equal(tokens, np.hstack([X, np.eye(3)[labels]]))
    centers = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(
        CentroidTokens(centers).dense(), np.hstack([centers, np.eye(3)])
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", ["unit", "uniform", "far_light"])
def test_trimming_gate_trims_the_farthest_prefix_within_the_weight_budget(
    seed, weights
):
    # Many tied distances, and weights that make the farthest points light
    # (so that the trimmed prefix runs deep), against a full stable sort.
    rng = np.random.RandomState(seed)
    n = 5000
    dissimilarities = rng.randint(0, 300, size=n).astype(float)
    sample_weight = {
        "unit": np.ones(n),
        "uniform": rng.uniform(0.1, 3.0, size=n),
        "far_light": np.exp(-dissimilarities / 20),
    }[weights]
    trim_fraction = [0.0, 0.01, 0.1, 0.3, 0.5, 0.9][seed]

    farthest_first = np.argsort(-dissimilarities, kind="stable")
    cumulative = np.cumsum(sample_weight[farthest_first])
    budget = trim_fraction * np.sum(sample_weight)
    n_trimmed = np.searchsorted(cumulative, budget, side="right")
    expected = np.ones(n, dtype=bool)
    expected[farthest_first[:n_trimmed]] = False

    kept = TrimmingGate(trim_fraction).kept(dissimilarities, sample_weight)
    np.testing.assert_array_equal(kept, expected)

    # The same set when the points come in chunks, some empty: each chunk
    # offers, the offers combine two by two, the cutoff ends the trimmed set.
    gate = TrimmingGate(trim_fraction)
    gate_budget = gate.budget(np.sum(sample_weight, dtype=np.float64), n)
    bounds = np.sort(np.concatenate([[0, 0, n, n], rng.randint(0, n, size=6)]))
    offers = [
        gate.offer(dissimilarities[a:b], sample_weight[a:b], gate_budget, a)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    while len(offers) > 1:
        offers = [
            gate.combined(gate_budget, *offers[i : i + 2])
            for i in range(0, len(offers), 2)
        ]
    cutoff = gate.cutoff(offers[0], gate_budget)
    trimmed = np.concatenate(
        [
            gate.trimmed(dissimilarities[a:b], cutoff, a)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )
    np.testing.assert_array_equal(~trimmed, expected)


def tie_heavy_scorings(n_features, n_clusters, rng, n_scorings=5):
    """Integer data, and centers that are means of a few rows: many exact
    and near ties. Yields the data, the centers and the labels KMeans
    predicts with them (its product rounds in blocks of 256 rows, the last
    one partial)."""
    X = rng.randint(0, 5, size=(3001, n_features)).astype(np.float64)
    for _ in range(n_scorings):
        centers = np.array(
            [
                X[rng.choice(3001, rng.randint(1, 7))].mean(axis=0)
                for _ in range(n_clusters)
            ]
        )
        # Any fit gives KMeans its fitted state; the centers are then set.
        kmeans = KMeans(n_clusters, init=centers, n_init=1, max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            kmeans.fit(X[: n_clusters * 3])
        kmeans.cluster_centers_ = centers
        yield X, centers, kmeans.predict(X)


@pytest.mark.parametrize(
    "n_features, n_clusters",
    [(2, 5), (8, 16), (3, 40), (50, 8), (300, 12), (300, 40), (784, 10)],
    ids=str,
)
@pytest.mark.parametrize("norm_bound", ["read from the chunk", "the stream's"])
def test_best_keys_are_those_kmeans_predicts_on_tie_heavy_data(
    n_features, n_clusters, norm_bound
):
    # The stream may give the bound on the points' norms that a certified
    # hardmax needs, instead of each chunk.
    rng = np.random.RandomState(0)
    score = SquaredEuclideanScore()
    for X, centers, expected in tie_heavy_scorings(n_features, n_clusters, rng):
        largest_norm = None
        if norm_bound == "the stream's":
            largest_norm = float(np.sqrt(np.max(np.sum(X * X, axis=1))))
        labels = score.first_best(X, centers, score.key_bias(centers), largest_norm)
        np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize(
    "n_features, n_clusters", [(2, 8), (8, 16), (300, 12)], ids=str
)
def test_certified_best_keys_hold_against_any_rounding_within_the_bound(
    monkeypatch, n_features, n_clusters
):
    # The fast scores may round in any order: here each is moved at random
    # by up to the bound on the error of any summation order. The near ties
    # it could flip are scored again as KMeans scores them.
    from sklearn_kmt import _gemm

    rng = np.random.RandomState(0)
    exact_order = _gemm._key_major_scores

    def another_rounding(queries, keys, key_bias):
        scores_by_key = exact_order(queries, keys, key_bias)
        terms = (n_features + 1) * np.finfo(np.float64).eps / 2
        norms = np.sqrt(np.sum(queries * queries, axis=1))
        bound = terms * (
            np.abs(key_bias)[:, None]
            + np.outer(np.sqrt(np.sum(keys * keys, axis=1)), norms)
        )
        return scores_by_key + bound * rng.uniform(-1, 1, scores_by_key.shape)

    monkeypatch.setattr(_gemm, "_key_major_scores", another_rounding)
    score = SquaredEuclideanScore()
    for X, centers, expected in tie_heavy_scorings(n_features, n_clusters, rng):
        labels = score.first_best(X, centers, score.key_bias(centers))
        np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("n_empty", [1, 3, 40])
def test_relocation_offers_combine_into_the_farthest_movable_points(n_empty):
    # Tied distances and points the head never moves (minus infinity),
    # offered in chunks (some empty) and combined: the farthest first, ties
    # by index, as a full sort finds them.
    rng = np.random.RandomState(n_empty)
    ranked = rng.randint(0, 20, size=300).astype(float)
    ranked[rng.rand(300) < 0.2] = -np.inf
    movable = np.flatnonzero(np.isfinite(ranked))
    expected = movable[np.lexsort((movable, -ranked[movable]))][:n_empty]

    head = RelocationHead()
    bounds = np.sort(np.concatenate([[0, 0, 300], rng.randint(0, 300, size=5)]))
    offers = [
        head.offer(ranked[a:b], n_empty, a)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    dissimilarities, index = head.combined(n_empty, *offers)
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(dissimilarities, ranked[expected])
