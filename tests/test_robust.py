"""TransformerRobustKMeans against robust k-means written from its definition.

The reference: assign each point to its nearest centroid (ties to the lowest
index); in each cluster score the members by ``z_i = -beta ||x_i - c_j||^2 /
sqrt(D)`` and weigh them by the weighted sparsemax ``p_i = w_i (z_i - tau)_+``
with ``sum_i p_i = 1``; the threshold ``tau`` is found here by bisection, not
by sorting as in the package; the centroid moves to ``sum_i p_i x_i``. A
cluster that finds no weight takes the point farthest from its centroid.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from sklearn_kmt import TransformerKMeans, TransformerRobustKMeans
from sklearn_kmt._components import (
    AssignAttention,
    Softmax,
    Sparsemax,
    UpdateAttention,
)
from sklearn_kmt._network import kmeans_block
from sklearn_kmt._tokens import PointTokens

from _references import assert_centers_close, dense, squared_distances


def reference_sparsemax(z, w):
    """Weighted sparsemax of the scores ``z`` by bisection on the threshold."""
    if w.sum() == 0:
        return np.zeros_like(z)
    # Relative to the largest score of positive weight: the same weights,
    # and the unit of weight is not lost in the rounding of large scores.
    z = z - z[w > 0].max()
    # sum w (z - tau)_+ falls from >= 1 at the low end to 0 at max(z).
    low = np.min(z) - 1.0 / w.sum()
    high = np.max(z)
    for _ in range(200):
        middle = (low + high) / 2
        if np.sum(w * np.maximum(z - middle, 0.0)) > 1:
            low = middle
        else:
            high = middle
    p = w * np.maximum(z - (low + high) / 2, 0.0)
    return p / p.sum()


def reference_layer(X, w, centers, beta, labels=None, relocate=True):
    """One layer of robust k-means from ``centers``: the assignment (or the
    ``labels`` given), the new centers, and each point's weight in its new
    centroid."""
    distances = squared_distances(X, centers)
    if labels is None:
        labels = np.argmin(distances, axis=1)
    members_of = labels.copy()
    totals = np.bincount(labels, weights=w, minlength=len(centers))
    empty = np.flatnonzero(totals == 0)
    if relocate and empty.size:
        # The farthest points leave their clusters, one for each empty one.
        own = distances[np.arange(X.shape[0]), labels]
        farthest = np.argsort(-own, kind="stable")[: empty.size]
        members_of[farthest] = empty
    new_centers = np.array(centers, dtype=np.float64)
    member_weights = np.zeros(X.shape[0])
    for j in range(len(centers)):
        members = np.flatnonzero(members_of == j)
        if w[members].sum() == 0:
            continue
        z = -beta * distances[members, j] / np.sqrt(X.shape[1])
        p = reference_sparsemax(z, w[members])
        member_weights[members] = p
        new_centers[j] = p @ X[members]
    return labels, new_centers, member_weights


def reference_fit(X, w, init, beta, n_layers):
    X = dense(X).astype(np.float64)
    centers = np.asarray(init, dtype=np.float64)
    for _ in range(n_layers):
        labels, centers, _ = reference_layer(X, w, centers, beta)
    labels, _, member_weights = reference_layer(X, w, centers, beta, relocate=False)
    return labels, centers, member_weights


def assert_nearest(X, centers, labels, reference_labels):
    """Each label names a nearest centroid: the reference's, but where two
    centroids tie within rounding (then either)."""
    distances = squared_distances(X, centers)
    own = distances[np.arange(X.shape[0]), labels]
    best = distances.min(axis=1)
    rounding = 1e-12 * (1 + np.abs(distances).max())
    assert np.all(own <= best + rounding)
    second = np.partition(distances, 1, axis=1)[:, 1] if centers.shape[0] > 1 else best
    clear = second - best > rounding
    np.testing.assert_array_equal(labels[clear], reference_labels[clear])


def with_outliers(n_samples, n_features, n_clusters, n_outliers, seed):
    X, _ = make_blobs(
        n_samples, n_features, centers=n_clusters, cluster_std=1.0, random_state=seed
    )
    rng = np.random.RandomState(seed)
    outliers = rng.uniform(-40, 40, size=(n_outliers, n_features))
    return np.vstack([X, outliers])


def integer_grid(seed):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 4, size=(120, 2)).astype(np.float64)


def repeated_decimals(seed):
    rng = np.random.RandomState(seed)
    return np.round(rng.uniform(0, 1, size=(150, 3)), 1) + 0.1


# (name, X, n_clusters, beta, weighted)
PROBLEMS = [
    ("blobs-1d", make_blobs(200, 1, centers=3, random_state=0)[0], 3, 0.1, False),
    ("blobs-2d", make_blobs(300, 2, centers=4, random_state=1)[0], 4, 0.01, False),
    ("blobs-2d-beta1", make_blobs(300, 2, centers=4, random_state=2)[0], 4, 1.0, False),
    ("blobs-5d", make_blobs(400, 5, centers=5, random_state=3)[0], 5, 0.1, True),
    ("blobs-20d", make_blobs(300, 20, centers=3, random_state=4)[0], 3, 0.05, False),
    ("blobs-k1", make_blobs(100, 3, centers=1, random_state=5)[0], 1, 0.2, False),
    ("blobs-beta10", make_blobs(250, 2, centers=3, random_state=6)[0], 3, 10.0, True),
    (
        "blobs-beta-tiny",
        make_blobs(250, 4, centers=3, random_state=7)[0],
        3,
        1e-4,
        False,
    ),
    ("outliers-2d", with_outliers(300, 2, 3, 15, 8), 3, 0.05, False),
    ("outliers-2d-w", with_outliers(300, 2, 3, 15, 9), 3, 0.05, True),
    ("outliers-5d", with_outliers(400, 5, 4, 20, 10), 4, 0.1, False),
    ("outliers-10d", with_outliers(300, 10, 3, 10, 11), 3, 0.3, True),
    ("outliers-1d", with_outliers(200, 1, 2, 10, 12), 2, 0.5, False),
    ("outliers-k6", with_outliers(500, 3, 6, 30, 13), 6, 0.02, False),
    ("grid-ties", integer_grid(14), 3, 0.5, False),
    ("grid-ties-w", integer_grid(15), 4, 0.2, True),
    ("grid-ties-beta2", integer_grid(16), 2, 2.0, False),
    ("decimals-ties", repeated_decimals(17), 3, 1.0, False),
    ("decimals-ties-w", repeated_decimals(18), 4, 5.0, True),
    ("uniform", np.random.RandomState(19).uniform(size=(300, 3)), 5, 3.0, False),
    (
        "far-from-origin",
        make_blobs(200, 3, centers=3, random_state=20)[0] + 1e4,
        3,
        0.1,
        False,
    ),
    (
        "large-scale",
        make_blobs(200, 2, centers=3, random_state=21)[0] * 1e3,
        3,
        1e-5,
        True,
    ),
]


def problem_weights(X, weighted, seed=0):
    if not weighted:
        return np.ones(X.shape[0])
    return np.random.RandomState(seed).randint(1, 4, X.shape[0]).astype(np.float64)


def problem_init(X, n_clusters, seed=0):
    rng = np.random.RandomState(seed)
    return X[rng.choice(X.shape[0], n_clusters, replace=False)]


@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize(
    "name, X, n_clusters, beta, weighted", PROBLEMS, ids=[p[0] for p in PROBLEMS]
)
def test_fit_equals_the_definition(name, X, n_clusters, beta, weighted, container):
    w = problem_weights(X, weighted)
    init = problem_init(X, n_clusters)
    n_layers = 8
    robust = TransformerRobustKMeans(
        n_clusters, beta=beta, init=init, max_iter=n_layers, tol=0
    )
    data = sp.csr_matrix(X) if container == "csr" else X
    robust.fit(data, sample_weight=w if weighted else None)
    # Layer by layer, from the same centroids: the labels name a nearest
    # centroid, the new centroids are the definition's for those labels.
    trace = robust.network_.forward(
        data, init, robust.n_iter_, sample_weight=w, literal=False, return_trace=True
    ).trace
    centers = init
    for record in trace:
        reference_labels, _, _ = reference_layer(X, w, centers, beta)
        assert_nearest(X, centers, record.labels, reference_labels)
        _, expected, _ = reference_layer(X, w, centers, beta, labels=record.labels)
        assert_centers_close(record.centers, expected, X, 1e-9)
        centers = record.centers
    # The fit's final state: nearest centroids, and the definition's weights.
    centers = robust.cluster_centers_
    labels, _, _ = reference_layer(X, w, centers, beta, relocate=False)
    assert_nearest(X, centers, robust.labels_, labels)
    _, _, member_weights = reference_layer(
        X, w, centers, beta, labels=robust.labels_, relocate=False
    )
    np.testing.assert_allclose(robust.member_weights_, member_weights, atol=1e-9)
    if "ties" not in name:
        # Without ties the fit (on centred data) is the replay's up to
        # rounding, and the whole fit is the definition's, layer after layer
        # (a fit that stopped early stopped on a fixed point).
        assert_centers_close(trace[-1].centers, robust.cluster_centers_, X, 1e-12)
        labels, centers, _ = reference_fit(X, w, init, beta, n_layers)
        np.testing.assert_array_equal(robust.labels_, labels)
        assert_centers_close(robust.cluster_centers_, centers, X, 1e-9)


@pytest.mark.parametrize(
    "name, X, n_clusters, beta, weighted", PROBLEMS, ids=[p[0] for p in PROBLEMS]
)
def test_beta_zero_is_kmeans_bit_for_bit(name, X, n_clusters, beta, weighted):
    w = problem_weights(X, weighted)
    init = problem_init(X, n_clusters)
    robust = TransformerRobustKMeans(n_clusters, beta=0.0, init=init).fit(
        X, sample_weight=w
    )
    kmeans = TransformerKMeans(n_clusters, init=init).fit(X, sample_weight=w)
    np.testing.assert_array_equal(robust.labels_, kmeans.labels_)
    np.testing.assert_array_equal(robust.cluster_centers_, kmeans.cluster_centers_)
    assert robust.n_iter_ == kmeans.n_iter_
    assert robust.inertia_ == kmeans.inertia_
    # Each member weighs its share of the cluster's sample weight.
    totals = np.bincount(kmeans.labels_, weights=w)
    np.testing.assert_allclose(
        robust.member_weights_, w / totals[kmeans.labels_], rtol=1e-12
    )


def test_small_beta_tends_to_kmeans():
    X, _ = make_blobs(500, 3, centers=4, cluster_std=2.0, random_state=0)
    init = problem_init(X, 4)
    kmeans = TransformerKMeans(4, init=init, max_iter=20, tol=0).fit(X)
    errors = []
    for beta in (1e-6, 1e-8, 1e-10, 1e-12):
        robust = TransformerRobustKMeans(
            4, beta=beta, init=init, max_iter=20, tol=0
        ).fit(X)
        np.testing.assert_array_equal(robust.labels_, kmeans.labels_)
        errors.append(np.abs(robust.cluster_centers_ - kmeans.cluster_centers_).max())
    # The sparsemax weights depart from the mean's in proportion to beta.
    assert errors[-1] < 1e-8
    np.testing.assert_allclose(np.diff(np.log10(errors)), -2, atol=0.1)


NO_TIES = [p for p in PROBLEMS if "ties" not in p[0]]


@pytest.mark.parametrize(
    "name, X, n_clusters, beta, weighted",
    NO_TIES[::2],
    ids=[p[0] for p in NO_TIES[::2]],
)
def test_literal_replay_equals_fit(name, X, n_clusters, beta, weighted):
    w = problem_weights(X, weighted)
    robust = TransformerRobustKMeans(n_clusters, beta=beta, random_state=0).fit(
        X, sample_weight=w
    )
    network = robust.network_
    fast = network.forward(
        X, robust.init_centers_, robust.n_iter_, sample_weight=w, literal=False
    )
    np.testing.assert_array_equal(fast.labels, robust.labels_)
    # The fit centred the data, the replay did not: the same up to rounding.
    assert_centers_close(fast.centers, robust.cluster_centers_, X, 1e-12)
    literal = network.forward(
        X, robust.init_centers_, robust.n_iter_, sample_weight=w, return_trace=True
    )
    np.testing.assert_array_equal(literal.labels, robust.labels_)
    assert_centers_close(literal.centers, robust.cluster_centers_, X, 1e-9)
    # The update attention's map is the weighted sparsemax over each cluster.
    last = literal.trace[-1]
    attention = last.attention["update_attention"]
    assert attention.shape == (n_clusters, X.shape[0])
    previous = literal.trace[-2].centers if len(literal.trace) > 1 else None
    if previous is not None:
        _, _, member_weights = reference_layer(X, w, previous, beta)
        np.testing.assert_allclose(attention.sum(axis=0), member_weights, atol=1e-9)


def test_far_members_get_zero_weight_and_do_not_pull():
    rng = np.random.RandomState(0)
    cluster = rng.normal(size=(200, 2))
    far = np.array([[15.0, 15.0], [16.0, 14.0], [14.0, 16.5]])
    X = np.vstack([cluster, far, rng.normal(size=(200, 2)) + [60.0, 0.0]])
    init = np.array([[0.0, 0.0], [60.0, 0.0]])
    robust = TransformerRobustKMeans(2, beta=0.01, init=init).fit(X)
    kmeans = TransformerKMeans(2, init=init).fit(X)
    # The far members belong to the first cluster but weigh nothing in it.
    assert np.all(robust.labels_[200:203] == robust.labels_[0])
    np.testing.assert_array_equal(robust.member_weights_[200:203], 0.0)
    robust_error = np.linalg.norm(robust.cluster_centers_[0] - cluster.mean(axis=0))
    kmeans_error = np.linalg.norm(kmeans.cluster_centers_[0] - cluster.mean(axis=0))
    assert kmeans_error > 0.15
    assert robust_error < kmeans_error / 3
    for j in range(2):
        total = robust.member_weights_[robust.labels_ == j].sum()
        assert total == pytest.approx(1.0, rel=1e-12)


def test_integer_weights_equal_repeated_samples():
    X, _ = make_blobs(150, 3, centers=3, random_state=0)
    w = np.random.RandomState(0).randint(1, 4, X.shape[0])
    init = problem_init(X, 3)
    weighted = TransformerRobustKMeans(3, beta=0.5, init=init, max_iter=10, tol=0)
    weighted.fit(X, sample_weight=w)
    repeated = TransformerRobustKMeans(3, beta=0.5, init=init, max_iter=10, tol=0)
    repeated.fit(np.repeat(X, w, axis=0))
    np.testing.assert_array_equal(np.repeat(weighted.labels_, w), repeated.labels_)
    assert_centers_close(weighted.cluster_centers_, repeated.cluster_centers_, X, 1e-12)


@pytest.mark.parametrize("beta", [0.0, 1e-5, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_empty_cluster_takes_the_farthest_point(beta, weighted):
    X, _ = make_blobs(200, 2, centers=2, cluster_std=0.5, random_state=0)
    w = problem_weights(X, weighted)
    init = np.vstack([X[:2], [[500.0, 500.0]]])
    robust = TransformerRobustKMeans(3, beta=beta, init=init, max_iter=1, tol=0)
    robust.fit(X, sample_weight=w)
    _, centers, _ = reference_layer(X, w, init, beta)
    # The farthest point left its cluster, whose weights are those of the
    # members without it (at small beta it had weight there); it alone
    # makes the empty cluster.
    assert_centers_close(robust.cluster_centers_, centers, X, 1e-12)
    farthest = np.all(X == centers[2], axis=1)
    assert farthest.sum() == 1


def test_thresholds_do_not_depend_on_the_chunks():
    rng = np.random.RandomState(0)
    n_points, n_clusters = 2000, 5
    labels = rng.randint(-1, n_clusters, n_points)
    distances = np.round(rng.exponential(size=n_points), 2)  # many ties
    weight = rng.randint(0, 3, n_points).astype(np.float64)
    sparsemax = Sparsemax(beta=0.3)
    reduction = sparsemax.thresholds(n_clusters, n_features=4)

    def offer(rows):
        points = PointTokens(np.zeros((rows.size, 4)), weight[rows], start=rows[0])
        return reduction.offer(points, labels[rows], distances[rows])

    whole = reduction.finish(offer(np.arange(n_points)))
    # The rule for the whole stream at once (in memory) gives the same.
    points = PointTokens(np.zeros((n_points, 4)), weight)
    in_memory = reduction.whole(points, labels, distances)
    for mine, theirs in zip(in_memory, whole, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    for n_chunks in (2, 7, 50):
        chunks = np.array_split(np.arange(n_points), n_chunks)
        merged = reduction.finish(reduction.combine(*(offer(c) for c in chunks)))
        for mine, theirs in zip(merged, whole, strict=True):
            np.testing.assert_array_equal(mine, theirs)
    # Against the definition: sum_i w_i (t_j - d_i)_+ = sqrt(D) / beta.
    thresholds, _ = whole
    for j in range(n_clusters):
        members = labels == j
        excess = weight[members] * np.maximum(thresholds[j] - distances[members], 0)
        assert excess.sum() == pytest.approx(np.sqrt(4) / 0.3, rel=1e-12)


@pytest.mark.parametrize("scale", [2.0**-300, 2.0**300, 1e150, 1e-150])
def test_any_magnitude(scale):
    X = with_outliers(200, 2, 2, 10, 0)
    init = problem_init(X, 2)
    reference = TransformerRobustKMeans(2, beta=0.1, init=init, max_iter=10, tol=0)
    reference.fit(X)
    # beta in inverse squared units: the same clustering of the scaled data.
    scaled = TransformerRobustKMeans(
        2, beta=0.1 / scale**2, init=init * scale, max_iter=10, tol=0
    ).fit(X * scale)
    np.testing.assert_array_equal(scaled.labels_, reference.labels_)
    assert np.all(np.isfinite(scaled.cluster_centers_))
    np.testing.assert_allclose(
        scaled.cluster_centers_ / scale, reference.cluster_centers_, rtol=1e-9
    )
    np.testing.assert_allclose(
        scaled.member_weights_, reference.member_weights_, atol=1e-12
    )


def test_float32_is_kept():
    X = with_outliers(300, 3, 3, 10, 1).astype(np.float32)
    robust = TransformerRobustKMeans(3, beta=0.1, random_state=0).fit(X)
    assert robust.cluster_centers_.dtype == np.float32
    assert robust.transform(X).dtype == np.float32
    as_float64 = TransformerRobustKMeans(3, beta=0.1, random_state=0).fit(
        X.astype(np.float64)
    )
    np.testing.assert_array_equal(robust.labels_, as_float64.labels_)
    np.testing.assert_allclose(
        robust.cluster_centers_, as_float64.cluster_centers_, rtol=1e-4, atol=1e-4
    )


def test_beta_is_validated():
    with pytest.raises(ValueError, match="beta"):
        TransformerRobustKMeans(2, beta=-1.0).fit(np.eye(3))


def test_sparsemax_update_needs_one_hot_slots():
    with pytest.raises(ValueError, match="soft slots"):
        kmeans_block(
            assign_attention=AssignAttention(normaliser=Softmax(1.0)),
            update_attention=UpdateAttention(normaliser=Sparsemax(0.1)),
        )


def test_network_names_the_swapped_component():
    robust = TransformerRobustKMeans(2, beta=0.25, random_state=0).fit(np.eye(4))
    block = robust.network_.block
    assert block.update_attention == UpdateAttention(normaliser=Sparsemax(0.25))
    unchanged = kmeans_block()
    for name in ("assign_attention", "relocation_head", "normalisation", "gate"):
        assert getattr(block, name) == getattr(unchanged, name)
    assert "Sparsemax(beta=0.25)" in str(robust.network_)
    assert "update_attention.distance.W_Q" in robust.network_.parameters()


@pytest.mark.parametrize("scale, beta", [(1.0, 1.0), (1.0, 1e300), (1e8, 1e-16)])
def test_a_member_of_no_weight_never_stands_for_the_nearest(scale, beta):
    # At large beta the weight goes to the nearest member of positive weight;
    # the nearer one of weight 0 gets none.
    X = np.array([[0.0], [1.0], [3.0], [10.0], [11.0]]) * scale
    w = np.array([0.0, 1.0, 1.0, 1.0, 1.0])
    init = np.array([[0.0], [10.0]]) * scale
    robust = TransformerRobustKMeans(2, beta=beta, init=init, max_iter=1, tol=0)
    robust.fit(X, sample_weight=w)
    _, expected, _ = reference_layer(X, w, init, beta)
    assert expected[0, 0] == pytest.approx(scale)
    assert_centers_close(robust.cluster_centers_, expected, X, 1e-12)
    literal = robust.network_.forward(X, init, 1, sample_weight=w)
    assert_centers_close(literal.centers, expected, X, 1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e9])
def test_literal_replay_keeps_the_unit_of_weight_of_large_scores(scale):
    # Scores -beta d / sqrt(D) of 1e18: the unit of weight the sparsemax
    # shares must not vanish in their rounding.
    X = np.array([[5.0], [6.0], [100.0], [101.0]]) * scale
    init = np.array([[0.0], [100.0]]) * scale
    robust = TransformerRobustKMeans(2, beta=1.0, init=init, max_iter=1, tol=0).fit(X)
    literal = robust.network_.forward(X, robust.init_centers_, robust.n_iter_)
    assert_centers_close(literal.centers, robust.cluster_centers_, X, 1e-12)
    expected = np.array([5.0, 100.0]) * scale
    np.testing.assert_allclose(robust.cluster_centers_.ravel(), expected)


@pytest.mark.parametrize("weighted", [False, True])
def test_beta_zero_relocates_as_kmeans_bit_for_bit(weighted):
    # An empty cluster takes the farthest point; at beta = 0 its old cluster
    # loses it as k-means' does, to the last bit.
    X = np.random.RandomState(0).normal(size=(30, 2))
    w = problem_weights(X, weighted)
    init = np.vstack([X[:2], [[50.0, 50.0]]])
    params = dict(init=init, max_iter=1, tol=0)
    robust = TransformerRobustKMeans(3, beta=0.0, **params).fit(X, sample_weight=w)
    kmeans = TransformerKMeans(3, **params).fit(X, sample_weight=w)
    np.testing.assert_array_equal(robust.cluster_centers_, kmeans.cluster_centers_)
    np.testing.assert_array_equal(robust.labels_, kmeans.labels_)
    assert robust.n_iter_ == kmeans.n_iter_
