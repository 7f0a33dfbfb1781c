"""Tests for the token router: tokens routed around the assignment attention.

A routed layer must be the same layer: the references are
``sklearn.cluster.KMeans(algorithm="lloyd")`` and the same estimator with
``algorithm="lloyd"``, which sends every token through every layer, and for
the bounds themselves distances computed here in extended precision (for
spherical k-means, between the points and centroids normalised here).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.utils._testing import assert_array_equal
from test_kmeans import PROBLEMS, _relocation_problem, tie_heavy_problems

from sklearn_kmt import (
    TransformerKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)
from sklearn_kmt._components import (
    AssignAttention,
    CosineScore,
    ManhattanScore,
    Softmax,
    SquaredEuclideanScore,
    UnitSphereNormalisation,
)
from sklearn_kmt._network import kmeans_block
from sklearn_kmt._routing import TokenRouter
from sklearn_kmt._streams import InMemoryStream
from sklearn_kmt._tokens import PointTokens

# Routers that route from the second layer on, whatever the centroids' moves,
# and keep their bounds however many tokens go through: one gathers the
# undecided tokens of a chunk however many, one sends every chunk through the
# attention whole (keeping the bounds of the tokens whose slot stays), one
# scores chunks one batch long.
EAGER_ROUTERS = {
    "gathered": TokenRouter(
        min_undecided_to_gather=2.0, most_undecided=1.0, most_routed=1.0
    ),
    "whole": TokenRouter(
        min_undecided_to_gather=0.0, most_undecided=1.0, most_routed=1.0
    ),
    "short-chunks": TokenRouter(
        min_undecided_to_gather=2.0,
        most_undecided=1.0,
        most_routed=1.0,
        chunk_batches=1,
    ),
}


def routed(estimator, router):
    """``estimator`` with ``router`` before its assignment attention."""
    make_block = estimator._make_block

    def routed_block():
        block = make_block()
        return kmeans_block(
            **{**block.components(), "router": router},
        )

    estimator._make_block = routed_block
    return estimator


def assert_same_layers(ours, textbook, reference=None):
    """Routing changed nothing: labels, layers and centers (bit for bit) of
    the textbook pass, and KMeans' labels and layers."""
    assert_array_equal(ours.labels_, textbook.labels_)
    assert ours.n_iter_ == textbook.n_iter_
    assert_array_equal(ours.cluster_centers_, textbook.cluster_centers_)
    if reference is not None:
        assert_array_equal(ours.labels_, reference.labels_)
        assert ours.n_iter_ == reference.n_iter_


@pytest.mark.parametrize("router", list(EAGER_ROUTERS))
@pytest.mark.parametrize("problem", PROBLEMS, ids=str)
def test_routed_fit_equals_kmeans_on_every_problem(problem, router, to_container):
    X, _, sample_weight, params = problem.build(to_container)
    ours = routed(TransformerKMeans(**params), EAGER_ROUTERS[router])
    ours.fit(X, sample_weight=sample_weight)
    textbook = TransformerKMeans(algorithm="lloyd", **params)
    textbook.fit(X, sample_weight=sample_weight)
    reference = KMeans(algorithm="lloyd", **params).fit(X, sample_weight=sample_weight)
    assert_same_layers(ours, textbook, reference)


@pytest.mark.parametrize("kind", ["integers", "decimals"])
def test_routed_tie_heavy_data_gives_the_labels_of_kmeans(kind, container):
    differing = []
    for index, (X, init) in enumerate(tie_heavy_problems(kind, 60, seed=1)):
        params = dict(n_clusters=init.shape[0], init=init, n_init=1)
        ours = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"])
        ours.fit(container(X))
        reference = KMeans(algorithm="lloyd", **params).fit(container(X))
        if ours.n_iter_ != reference.n_iter_ or not np.array_equal(
            ours.labels_, reference.labels_
        ):
            differing.append(index)
    assert differing == []


