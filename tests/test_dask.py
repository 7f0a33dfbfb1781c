"""The estimators on Dask arrays, on a real cluster of two worker processes."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from test_kmeans import tie_heavy_problems
from test_routing import EAGER_ROUTERS, routed

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerRobustKMeans,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

# Each worker's memory limit; a worker using more than 95% of it is killed.
# Spilling and pausing are off, so that the limit is a hard bound.
WORKER_MEMORY = 450 * 2**20
N_CLUSTERS = 5


@pytest.fixture(scope="module")
def client():
    config = {
        "distributed.worker.memory.target": False,
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": 0.95,
    }
    with (
        dask.config.set(config),
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            memory_limit=WORKER_MEMORY,
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def problem():
    """Overlapping blobs (so that Lloyd takes several layers), weights, init."""
    X, _ = make_blobs(
        n_samples=3_000,
        n_features=6,
        centers=N_CLUSTERS,
        cluster_std=2.0,
        random_state=0,
    )
    rng = np.random.RandomState(1)
    sample_weight = rng.uniform(0.5, 2.0, X.shape[0])
    init = X[rng.choice(X.shape[0], N_CLUSTERS, replace=False)]
    return X, sample_weight, init


def in_blocks(X, rows=900):
    # Uneven blocks, the last one short.
    return da.from_array(X, chunks=(rows, X.shape[1]))


VARIANTS = {
    "soft": lambda init: TransformerSoftKMeans(
        N_CLUSTERS, beta=0.2, init=init, max_iter=10
    ),
    "spherical": lambda init: TransformerSphericalKMeans(
        N_CLUSTERS, init=init, max_iter=10
    ),
    "trimmed": lambda init: TransformerTrimmedKMeans(
        N_CLUSTERS, trim_fraction=0.1, init=init, max_iter=10
    ),
    "robust": lambda init: TransformerRobustKMeans(
        N_CLUSTERS, beta=0.05, init=init, max_iter=10
    ),
}


def assert_same_fit(on_dask, in_memory):
    np.testing.assert_array_equal(on_dask.labels_.compute(), in_memory.labels_)
    np.testing.assert_allclose(
        on_dask.cluster_centers_, in_memory.cluster_centers_, rtol=1e-10, atol=0
    )
    assert on_dask.n_iter_ == in_memory.n_iter_
    np.testing.assert_allclose(on_dask.inertia_, in_memory.inertia_, rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_kmeans_on_dask_equals_sklearn_kmeans(client, problem, weighted):
    X, sample_weight, init = problem
    sample_weight = sample_weight if weighted else None
    ours = TransformerKMeans(N_CLUSTERS, init=init).fit(
        in_blocks(X), sample_weight=sample_weight
    )
    theirs = KMeans(N_CLUSTERS, init=init, n_init=1, algorithm="lloyd").fit(
        X, sample_weight=sample_weight
    )
    assert ours.n_iter_ > 3
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_on_dask_equals_in_memory(client, problem, variant, weighted):
    X, sample_weight, init = problem
    sample_weight = sample_weight if weighted else None
    on_dask = VARIANTS[variant](init).fit(in_blocks(X), sample_weight=sample_weight)
    in_memory = VARIANTS[variant](init).fit(X, sample_weight=sample_weight)
    assert_same_fit(on_dask, in_memory)
    for name in ("free_energy_", "radius_"):
        if hasattr(in_memory, name):
            np.testing.assert_allclose(
                getattr(on_dask, name), getattr(in_memory, name), rtol=1e-10
            )
    if hasattr(in_memory, "member_weights_"):
        # The sparsemax thresholds of the blocks' offers are the whole's.
        assert 0 < np.count_nonzero(in_memory.member_weights_) < X.shape[0]
        np.testing.assert_allclose(
            on_dask.member_weights_.compute(),
            in_memory.member_weights_,
            rtol=1e-10,
            atol=1e-15,
        )


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_on_blocks_with_an_empty_one_equals_in_memory(client, problem, variant):
    # An empty block is an ordinary block: each pass over it (the assignment,
    # the dissimilarities of the final report) reads one chunk of no rows.
    X, sample_weight, init = problem
    rows = X.shape[0] // 3
    blocks = da.from_array(X, chunks=((rows, 0, X.shape[0] - rows), (X.shape[1],)))
    on_dask = VARIANTS[variant](init).fit(blocks, sample_weight=sample_weight)
    in_memory = VARIANTS[variant](init).fit(X, sample_weight=sample_weight)
    assert_same_fit(on_dask, in_memory)


def test_trimmed_ties_cut_in_index_order(client):
    # Many points at the same distance from their centroid straddle the
    # trimming radius: the gate trims them in order of the sample index,
    # across Dask blocks as in memory.
    square = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    X = np.concatenate([np.tile(square, (50, 1)), np.zeros((5, 2))])
    init = np.array([[0.0, 0.0]])
    on_dask = TransformerTrimmedKMeans(1, trim_fraction=0.3, init=init, max_iter=1)
    in_memory = TransformerTrimmedKMeans(1, trim_fraction=0.3, init=init, max_iter=1)
    on_dask.fit(in_blocks(X, rows=17))
    in_memory.fit(X)
    labels = on_dask.labels_.compute()
    assert (labels == -1).sum() == int(0.3 * X.shape[0])
    np.testing.assert_array_equal(labels, in_memory.labels_)


def test_empty_cluster_relocated_as_in_memory(client, problem):
    X, _, init = problem
    init = init.copy()
    init[-1] = 1e3  # finds no point in the first layer
    on_dask = TransformerKMeans(N_CLUSTERS, init=init).fit(in_blocks(X))
    theirs = KMeans(N_CLUSTERS, init=init, n_init=1, algorithm="lloyd").fit(X)
    assert_same_fit(on_dask, theirs)


def test_float32_on_dask_equals_in_memory(client, problem):
    X, _, init = problem
    X, init = X.astype(np.float32), init.astype(np.float32)
    on_dask = TransformerKMeans(N_CLUSTERS, init=init).fit(in_blocks(X))
    in_memory = TransformerKMeans(N_CLUSTERS, init=init).fit(X)
    assert on_dask.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(on_dask.labels_.compute(), in_memory.labels_)
    np.testing.assert_allclose(
        on_dask.cluster_centers_, in_memory.cluster_centers_, rtol=1e-5
    )


@pytest.mark.parametrize("variant", ["kmeans", "trimmed"])
def test_predict_transform_and_score_on_dask(client, problem, variant):
    X, _, init = problem
    make = VARIANTS.get(variant, lambda init: TransformerKMeans(N_CLUSTERS, init=init))
    model = make(init).fit(X)
    labels = model.predict(in_blocks(X))
    distances = model.transform(in_blocks(X))
    assert isinstance(labels, da.Array) and isinstance(distances, da.Array)
    assert distances.chunks == (in_blocks(X).chunks[0], (N_CLUSTERS,))
    np.testing.assert_array_equal(labels.compute(), model.predict(X))
    np.testing.assert_allclose(distances.compute(), model.transform(X), rtol=1e-12)
    np.testing.assert_allclose(model.score(in_blocks(X)), model.score(X), rtol=1e-10)


def test_seeding_on_a_sample_finds_the_blobs(client):
    X, y = make_blobs(
        n_samples=30_000,
        n_features=3,
        centers=N_CLUSTERS,
        cluster_std=0.5,
        random_state=2,
    )
    model = TransformerKMeans(N_CLUSTERS, random_state=0).fit(in_blocks(X, 4_000))
    assert adjusted_rand_score(y, model.labels_.compute()) > 0.99
    assert model.init_centers_.shape == (N_CLUSTERS, 3)


def test_kmedoids_on_dask_is_not_implemented(client, problem):
    X, _, _ = problem
    with pytest.raises(NotImplementedError, match="whole point stream"):
        TransformerKMedoids(N_CLUSTERS).fit(in_blocks(X))


def lazy_blobs(n_samples, n_features, rows_per_block, seed=0, spread=10.0):
    """Blobs of unit variance generated on the workers, block by block; and
    their means, drawn within ``spread`` of the origin.

    The point of index ``i`` belongs to blob ``i % N_CLUSTERS``.
    """
    means = np.random.RandomState(seed).uniform(
        -spread, spread, (N_CLUSTERS, n_features)
    )
    noise = da.random.RandomState(seed).standard_normal(
        (n_samples, n_features), chunks=(rows_per_block, n_features)
    )
    blobs = da.arange(n_samples, chunks=rows_per_block) % N_CLUSTERS
    X = noise + blobs.map_blocks(
        lambda blob: means[blob], new_axis=1, chunks=noise.chunks, dtype=float
    )
    return X, blobs, means


def test_data_larger_than_a_worker_memory_is_never_gathered(client):
    X, blobs, means = lazy_blobs(4 * 2**20, 16, 2**17)
    assert X.nbytes > WORKER_MEMORY
    init = means + 1.0
    model = TransformerKMeans(N_CLUSTERS, init=init, max_iter=2, tol=0).fit(X)
    assert model.n_iter_ == 2
    np.testing.assert_allclose(model.cluster_centers_, means, atol=0.01)
    assert adjusted_rand_score(blobs.compute(), model.labels_.compute()) == 1.0
    # No worker died of memory: both still run, neither was restarted.
    assert len(client.scheduler_info()["workers"]) == 2


def test_worker_killed_mid_fit_does_not_change_the_result(client, monkeypatch):
    from sklearn_kmt import _network

    # Overlapping blobs: the layers keep moving the centroids.
    X, _, means = lazy_blobs(200_000, 8, 20_000, seed=1, spread=1.0)
    init = means[::-1].copy()
    undisturbed = TransformerKMeans(N_CLUSTERS, init=init, max_iter=4).fit(X)
    assert undisturbed.n_iter_ == 4

    restarted = []
    layer = _network.LayerPass.layer

    def layer_then_kill_a_worker(self, centers, with_labels=True):
        output = layer(self, centers, with_labels)
        if not restarted:
            # The persisted assignment of this layer is lost with the worker.
            worker = sorted(client.scheduler_info()["workers"])[0]
            client.restart_workers([worker])
            restarted.append(worker)
        return output

    monkeypatch.setattr(_network.LayerPass, "layer", layer_then_kill_a_worker)
    disturbed = TransformerKMeans(N_CLUSTERS, init=init, max_iter=4).fit(X)
    # The worker process was replaced (a new address), its results lost.
    assert restarted and restarted[0] not in client.scheduler_info()["workers"]
    assert disturbed.n_iter_ == undisturbed.n_iter_
    np.testing.assert_array_equal(
        disturbed.labels_.compute(), undisturbed.labels_.compute()
    )
    np.testing.assert_array_equal(
        disturbed.cluster_centers_, undisturbed.cluster_centers_
    )


def test_dask_sample_weight_in_other_chunks(client, problem):
    X, sample_weight, init = problem
    as_numpy = TransformerKMeans(N_CLUSTERS, init=init).fit(
        in_blocks(X), sample_weight=sample_weight
    )
    as_dask = TransformerKMeans(N_CLUSTERS, init=init).fit(
        in_blocks(X), sample_weight=da.from_array(sample_weight, chunks=1_300)
    )
    np.testing.assert_array_equal(as_dask.labels_.compute(), as_numpy.labels_.compute())
    np.testing.assert_array_equal(as_dask.cluster_centers_, as_numpy.cluster_centers_)


def test_chunks_along_features_are_merged(client, problem):
    X, _, init = problem
    by_rows = TransformerKMeans(N_CLUSTERS, init=init).fit(in_blocks(X))
    by_both = TransformerKMeans(N_CLUSTERS, init=init).fit(
        da.from_array(X, chunks=(900, 4))
    )
    np.testing.assert_array_equal(by_both.labels_.compute(), by_rows.labels_.compute())
    np.testing.assert_array_equal(by_both.cluster_centers_, by_rows.cluster_centers_)


@pytest.mark.parametrize(
    "make_input, error, match",
    [
        (lambda X: in_blocks(X)[:, 0], ValueError, "2D Dask array"),
        (lambda X: in_blocks(X)[in_blocks(X)[:, 0] > 0], ValueError, "unknown chunk"),
        (lambda X: in_blocks(X[:3]), ValueError, "n_samples=3 should be >= "),
    ],
    ids=["1d", "unknown-chunks", "too-few-samples"],
)
def test_fit_errors_on_dask_arrays(problem, make_input, error, match):
    X, _, _ = problem
    with pytest.raises(error, match=match):
        TransformerKMeans(N_CLUSTERS).fit(make_input(X))


def test_negative_dask_sample_weight_is_rejected(client, problem):
    X, sample_weight, _ = problem
    with pytest.raises(ValueError, match="Negative values"):
        TransformerKMeans(N_CLUSTERS).fit(
            in_blocks(X), sample_weight=da.from_array(-sample_weight, chunks=900)
        )


def test_predict_checks_the_number_of_features(client, problem):
    X, _, init = problem
    model = TransformerKMeans(N_CLUSTERS, init=init, max_iter=2).fit(X)
    with pytest.raises(ValueError, match="features"):
        model.predict(in_blocks(X[:, :3]))


def test_dask_fit_warns_and_keeps_its_state_as_in_memory(client):
    # The two fits share how the fitted state is set: the same warning for
    # fewer distinct points than clusters, at the caller's line, and the data
    # mean that prediction centres new data on.
    X = np.repeat([[0.0, 1.0], [5.0, 1.0], [1.0, 6.0]], 300, axis=0)
    init = np.array([[0.0, 1.0], [5.0, 1.0], [1.0, 6.0], [4.0, 1.0]])
    fitted = {}
    for name, data in [("dask", in_blocks(X)), ("memory", X)]:
        with pytest.warns(ConvergenceWarning, match="distinct clusters") as caught:
            fitted[name] = TransformerKMeans(4, init=init).fit(data)
        assert {w.filename for w in caught} == {__file__}
    np.testing.assert_allclose(
        fitted["dask"]._data_mean, fitted["memory"]._data_mean, rtol=1e-12
    )
    np.testing.assert_array_equal(
        fitted["dask"].predict(X), fitted["memory"].predict(X)
    )


def test_centred_copy_is_kept_only_for_data_held_in_memory(client):
    from distributed import Future

    from sklearn_kmt._dask import DaskData

    lazy = da.random.RandomState(0).standard_normal((1_000, 3), chunks=(300, 3))
    persisted = lazy.persist()
    mean = np.zeros(3)

    def kept(X, copy):
        graph = DaskData(X, copy=copy).centred(mean).X.__dask_graph__()
        return all(isinstance(value, Future) for value in graph.values())

    # As KMeans' copy_x: a centred copy, here on the workers, when allowed;
    # data not held in memory (maybe larger than it) is centred block by
    # block in each layer instead.
    assert kept(persisted, copy=True)
    assert not kept(persisted, copy=False)
    assert not kept(lazy, copy=True)


# -- token routing: the bounds held per point, as blocks on the workers -----


@pytest.fixture
def through_attention(monkeypatch):
    """The number of tokens each layer of a Dask fit sent through the
    assignment attention, as the stream counts them."""
    from sklearn_kmt._dask import DaskStream

    counts = []
    count = DaskStream.n_through_attention

    def counted(self):
        counts.append(count(self))
        return counts[-1]

    monkeypatch.setattr(DaskStream, "n_through_attention", counted)
    return counts


def with_an_empty_block(X):
    rows = X.shape[0] // 3
    chunks = ((rows, 0, X.shape[0] - 2 * rows, rows), (X.shape[1],))
    return da.from_array(X, chunks=chunks)


@pytest.mark.parametrize("router", list(EAGER_ROUTERS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_routed_fit_on_dask_is_the_unrouted_fit(
    client, problem, router, weighted, through_attention
):
    X, sample_weight, init = problem
    sample_weight = sample_weight if weighted else None
    textbook = TransformerKMeans(N_CLUSTERS, init=init, algorithm="lloyd").fit(
        with_an_empty_block(X), sample_weight=sample_weight
    )
    assert through_attention == []
    ours = routed(TransformerKMeans(N_CLUSTERS, init=init), EAGER_ROUTERS[router])
    ours.fit(with_an_empty_block(X), sample_weight=sample_weight)
    # Tokens went around the attention (but with the router that sends
    # whole chunks through it), and the layers are those of the textbook
    # pass, bit for bit, and of KMeans.
    assert through_attention[0] == X.shape[0]
    if router != "whole":
        assert min(through_attention) < 0.5 * X.shape[0]
    np.testing.assert_array_equal(ours.labels_.compute(), textbook.labels_.compute())
    np.testing.assert_array_equal(ours.cluster_centers_, textbook.cluster_centers_)
    assert ours.n_iter_ == textbook.n_iter_ > 3
    theirs = KMeans(N_CLUSTERS, init=init, n_init=1).fit(X, sample_weight=sample_weight)
    np.testing.assert_array_equal(ours.labels_.compute(), theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("kind", ["integers", "decimals"])
def test_routed_tie_heavy_data_on_dask_is_the_unrouted_fit(client, kind):
    router = EAGER_ROUTERS["gathered"]
    for X, init in tie_heavy_problems(kind, 4, seed=3):
        params = dict(n_clusters=init.shape[0], init=init, max_iter=30)
        X = da.from_array(X, chunks=(X.shape[0] // 2 + 1, X.shape[1]))
        textbook = TransformerKMeans(**params, algorithm="lloyd").fit(X)
        ours = routed(TransformerKMeans(**params), router).fit(X)
        np.testing.assert_array_equal(
            ours.labels_.compute(), textbook.labels_.compute()
        )
        np.testing.assert_array_equal(ours.cluster_centers_, textbook.cluster_centers_)
        assert ours.n_iter_ == textbook.n_iter_


@pytest.mark.parametrize(
    "estimator, options",
    [
        (TransformerTrimmedKMeans, {"trim_fraction": 0.1}),
        (TransformerSphericalKMeans, {}),
    ],
    ids=["trimmed", "spherical"],
)
def test_routed_variant_on_dask_is_the_unrouted_fit(
    client, problem, estimator, options, through_attention
):
    X, _, init = problem
    params = dict(n_clusters=N_CLUSTERS, init=init, max_iter=30, **options)
    textbook = estimator(**params, algorithm="lloyd").fit(in_blocks(X))
    ours = routed(estimator(**params), EAGER_ROUTERS["gathered"])
    ours.fit(in_blocks(X))
    assert min(through_attention) < 0.5 * X.shape[0]
    np.testing.assert_array_equal(ours.labels_.compute(), textbook.labels_.compute())
    np.testing.assert_array_equal(ours.cluster_centers_, textbook.cluster_centers_)
    assert ours.n_iter_ == textbook.n_iter_


def test_default_fit_on_dask_routes_once_the_centroids_settle(
    client, through_attention
):
    # Enough tokens, features and centroids that routing pays
    # (TokenRouter.worth_routing): the default router routes on its own.
    X, _ = make_blobs(24_000, 32, centers=64, cluster_std=1.0, random_state=0)
    init = X[np.random.RandomState(0).choice(X.shape[0], 64, replace=False)]
    params = dict(n_clusters=64, init=init, max_iter=20, tol=0.0)
    ours = TransformerKMeans(**params).fit(da.from_array(X, chunks=(7_000, 32)))
    assert 0 < len(through_attention) < 20
    assert min(through_attention) < 0.1 * X.shape[0]
    theirs = KMeans(**params, n_init=1).fit(X)
    np.testing.assert_array_equal(ours.labels_.compute(), theirs.labels_)
    np.testing.assert_allclose(
        ours.cluster_centers_, theirs.cluster_centers_, rtol=0, atol=1e-12
    )


def test_worker_killed_mid_routed_fit_does_not_change_the_result(client, monkeypatch):
    from sklearn_kmt import _network

    # A worker dies once the bounds of several layers hang on each other.
    X, _, means = lazy_blobs(60_000, 8, 20_000, seed=1, spread=1.0)
    init = means[::-1].copy()
    params = dict(n_clusters=N_CLUSTERS, init=init, max_iter=6, tol=0)
    undisturbed = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"]).fit(X)
    layers, restarted = [], []
    layer = _network.LayerPass.layer

    def layer_then_kill_a_worker(self, centers, with_labels=True):
        output = layer(self, centers, with_labels)
        layers.append(self.stream.routed)
        if len(layers) == 4:
            worker = sorted(client.scheduler_info()["workers"])[0]
            client.restart_workers([worker])
            restarted.append(worker)
        return output

    monkeypatch.setattr(_network.LayerPass, "layer", layer_then_kill_a_worker)
    disturbed = routed(TransformerKMeans(**params), EAGER_ROUTERS["gathered"]).fit(X)
    assert restarted and restarted[0] not in client.scheduler_info()["workers"]
    assert all(routed_blocks is not None for routed_blocks in layers[1:])
    assert disturbed.n_iter_ == undisturbed.n_iter_ == 6
    np.testing.assert_array_equal(
        disturbed.labels_.compute(), undisturbed.labels_.compute()
    )
    np.testing.assert_array_equal(
        disturbed.cluster_centers_, undisturbed.cluster_centers_
    )
