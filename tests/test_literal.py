"""The literal forward pass, the explicit weights and the traces.

``Network.forward`` applies every dense weight matrix as written; ``fit``
applies the same components through the structure of their weights. The two
must agree, component by component and for whole fits.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_blobs

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)
from sklearn_kmt._components import (
    AssignAttention,
    CosineScore,
    Hardmax,
    RelocationHead,
    Softmax,
    SquaredEuclideanScore,
    TrimmingGate,
    UnitSphereNormalisation,
    UpdateAttention,
    apply_erase_head,
    erase_head,
)
from sklearn_kmt._streams import InMemoryStream
from sklearn_kmt._tokens import CentroidTokens, OneHotSlots, PointTokens

ESTIMATORS = {
    "kmeans": lambda seed: TransformerKMeans(4, random_state=seed),
    "soft": lambda seed: TransformerSoftKMeans(4, beta=0.3, random_state=seed),
    "spherical": lambda seed: TransformerSphericalKMeans(4, random_state=seed),
    "trimmed": lambda seed: TransformerTrimmedKMeans(
        4, trim_fraction=0.15, random_state=seed
    ),
    "kmedoids": lambda seed: TransformerKMedoids(4, n_candidates=6, random_state=seed),
}


def problem(seed):
    """Blobs of varied shape; every fourth sparse, every other weighted."""
    rng = np.random.RandomState(seed)
    n_samples = rng.randint(40, 160)
    n_features = rng.randint(2, 6)
    X, _ = make_blobs(
        n_samples,
        n_features,
        centers=rng.randint(2, 7),
        cluster_std=rng.uniform(0.5, 3.0),
        random_state=seed,
    )
    X += rng.uniform(-5, 5, size=n_features)
    sample_weight = rng.uniform(0.2, 3.0, n_samples) if seed % 2 else None
    if seed % 4 == 3:
        X = sp.csr_matrix(np.where(rng.uniform(size=X.shape) < 0.3, 0.0, X))
    return X, sample_weight


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("name", ESTIMATORS)
def test_forward_replays_fit(name, seed):
    X, sample_weight = problem(seed)
    estimator = ESTIMATORS[name](seed).fit(X, sample_weight=sample_weight)
    output = estimator.network_.forward(
        X, estimator.init_centers_, estimator.n_iter_, sample_weight=sample_weight
    )
    assert_array_equal(output.labels, estimator.labels_)
    scale = np.abs(X).max()
    assert_allclose(
        output.centers, estimator.cluster_centers_, rtol=0, atol=1e-10 * scale
    )


def test_forward_after_pickling_gives_the_same_result():
    X, _ = problem(5)
    estimator = TransformerKMedoids(4, n_candidates=4, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(estimator))
    first = estimator.network_.forward(X, estimator.init_centers_, estimator.n_iter_)
    again = restored.network_.forward(X, restored.init_centers_, restored.n_iter_)
    assert_array_equal(again.labels, first.labels)
    assert_array_equal(again.centers, first.centers)


@pytest.mark.parametrize("seed", range(6))
def test_kmeans_objective_never_increases_from_layer_to_layer(seed):
    X, sample_weight = problem(seed)
    estimator = TransformerKMeans(6, init="random", n_init=1, random_state=seed)
    estimator.fit(X, sample_weight=sample_weight)
    trace = estimator.network_.forward(
        X, estimator.init_centers_, 8, sample_weight=sample_weight, return_trace=True
    ).trace
    objectives = np.array([record.objective for record in trace])
    assert len(trace) == 8
    assert np.all(np.diff(objectives) <= 1e-12 * objectives[0])


def test_trace_records_centers_labels_objective_and_attention():
    X, _ = problem(2)
    X = np.asarray(X.toarray() if sp.issparse(X) else X)
    estimator = TransformerKMeans(3, random_state=0).fit(X)
    output = estimator.network_.forward(
        X, estimator.init_centers_, 3, return_trace=True
    )
    centers = estimator.init_centers_
    for record in output.trace:
        # Textbook Lloyd step from the previous centers.
        distances = ((X[:, None] - centers[None]) ** 2).sum(-1)
        labels = distances.argmin(1)
        assert_array_equal(record.labels, labels)
        assert_array_equal(record.attention["assign_attention"], np.eye(3)[labels])
        expected = np.array([X[labels == j].mean(0) for j in range(3)])
        assert_allclose(record.centers, expected, rtol=1e-12)
        assert record.objective == pytest.approx(
            ((X - expected[labels]) ** 2).sum(), rel=1e-12
        )
        update = record.attention["update_attention"]
        assert_allclose(update, (np.eye(3)[labels] / np.bincount(labels)).T)
        centers = expected


# -- each component: structured application equals the dense one --------------


def tokens(seed, n_samples=30, n_features=3, n_clusters=4):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features)) * 3
    centers = rng.normal(size=(n_clusters, n_features)) * 3
    weights = rng.uniform(0.5, 2.0, n_samples)
    return X, centers, weights


@pytest.mark.parametrize(
    "attention",
    [
        AssignAttention(SquaredEuclideanScore(), Hardmax()),
        AssignAttention(SquaredEuclideanScore(), Softmax(0.7)),
        AssignAttention(CosineScore(), Hardmax()),
    ],
    ids=["hardmax", "softmax", "cosine"],
)
def test_assign_attention_structured_equals_dense(attention):
    X, centers, _ = tokens(0)
    fast = attention(X, centers, attention.key_bias(centers)).dense()
    point_tokens = np.hstack([X, np.eye(4)[np.arange(30) % 4]])  # an old slot
    new_tokens, attention_map = attention.literal(
        point_tokens, CentroidTokens(centers).dense(), 3
    )
    assert_allclose(attention_map, fast, rtol=1e-12, atol=1e-15)
    # A softmax writes the logarithms of the responsibilities into the slots
    # (none underflows here), so that the update attention reads them as
    # its scores.
    written = np.log(fast) if isinstance(attention.normaliser, Softmax) else fast
    assert_allclose(new_tokens[:, 3:], written, rtol=1e-12, atol=1e-15)
    assert_array_equal(new_tokens[:, :3], X)


@pytest.mark.parametrize("soft", [False, True], ids=["one-hot", "soft"])
def test_update_attention_structured_equals_dense(soft):
    X, centers, weights = tokens(1)
    normalisation = Softmax(0.5) if soft else Hardmax()
    slots = AssignAttention(SquaredEuclideanScore(), normalisation)(
        X, centers, -0.5 * (centers**2).sum(1)
    )
    update = UpdateAttention()
    statistics = update.statistics(4, 3)
    update.accumulate(statistics, X, slots, weights)
    fast = update(statistics, centers)
    points = PointTokens(X, weights)
    written = np.log(slots.dense()) if soft else slots.dense()
    new_tokens, _ = update.literal(
        CentroidTokens(centers).dense(),
        points.dense(written),
        points,
        None,
        normalisation,
    )
    assert_allclose(new_tokens[:, :3], fast, rtol=1e-12)
    assert_array_equal(new_tokens[:, 3:], np.eye(4))


def test_relocation_head_structured_equals_dense():
    X, _, weights = tokens(2)
    centers = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [90.0, 0, 0], [0, 90.0, 0]])
    labels = np.where(X[:, 0] > 0, 0, 1).astype(np.int32)  # centroids 2, 3 empty
    points = PointTokens(X, weights)
    update = UpdateAttention()
    statistics = update.statistics(4, 3)
    update.accumulate(statistics, X, OneHotSlots(labels, 4), weights)
    score = SquaredEuclideanScore()
    stream = InMemoryStream(points)
    slots = stream.assign(AssignAttention(score), centers)
    slots.labels = labels
    RelocationHead()(stream, statistics, slots)
    fast = update(statistics, centers)

    point_tokens = points.dense(np.eye(4)[labels])
    relocated = RelocationHead().literal(
        point_tokens, CentroidTokens(centers).dense(), points, score
    )
    moved = np.flatnonzero((relocated[:, 3:] != point_tokens[:, 3:]).any(axis=1))
    assert moved.size == 2
    new_tokens, _ = update.literal(
        CentroidTokens(centers).dense(), relocated, points, None
    )
    assert_allclose(new_tokens[:, :3], fast, rtol=1e-12)


def test_trimming_gate_structured_equals_dense():
    X, centers, weights = tokens(3)
    score = SquaredEuclideanScore()
    labels = ((X[:, None] - centers[None]) ** 2).sum(-1).argmin(1).astype(np.int32)
    points = PointTokens(X, weights)
    gate = TrimmingGate(0.2)
    stream = InMemoryStream(points)
    slots = stream.assign(AssignAttention(score), centers)
    fast = stream.labels(gate(stream, slots))
    assert_array_equal(fast[fast >= 0], labels[fast >= 0])
    gated = gate.literal(
        points.dense(np.eye(4)[labels]), CentroidTokens(centers).dense(), points, score
    )
    assert_array_equal(gated[fast >= 0, 3:], np.eye(4)[labels[fast >= 0]])
    assert_array_equal(gated[fast < 0, 3:], 0.0)
    assert 0 < np.sum(fast < 0) < 30


def test_unit_sphere_normalisation_structured_equals_dense():
    X, centers, weights = tokens(4)
    X[0] = 0.0
    normalisation = UnitSphereNormalisation()
    fast = normalisation.points(PointTokens(X, weights)).dense_rows(slice(None))
    dense = normalisation.literal(np.hstack([X, np.ones((30, 4))]), 3)
    assert_allclose(dense[:, :3], fast, rtol=1e-15)
    assert_allclose(np.linalg.norm(dense[1:, :3], axis=1), 1.0)
    assert_array_equal(dense[0, :3], 0.0)
    assert_array_equal(dense[:, 3:], 1.0)


@pytest.mark.parametrize("block", ["slot", "data"])
def test_erase_heads_subtract_what_they_select(block):
    X, _, _ = tokens(5)
    X[1] = X[0]  # identical tokens: the hardmax averages equal values
    token_matrix = np.hstack([X, np.eye(4)[np.arange(30) % 4]])
    token_matrix[1, 3:] = token_matrix[0, 3:]
    erased = apply_erase_head(token_matrix, erase_head(3, 4, block))
    selected = slice(3, None) if block == "slot" else slice(0, 3)
    assert_allclose(erased[:, selected], -token_matrix[:, selected], atol=1e-15)
    other = slice(0, 3) if block == "slot" else slice(3, None)
    assert_array_equal(erased[:, other], 0.0)


# -- the weights and their summary -----------------------------------------------


@pytest.mark.parametrize("name", ESTIMATORS)
def test_parameters_are_selections_on_the_token_space(name):
    X, _ = problem(0)
    estimator = ESTIMATORS[name](0).fit(X)
    size = X.shape[1] + 4
    parameters = estimator.network_.parameters()
    projections = {
        key: W for key, W in parameters.items() if key.split(".")[-1][:2] == "W_"
    }
    assert {"assign_attention.W_Q", "update_attention.W_V"} <= set(projections)
    for key, matrix in projections.items():
        assert matrix.shape == (size, size), key
        assert set(np.unique(matrix)) <= {-1.0, 0.0, 1.0}, key
    # The assignment's queries and keys select the data block, its values
    # the identity block; the update's values select the data block.
    data = np.diag(np.r_[np.ones(X.shape[1]), np.zeros(4)])
    assert_array_equal(parameters["assign_attention.W_Q"], data)
    assert_array_equal(parameters["assign_attention.W_V"], np.eye(size) - data)
    assert_array_equal(parameters["update_attention.W_V"], data)


def test_printed_summary_names_components_and_counts_parameters():
    X, _ = problem(0)
    estimator = TransformerTrimmedKMeans(4, random_state=0).fit(X)
    summary = str(estimator.network_)
    for part in ("assign_attention", "update_attention", "gate", "TrimmingGate"):
        assert part in summary
    n_values = sum(W.size for W in estimator.network_.parameters().values())
    assert f"parameters: {n_values}" in summary


@pytest.mark.parametrize("name", ESTIMATORS)
def test_fast_replay_traces_the_same_layers_as_the_literal_one(name):
    X, sample_weight = problem(7)
    estimator = ESTIMATORS[name](7).fit(X, sample_weight=sample_weight)
    runs = [
        estimator.network_.forward(
            X,
            estimator.init_centers_,
            estimator.n_iter_,
            sample_weight=sample_weight,
            return_trace=True,
            literal=literal,
        )
        for literal in (True, False)
    ]
    literal, fast = runs
    assert_array_equal(fast.labels, estimator.labels_)
    assert len(fast.trace) == len(literal.trace) == estimator.n_iter_
    for fast_layer, literal_layer in zip(fast.trace, literal.trace, strict=True):
        assert_array_equal(fast_layer.labels, literal_layer.labels)
        assert fast_layer.attention is None
        assert fast_layer.objective == pytest.approx(literal_layer.objective, rel=1e-10)


def _integer_grid(seed):
    """Repeated points of a small integer grid: exact ties everywhere."""
    return np.random.RandomState(seed).randint(0, 6, size=(1500, 3)) + 1.0


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "name, container, literal",
    [
        ("kmedoids", np.asarray, True),
        ("kmedoids", sp.csr_matrix, True),
        ("kmedoids", np.asarray, False),
        ("spherical", np.asarray, False),
        ("spherical", sp.csr_matrix, False),
        ("kmeans", sp.csr_matrix, False),
        ("trimmed", sp.csr_matrix, False),
        ("kmeans", np.asarray, False),
        ("trimmed", np.asarray, False),
        ("soft", np.asarray, False),
    ],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_forward_replays_fit_bit_for_bit_on_tied_data(
    name, container, literal, weighted, seed
):
    # Where Network.forward promises an exact replay: the fast pass, on the
    # data as the fit embedded it (dense data centred on its mean), from the
    # seeds as samples; the literal pass too where centroids are samples.
    X = _integer_grid(seed)
    sample_weight = np.random.RandomState(seed).randint(1, 4, len(X)) * 0.5
    sample_weight = sample_weight if weighted else None
    estimator = ESTIMATORS[name](seed).fit(container(X), sample_weight=sample_weight)
    output = estimator.network_.forward(
        container(X),
        estimator.init_centers_,
        estimator.n_iter_,
        sample_weight=sample_weight,
        literal=literal,
    )
    assert_array_equal(output.labels, estimator.labels_)
    assert_array_equal(output.centers, estimator.cluster_centers_)


@pytest.mark.parametrize("offset", [0.0, 1e6, 1e300])
@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
def test_fast_forward_replays_a_centred_fit_from_its_init(init, offset):
    # The seeds are reported as the samples or the array given, not through
    # the centring and back (which rounds them): the replay starts where the
    # layers did, also where the data is scaled by a power of two first.
    X = _integer_grid(1) * (1.0 if offset < 1e300 else 1e300) + offset
    if init == "array":
        init = X[[3, 50, 700, 1200]] + 0.5
    estimator = TransformerKMeans(4, init=init, n_init=1, random_state=0).fit(X)
    if isinstance(init, np.ndarray):
        assert_array_equal(estimator.init_centers_, init)
    else:  # samples of X
        assert (
            (estimator.init_centers_[:, None] == X[None]).all(axis=2).any(axis=1).all()
        )
    output = estimator.network_.forward(
        X, estimator.init_centers_, estimator.n_iter_, literal=False
    )
    assert_array_equal(output.labels, estimator.labels_)
    assert_array_equal(output.centers, estimator.cluster_centers_)


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
@pytest.mark.parametrize("weight", [1e-320, 1e307])
def test_forward_scales_the_weights_as_the_fit_did(container, weight):
    # Weights whose total underflows or overflows are scaled by a power of
    # two in the fit; the replay scales them the same way.
    X = container(_integer_grid(0)[:200])
    sample_weight = np.full(200, weight)
    estimator = TransformerKMeans(4, random_state=0, n_init=1)
    estimator.fit(X, sample_weight=sample_weight)
    assert estimator.network_.weight_exponent != 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        output = estimator.network_.forward(
            X,
            estimator.init_centers_,
            estimator.n_iter_,
            sample_weight=sample_weight,
            literal=False,
            return_trace=True,
        )
    assert_array_equal(output.labels, estimator.labels_)
    assert_array_equal(output.centers, estimator.cluster_centers_)
    # The objective in the units of the weights given.
    assert output.trace[-1].objective == pytest.approx(estimator.inertia_, rel=1e-9)


def test_forward_of_a_network_pickled_without_an_offset():
    # Uncentred, the replay agrees to rounding (data without exact ties).
    X, _ = make_blobs(300, 3, centers=4, random_state=0)
    estimator = TransformerKMeans(4, n_init=1, random_state=0).fit(X)
    network = pickle.loads(pickle.dumps(estimator.network_))
    del network.data_offset  # as pickled before networks held one
    output = network.forward(X, estimator.init_centers_, estimator.n_iter_)
    assert_allclose(output.centers, estimator.cluster_centers_, rtol=1e-9)


def test_float32_fit_keeps_an_init_beyond_float32_as_given():
    # The layers scale the data and the init together; init_centers_ is the
    # init as given (float64: in float32 it would be infinite), quietly.
    X = (_integer_grid(0)[:300] * 1e37).astype(np.float32)
    init = X[:4].astype(np.float64)
    init[0, 0] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        estimator = TransformerKMeans(4, init=init, n_init=1).fit(X)
    assert_array_equal(estimator.init_centers_, init)