def test_routed_many_features_break_ties_as_kmeans():
    # Integer data in 300 features: scores tie exactly, and which one wins is
    # decided by how BLAS rounds; the router must send those tokens through.
    rng = np.random.RandomState(0)
    X = rng.randint(0, 5, size=(3000, 300)).astype(np.float64)
    members = [rng.choice(3000, rng.randint(1, 7)) for _ in range(15)]
    init = np.array([X[rows].mean(axis=0) for rows in members])
    params = dict(n_clusters=len(init), init=init, n_init=1, max_iter=8, tol=0.0)
    ours = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"]).fit(X)
    reference = KMeans(algorithm="lloyd", **params).fit(X)
    assert_array_equal(ours.labels_, reference.labels_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_routed_fit_far_from_the_origin_with_weights(dtype, offset, container):
    X, _ = make_blobs(3000, 6, centers=12, cluster_std=2.0, random_state=3)
    X = (X + offset).astype(dtype)
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.1, 4.0, size=X.shape[0])
    init = X[rng.choice(X.shape[0], 12, replace=False)]
    params = dict(n_clusters=12, init=init, n_init=1, tol=0.0, max_iter=40)
    ours = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"])
    ours.fit(container(X), sample_weight=sample_weight)
    textbook = TransformerKMeans(algorithm="lloyd", **params)
    textbook.fit(container(X), sample_weight=sample_weight)
    reference = None
    if dtype == np.float64 or not sp.issparse(container(X[:1])):
        # Sparse data is not centred: far from the origin float32 has no
        # digits left to tell the points apart, and KMeans' sparse and dense
        # labels differ almost everywhere; routing still changes nothing.
        reference = KMeans(algorithm="lloyd", **params)
        reference.fit(container(X), sample_weight=sample_weight)
    assert_same_layers(ours, textbook, reference)


@pytest.mark.parametrize(
    "case", ["far_center", "duplicate_centers", "more_clusters_than_blobs_weighted"]
)
def test_routed_fit_with_relocations_equals_kmeans(case, container):
    rng = np.random.RandomState(42)
    X, init, sample_weight, _ = _relocation_problem(case, rng)
    params = dict(n_clusters=init.shape[0], init=init, tol=0.0)
    ours = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"])
    ours.fit(container(X), sample_weight=sample_weight)
    textbook = TransformerKMeans(algorithm="lloyd", **params)
    textbook.fit(container(X), sample_weight=sample_weight)
    reference = KMeans(algorithm="lloyd", **params)
    reference.fit(container(X), sample_weight=sample_weight)
    assert_same_layers(ours, textbook, reference)


@pytest.mark.parametrize("trim_fraction", [0.05, 0.3])
def test_routed_trimmed_fit_equals_the_textbook_pass(trim_fraction, container):
    X, _ = make_blobs(2000, 4, centers=6, cluster_std=1.5, random_state=0)
    X = np.vstack([X, np.random.RandomState(1).uniform(-40, 40, size=(100, 4))])
    params = dict(n_clusters=6, trim_fraction=trim_fraction, random_state=0)
    textbook = TransformerTrimmedKMeans(algorithm="lloyd", **params).fit(container(X))
    for router in EAGER_ROUTERS.values():
        ours = routed(TransformerTrimmedKMeans(**params), router).fit(container(X))
        assert_same_layers(ours, textbook)
        assert ours.radius_ == textbook.radius_


