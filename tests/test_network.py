"""The block is one Lloyd iteration; the network loops it and stops as KMeans."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context, get_config
from threadpoolctl import threadpool_limits

from sklearn_kmt._components import AssignAttention, Softmax, TrimmingGate
from sklearn_kmt._network import Network, kmeans_block
from sklearn_kmt._streams import chunk_n_rows, threaded
from sklearn_kmt._tokens import PointTokens


def textbook_lloyd_step(X, weights, centers):
    """One Lloyd iteration from its definition (no empty cluster expected)."""
    distances = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = distances.argmin(axis=1)
    new_centers = np.array(
        [
            np.average(X[labels == j], axis=0, weights=weights[labels == j])
            for j in range(centers.shape[0])
        ]
    )
    return labels, new_centers


def blobs(seed, n=300, d=3, k=4):
    rng = np.random.RandomState(seed)
    means = rng.uniform(-10, 10, size=(k, d))
    X = means[rng.randint(0, k, size=n)] + rng.standard_normal((n, d))
    centers = X[rng.choice(n, k, replace=False)]
    return X, rng.uniform(0.5, 2.0, size=n), centers


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_one_block_is_one_textbook_lloyd_step(seed, sparse):
    X, weights, centers = blobs(seed)
    data = sp.csr_matrix(X) if sparse else X
    labels, new_centers = kmeans_block()(PointTokens(data, weights), centers)
    expected_labels, expected_centers = textbook_lloyd_step(X, weights, centers)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(new_centers, expected_centers, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_chunk_rows_follow_the_working_memory_budget(n_threads):
    # A dense row holds its scores and a copy of its data part (2 features
    # and a constant coordinate); a sparse row its scores and four arrays the
    # size of its non-zeros. The chunks are whole blocks of KMeans' 256 rows,
    # of equal size, and no more than the budget needs. The size does not
    # depend on the thread count.
    def chunk_bytes(points, n_clusters, items_per_row):
        rows = chunk_n_rows(points, n_clusters)
        budget_rows = get_config()["working_memory"] * 2**20 // (items_per_row * 8)
        budget_rows = min(budget_rows, 4 * 2**20 // (items_per_row * 8))
        n_blocks = -(-points.n_tokens // 256)
        assert rows % 256 == 0
        assert -(-n_blocks // (rows // 256)) == -(-n_blocks // (budget_rows // 256))
        return rows * items_per_row * 8

    points = PointTokens(np.zeros((10**6, 2)), np.ones(10**6))
    with threadpool_limits(n_threads, user_api="blas"):
        with config_context(working_memory=1):
            assert 0.9 * 2**20 < chunk_bytes(points, 16, 16 + 2 + 1) <= 2**20
        assert 0.9 * 4 * 2**20 < chunk_bytes(points, 16, 16 + 2 + 1) <= 4 * 2**20
        assert chunk_n_rows(PointTokens(np.zeros((5, 2)), np.ones(5)), 3) == 5
        sparse_points = PointTokens(sp.csr_matrix((10**6, 10**5)), np.ones(10**6))
        assert 0.9 * 4 * 2**20 < chunk_bytes(sparse_points, 16, 16) <= 4 * 2**20
        n_rows = 2 * 10**5
        ten_per_row = sp.csr_matrix(
            (
                np.ones(10 * n_rows),
                np.tile(np.arange(10), n_rows),
                np.arange(n_rows + 1) * 10,
            ),
            shape=(n_rows, 10**4),
        )
        sparse_points = PointTokens(ten_per_row, np.ones(n_rows))
        assert 0.9 * 4 * 2**20 < chunk_bytes(sparse_points, 16, 56) <= 4 * 2**20


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_network_result_does_not_depend_on_the_chunk_size(sparse):
    X, weights, centers = blobs(7, n=3000, d=4, k=6)
    X[0] = 1e3  # a far point, so that an empty centroid gets relocated
    centers[0] = 1e4
    points = PointTokens(sp.csr_matrix(X) if sparse else X, weights)
    network = Network(kmeans_block(), max_layers=50, tol=0.0)
    whole = network(points, centers)
    row_items = 6 + (4 * 4 if sparse else 4 + 1)  # 4 non-zeros or 4 features a row
    with config_context(working_memory=row_items * 8 * 512 / 2**20):  # 512 rows
        assert chunk_n_rows(points, 6) == 512
        chunked = network(points, centers)
    np.testing.assert_array_equal(chunked.labels, whole.labels)
    np.testing.assert_allclose(chunked.centers, whole.centers, rtol=1e-12)
    assert chunked.n_layers == whole.n_layers


def test_network_stops_strictly_when_the_assignment_repeats():
    X, weights, centers = blobs(3)
    points = PointTokens(X, weights)
    output = Network(kmeans_block(), max_layers=100, tol=0.0)(points, centers)
    assert output.strict_convergence
    # Replay with textbook steps: the assignment of the last layer is the first
    # to equal that of the layer before.
    labels, current, n_layers = None, centers, 0
    while n_layers < 100:
        new_labels, current = textbook_lloyd_step(X, weights, current)
        n_layers += 1
        if labels is not None and np.array_equal(labels, new_labels):
            break
        labels = new_labels
    assert output.n_layers == n_layers
    np.testing.assert_array_equal(output.labels, new_labels)
    np.testing.assert_allclose(output.centers, current, rtol=1e-12)


def test_network_stops_on_the_centroid_shift_and_reassigns():
    X, weights, centers = blobs(4)
    points = PointTokens(X, weights)
    after_one = textbook_lloyd_step(X, weights, centers)[1]
    after_two = textbook_lloyd_step(X, weights, after_one)[1]
    second_shift = ((after_two - after_one) ** 2).sum()
    assert second_shift > 0
    output = Network(kmeans_block(), max_layers=100, tol=second_shift * 1.0001)(
        points, centers
    )
    assert output.n_layers == 2
    assert not output.strict_convergence
    np.testing.assert_allclose(output.centers, after_two, rtol=1e-12)
    expected_labels = ((X[:, None] - after_two[None]) ** 2).sum(2).argmin(1)
    np.testing.assert_array_equal(output.labels, expected_labels)


def test_network_stops_after_max_layers():
    X, weights, centers = blobs(5, n=2000, d=2, k=20)
    output = Network(kmeans_block(), max_layers=1, tol=0.0)(
        PointTokens(X, weights), centers
    )
    assert output.n_layers == 1
    np.testing.assert_allclose(
        output.centers, textbook_lloyd_step(X, weights, centers)[1], rtol=1e-12
    )


def test_verbose_network_reports_each_layer(capsys):
    X, weights, centers = blobs(6)
    quiet = Network(kmeans_block(), max_layers=3, tol=0.0)(
        PointTokens(X, weights), centers
    )
    loud = Network(kmeans_block(), max_layers=3, tol=0.0, verbose=1)(
        PointTokens(X, weights), centers
    )
    printed = capsys.readouterr().out
    assert printed.count(", inertia ") == loud.n_layers
    np.testing.assert_array_equal(loud.centers, quiet.centers)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_network_result_does_not_depend_on_the_number_of_threads(sparse, monkeypatch):
    # Small problems run on one thread; read these chunks on two.
    monkeypatch.setattr("sklearn_kmt._streams.MIN_THREADED_PRODUCT", 0)

    X, weights, centers = blobs(8, n=4000, d=5, k=7)
    points = PointTokens(sp.csr_matrix(X) if sparse else X, weights)
    network = Network(kmeans_block(), max_layers=30, tol=0.0)
    with config_context(working_memory=0.05):  # many chunks, read in parallel
        assert chunk_n_rows(points, 7) < 1000
        assert threaded(points, 7)
        parallel = network(points, centers)
        with threadpool_limits(1, user_api="blas"):
            serial = network(points, centers)
    np.testing.assert_array_equal(parallel.labels, serial.labels)
    np.testing.assert_array_equal(parallel.centers, serial.centers)
    assert parallel.n_layers == serial.n_layers


def test_concurrent_assignments_agree_and_restore_the_blas_threads(monkeypatch):
    import threading

    monkeypatch.setattr("sklearn_kmt._streams.MIN_THREADED_PRODUCT", 0)

    from threadpoolctl import threadpool_info

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    X, weights, centers = blobs(9, n=50_000, d=4, k=6)
    points = PointTokens(X, weights)
    block = kmeans_block()
    assert chunk_n_rows(points, 6) < 50_000  # several chunks, read on workers
    before = blas_threads()
    serial = block.assign(points, centers)
    results = [None] * 6

    def assign(i):
        results[i] = block.assign(points, centers)

    threads = [threading.Thread(target=assign, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for labels in results:
        np.testing.assert_array_equal(labels, serial)
    assert blas_threads() == before


def test_only_layers_with_a_large_product_are_read_on_threads():
    # An eighth of the layer: rows * n_clusters * (n_features + 1 + 3).
    tiny = PointTokens(np.zeros((10**5, 2)), np.ones(10**5))
    assert not threaded(tiny, 8)
    assert 12_500 * 8 * (2 + 1 + 3) < 2**21
    budget = 4 * 2**20 // ((8 + 2 + 1) * 8)  # rows within the chunk budget
    n_blocks, budget_blocks = -(-(10**5) // 256), budget // 256
    n_chunks = -(-n_blocks // budget_blocks)
    assert chunk_n_rows(tiny, 8) == 256 * -(-n_blocks // n_chunks)
    assert chunk_n_rows(tiny, 8) <= budget
    wide = PointTokens(np.zeros((10**5, 50)), np.ones(10**5))
    assert threaded(wide, 100)
    assert chunk_n_rows(wide, 100) <= 12_500  # an eighth at most
    narrow_many = PointTokens(np.zeros((10**6, 4)), np.ones(10**6))
    assert threaded(narrow_many, 16)
    assert 125_000 * 16 * (4 + 1 + 3) >= 2**21


@pytest.mark.parametrize("working_memory", [0.01, 0.1])
@pytest.mark.parametrize("n", [1, 255, 4095, 4096, 10**5 + 7])
def test_chunks_are_equal_whole_blocks_within_the_budget(n, working_memory):
    # Whole blocks of KMeans' 256 rows, the last chunk ending the data; at
    # least one block, whatever the budget.
    points = PointTokens(np.zeros((n, 3)), np.ones(n))
    with config_context(working_memory=working_memory):
        rows = chunk_n_rows(points, 5)
        budget = int(working_memory * 2**20 // ((5 + 3 + 1) * 8))
    assert rows == n or rows % 256 == 0
    assert 1 <= rows <= min(n, max(budget, 256))
    sizes = [chunk.stop - chunk.start for chunk in points.rows(rows)]
    assert sum(sizes) == n
    assert set(sizes[:-1]) <= {rows}
    assert rows - sizes[-1] < 256 * len(sizes)


def test_a_gate_after_a_softmax_is_refused():
    # The fast pass made the gated slots one-hot where the literal pass kept
    # the soft ones of the kept points: no one semantics, so no such layer.
    with pytest.raises(ValueError, match="gate after a softmax is not supported"):
        kmeans_block(
            assign_attention=AssignAttention(normaliser=Softmax(2.0)),
            gate=TrimmingGate(0.1),
        )