def exact_distances(X, centers):
    """Euclidean distances in extended precision, from the differences."""
    X = np.asarray(X, dtype=np.longdouble)
    centers = np.asarray(centers, dtype=np.longdouble)
    return np.sqrt(((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))


def assert_bounds_hold(bounds, labels, queries, keys):
    """The upper bounds are at least the distances from the queries to the
    keys their labels name, the lower bounds at most those to any other."""
    distances = exact_distances(queries, keys)
    rows = np.arange(distances.shape[0])
    assert_array_equal(bounds.labels, labels)
    assert np.all(bounds.upper >= distances[rows, bounds.labels])
    distances[rows, bounds.labels] = np.inf
    assert np.all(bounds.lower <= distances.min(axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bounds_hold_after_every_layer(dtype):
    # The upper bound is at least the distance to the centroid the slot
    # names, the lower bound at most the distance to any other centroid.
    X, _ = make_blobs(1500, 5, centers=10, cluster_std=3.0, random_state=0)
    X = X.astype(dtype)
    block = kmeans_block(router=EAGER_ROUTERS["gathered"])
    stream = InMemoryStream(PointTokens(X, np.ones(X.shape[0])))
    centers = X[:10].copy()
    checked = 0
    for _ in range(12):
        labels, new_centers = block(stream, centers)
        bounds = stream.bounds
        if bounds is not None:
            assert_bounds_hold(bounds, labels, X, bounds.centers)
            checked += 1
        centers = new_centers
    assert checked >= 10


def test_routing_sends_few_tokens_through_once_the_centroids_settle():
    # Enough centroids and features that routing pays (TokenRouter's cost
    # model), clusters that settle.
    X, _ = make_blobs(20000, 32, centers=64, cluster_std=1.0, random_state=0)
    init = X[np.random.RandomState(0).choice(X.shape[0], 64, replace=False)]
    kmeans = TransformerKMeans(64, init=init, n_init=1, max_iter=30, tol=0.0).fit(X)
    trace = kmeans.network_.forward(
        X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True, literal=False
    ).trace
    through = [record.n_through_attention for record in trace]
    assert through[0] == X.shape[0]
    assert min(through) < 0.1 * X.shape[0]
    # The textbook pass sends every token through every layer, to the same
    # layers.
    textbook = TransformerKMeans(
        64, init=init, n_init=1, max_iter=30, tol=0.0, algorithm="lloyd"
    ).fit(X)
    textbook_trace = textbook.network_.forward(
        X, textbook.init_centers_, textbook.n_iter_, return_trace=True, literal=False
    ).trace
    assert [record.n_through_attention for record in textbook_trace] == [
        X.shape[0]
    ] * textbook.n_iter_
    for record, textbook_record in zip(trace, textbook_trace, strict=True):
        assert_array_equal(record.labels, textbook_record.labels)
        assert_array_equal(record.centers, textbook_record.centers)


def test_literal_pass_routes_nothing_and_replays_the_routed_fit():
    X, _ = make_blobs(200, 3, centers=4, cluster_std=0.5, random_state=0)
    kmeans = routed(
        TransformerKMeans(4, n_init=1, random_state=0), EAGER_ROUTERS["gathered"]
    ).fit(X)
    literal = kmeans.network_.forward(
        X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
    )
    assert [record.n_through_attention for record in literal.trace] == [200] * len(
        literal.trace
    )
    assert_array_equal(literal.labels, kmeans.labels_)


@pytest.mark.parametrize(
    "estimator",
    [TransformerKMeans, TransformerTrimmedKMeans, TransformerSphericalKMeans],
)
def test_algorithm_lloyd_has_no_router_and_auto_shows_it(estimator):
    X, _ = make_blobs(100, 2, centers=3, random_state=0)
    auto = estimator(3, random_state=0).fit(X)
    textbook = estimator(3, random_state=0, algorithm="lloyd").fit(X)
    assert auto.network_.block.router == TokenRouter()
    assert textbook.network_.block.router is None
    assert "(router): TokenRouter(" in str(auto.network_)
    assert "(router): none" in str(textbook.network_)
    assert_array_equal(auto.labels_, textbook.labels_)


def test_routing_is_worth_it_only_with_enough_work_per_token():
    router = TokenRouter()
    assert router.worth_routing(10**6, n_features=2, n_clusters=8) == 0.0
    assert router.worth_routing(1000, n_features=100, n_clusters=256) == 0.0
    cheap, costly = (
        router.worth_routing(10**6, 16, 64),
        router.worth_routing(10**6, 100, 256),
    )
    assert 0.0 < cheap < costly < 0.5


def test_elkan_routes_as_auto():
    X, _ = make_blobs(100, 2, centers=3, random_state=0)
    elkan = TransformerKMeans(3, random_state=0, algorithm="elkan").fit(X)
    assert elkan.network_.block.router == TokenRouter()


@pytest.mark.parametrize(
    "changes",
    [
        {"assign_attention": AssignAttention(normaliser=Softmax(1.0))},
        {
            "normalisation": UnitSphereNormalisation(),
            "assign_attention": AssignAttention(
                score=CosineScore(), normaliser=Softmax(1.0)
            ),
        },
        {"assign_attention": AssignAttention(score=ManhattanScore())},
    ],
    ids=["softmax", "spherical-softmax", "manhattan"],
)
def test_a_router_on_a_layer_without_bounds_is_refused(changes):
    with pytest.raises(ValueError, match="router"):
        kmeans_block(router=TokenRouter(), **changes)


def test_routed_sparse_input_stays_sparse_and_equals_dense():
    X, _ = make_blobs(3000, 10, centers=8, cluster_std=2.0, random_state=0)
    X[np.abs(X) < 3] = 0.0
    params = dict(n_clusters=8, random_state=0, n_init=1, tol=0.0, max_iter=25)
    sparse_fit = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"])
    sparse_fit.fit(sp.csr_array(X))
    dense_fit = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"]).fit(X)
    reference = KMeans(algorithm="lloyd", **params).fit(sp.csr_array(X))
    assert_array_equal(sparse_fit.labels_, reference.labels_)
    assert_array_equal(dense_fit.labels_, reference.labels_)


# -- spherical k-means: the cosine hardmax behind the normalisation layer


def directions_with_zero_rows(n_samples, n_features, n_clusters, dtype, seed):
    """Blobs around the origin, whose directions overlap, so that tokens
    change slots for many layers; every 25th row is zero (no direction)."""
    X, _ = make_blobs(
        n_samples,
        n_features,
        centers=n_clusters,
        cluster_std=1.0,
        center_box=(-2.0, 2.0),
        random_state=seed,
    )
    X[::25] = 0.0
    return X.astype(dtype)


def through_attention(estimator, X, sample_weight=None):
    """How many tokens each layer of the fit sent through the attention."""
    trace = estimator.network_.forward(
        X,
        estimator.init_centers_,
        estimator.n_iter_,
        sample_weight=sample_weight,
        return_trace=True,
        literal=False,
    ).trace
    return [record.n_through_attention for record in trace]


@pytest.mark.parametrize("router", list(EAGER_ROUTERS))
def test_routed_spherical_fit_equals_the_textbook_pass(router, dtype, container):
    X = directions_with_zero_rows(3000, 8, 12, dtype, seed=0)
    sample_weight = np.random.RandomState(0).uniform(0.1, 4.0, size=X.shape[0])
    params = dict(n_clusters=12, random_state=0, n_init=1, tol=0.0, max_iter=40)
    ours = routed(TransformerSphericalKMeans(**params), EAGER_ROUTERS[router])
    ours.fit(container(X), sample_weight=sample_weight)
    textbook = TransformerSphericalKMeans(algorithm="lloyd", **params)
    textbook.fit(container(X), sample_weight=sample_weight)
    assert_same_layers(ours, textbook)
    # The zero rows tie everywhere: the first centroid, as unrouted.
    assert np.all(ours.labels_[::25] == 0)
    if router != "whole":  # which sends whole chunks through
        assert min(through_attention(ours, container(X), sample_weight)) < 1000


@pytest.mark.parametrize("kind", ["integers", "decimals"])
def test_routed_spherical_tie_heavy_data_equals_the_textbook_pass(
    kind, dtype, container
):
    # Integer grids hold zero rows, rows of one direction at several
    # lengths, and seeds among them: exact ties, and zero centroids.
    differing = []
    for index, (X, init) in enumerate(tie_heavy_problems(kind, 40, seed=2)):
        X, init = X.astype(dtype), init.astype(dtype)
        params = dict(n_clusters=init.shape[0], init=init, n_init=1)
        ours = routed(TransformerSphericalKMeans(**params), EAGER_ROUTERS["gathered"])
        ours.fit(container(X))
        textbook = TransformerSphericalKMeans(algorithm="lloyd", **params)
        textbook.fit(container(X))
        if (
            ours.n_iter_ != textbook.n_iter_
            or not np.array_equal(ours.labels_, textbook.labels_)
            or not np.array_equal(ours.cluster_centers_, textbook.cluster_centers_)
        ):
            differing.append(index)
    assert differing == []


def unit_rows_exactly(rows):
    """Rows divided by their norms in extended precision; zero rows stay zero."""
    rows = np.asarray(rows, dtype=np.longdouble)
    norms = np.sqrt((rows**2).sum(axis=1, keepdims=True))
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


SPHERICAL_LAYERS = {
    "spherical": dict(
        normalisation=UnitSphereNormalisation(),
        assign_attention=AssignAttention(score=CosineScore()),
    ),
    "cosine-unnormalised": dict(assign_attention=AssignAttention(score=CosineScore())),
    "euclidean-normalised": dict(
        normalisation=UnitSphereNormalisation(),
        assign_attention=AssignAttention(score=SquaredEuclideanScore()),
    ),
}


@pytest.mark.parametrize("layer", list(SPHERICAL_LAYERS))
def test_spherical_bounds_hold_after_every_layer(layer, dtype, container):
    # The bounds are on distances to the keys the scores are products with:
    # the centroids on the unit sphere for the cosine score, from the points
    # as the layer reads them (on the sphere behind the normalisation).
    X = directions_with_zero_rows(1500, 5, 10, dtype, seed=0)
    block = kmeans_block(router=EAGER_ROUTERS["gathered"], **SPHERICAL_LAYERS[layer])
    points = block.normalised_points(PointTokens(container(X), np.ones(X.shape[0])))
    stream = InMemoryStream(points)
    # The seeds hold a zero row: a zero centroid, a zero key.
    centers = X[:10].copy()
    normalised = block.normalisation is not None
    queries = unit_rows_exactly(X) if normalised else X.astype(np.longdouble)
    checked = 0
    for _ in range(12):
        labels, new_centers = block(stream, centers)
        bounds = stream.bounds
        if bounds is not None:
            keys = bounds.centers
            if isinstance(block.assign_attention.score, CosineScore) or normalised:
                keys = unit_rows_exactly(keys)
            assert_bounds_hold(bounds, labels, queries, keys)
            checked += 1
        centers = new_centers
    assert checked >= 10
    assert stream.routed_fraction() < 0.5


def test_spherical_layers_route_as_the_textbook_pass_layer_by_layer():
    X = directions_with_zero_rows(3000, 8, 12, np.float64, seed=1)
    for layer in ("cosine-unnormalised", "euclidean-normalised"):
        routed_block = kmeans_block(
            router=EAGER_ROUTERS["gathered"], **SPHERICAL_LAYERS[layer]
        )
        textbook_block = kmeans_block(**SPHERICAL_LAYERS[layer])
        points = PointTokens(X, np.ones(X.shape[0]))
        routed_stream = routed_block.stream(points)
        textbook_stream = textbook_block.stream(points)
        centers = textbook_centers = X[1:13].copy()
        for _ in range(15):
            labels, centers = routed_block(routed_stream, centers)
            textbook_labels, textbook_centers = textbook_block(
                textbook_stream, textbook_centers
            )
            assert_array_equal(labels, textbook_labels)
            assert_array_equal(centers, textbook_centers)
        assert routed_stream.routed_fraction() < 0.5


def test_spherical_routing_sends_few_tokens_through_once_the_centroids_settle():
    # The default router, on enough tokens and centroids that it pays.
    X, _ = make_blobs(
        20000, 32, centers=64, cluster_std=1.0, center_box=(-1.5, 1.5), random_state=0
    )
    params = dict(n_clusters=64, n_init=1, random_state=0, max_iter=40, tol=0.0)
    spherical = TransformerSphericalKMeans(**params).fit(X)
    through = through_attention(spherical, X)
    assert through[0] == X.shape[0]
    assert min(through) < 0.1 * X.shape[0]
    textbook = TransformerSphericalKMeans(algorithm="lloyd", **params).fit(X)
    assert through_attention(textbook, X) == [X.shape[0]] * textbook.n_iter_
    assert_same_layers(spherical, textbook)


def test_spherical_algorithm_must_be_auto_or_lloyd():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="algorithm"):
        TransformerSphericalKMeans(2, algorithm="elkan").fit(X)


def test_bounds_near_a_zero_key_do_not_certify_a_slot_the_scores_refuse():
    # A zero centroid (its members all zero rows) is a zero key: at distance
    # 1 from every unit point, nearer than a unit key at cosine below 1/2,
    # which the cosine score still prefers. Valid bounds on the distances
    # that put the zero key first must leave the slot undecided.
    attention = AssignAttention(score=CosineScore())
    router = EAGER_ROUTERS["gathered"]
    centers = np.array([[0.0, 0.0], [1.0, 0.0]])
    cosines = np.linspace(0.05, 0.45, 9)
    points = np.column_stack([cosines, np.sqrt(1 - cosines**2)])
    squared_norms = np.ones(len(points))
    plan = router.plan(
        attention, centers, attention.key_bias(centers), 1.0, 256, centers
    )
    # Bounds a router may hold: the distances themselves, to the zero key
    # and to the unit key, widened a little.
    upper = np.full(len(points), 1.0 + 1e-9)
    lower = np.sqrt(2 - 2 * cosines) * (1 - 1e-9)
    labels = np.zeros(len(points), dtype=np.int32)
    written, *_ = router(attention, plan, points, squared_norms, labels, upper, lower)
    assert_array_equal(written, attention(points, centers, None).labels)
    assert_array_equal(written, np.ones(len(points)))
