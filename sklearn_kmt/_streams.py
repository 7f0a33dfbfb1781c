"""The in-memory point stream: how a layer's work is cut and shared.

The components of a layer read the point tokens chunk by chunk. This module
decides how: the size of the chunks (:func:`chunk_n_rows` for the point
stream, :func:`label_chunk_n_rows` for the update attention reading one-hot
labels), whether a layer is worth sharing among worker threads
(:func:`threaded`), and the threads themselves (:func:`stream`), with BLAS
held at one thread while they run and forgotten in a forked child. The
results never depend on the number of threads.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sklearn import get_config
from threadpoolctl import ThreadpoolController

from ._gemm import KMEANS_BLOCK_ROWS
from ._tokens import CACHE_BYTES, CHUNK_BYTES


def chunk_n_rows(points, n_clusters):
    """Rows of point tokens streamed together through one layer.

    A chunk's buffers hold, per row, its scores against the ``n_clusters``
    centroids and one copy of its data part with a constant coordinate
    (dense data) or a few arrays the size of its non-zeros (sparse data,
    which is sliced, never densified). They take at most ``CHUNK_BYTES``
    (4 MiB) and at most scikit-learn's ``working_memory`` setting, so the
    engine never holds the full ``n_samples x n_clusters`` score matrix when
    it is large; each worker thread holds one chunk at a time. When the
    layer is worth sharing among threads (:func:`threaded`), a chunk also
    holds at most an eighth of the tokens (but at least ``MIN_CHUNK_ROWS``),
    so that worker threads have chunks to share. The chunks are of nearly
    equal size, so that no thread waits on a long one: a whole number of
    KMeans' blocks of ``KMEANS_BLOCK_ROWS`` rows (at least one, whatever the
    budget), so that the score product rounds as KMeans' does (see
    :mod:`sklearn_kmt._gemm`). The size does not depend on the number of
    threads, so neither do the results.
    """
    if points.is_sparse:
        row_items = n_clusters + 4 * points.data.nnz // max(points.n_tokens, 1)
    else:
        row_items = n_clusters + points.n_features + 1
    budget = min(CHUNK_BYTES, get_config()["working_memory"] * 2**20)
    rows = max(1, int(budget // (row_items * points.dtype.itemsize)))
    if threaded(points, n_clusters):
        rows = min(rows, _shared_rows(points))
    blocks = max(1, rows // KMEANS_BLOCK_ROWS)
    n_blocks = -(-points.n_tokens // KMEANS_BLOCK_ROWS)
    rows = KMEANS_BLOCK_ROWS * _balanced(n_blocks, blocks)
    return max(1, min(rows, points.n_tokens))


def label_chunk_n_rows(points):
    """Rows of point tokens the update attention reads together from labels.

    Per row, the sparse weights of a chunk hold a label, a weight and a
    column pointer, and the chunk a copy of the data part where it is not a
    view (normalised or sparse points); within ``CACHE_BYTES``: larger
    temporaries are mapped afresh by the allocator in every layer. This pass
    is read on threads when the layer is (:func:`threaded`); when an eighth
    of the tokens is worth a thread on its own (its data part has at least
    ``MIN_THREADED_PRODUCT`` entries), a chunk holds at most that many, so
    that more worker threads can share them; smaller chunks cost more than
    they share. The performance page of the documentation gives the
    measurements behind these bounds.
    """
    row_bytes = 24
    if points.is_sparse:
        row_bytes += 12 * points.data.nnz // max(points.n_tokens, 1)
    elif points.scale is not None:
        row_bytes += points.n_features * points.dtype.itemsize
    rows = CACHE_BYTES // row_bytes
    shared = _shared_rows(points)
    if shared * points.entries_per_token >= MIN_THREADED_PRODUCT:
        rows = min(rows, shared)
    return _balanced(points.n_tokens, rows)


def _shared_rows(points):
    """An eighth of the tokens, but at least ``MIN_CHUNK_ROWS``."""
    return min(points.n_tokens, max(MIN_CHUNK_ROWS, -(-points.n_tokens // 8)))


def _balanced(n_rows, most):
    """The size of equal chunks of at most ``most`` rows covering ``n_rows``."""
    n_chunks = -(-n_rows // max(most, 1))
    return max(1, -(-n_rows // max(n_chunks, 1)))


def threaded(points, n_clusters):
    """Whether the chunks of a layer are worth reading on threads.

    NumPy and SciPy release the GIL inside each operation, but the Python
    between operations holds it, so threads gain only when a chunk's work is
    mostly long operations: its score product, of ``n_clusters *
    (n_features + 1)`` multiply-adds per row (non-zeros for sparse data),
    and the bias and hardmax over its scores, about as much per score as
    ``SCORE_COST`` multiply-adds. The layer is threaded when an eighth of
    it (see ``chunk_n_rows``) has ``MIN_THREADED_PRODUCT`` of that work
    (the performance page of the documentation gives the measurements).
    """
    if points.is_sparse:
        per_row = points.data.nnz / max(points.n_tokens, 1)
    else:
        per_row = points.n_features + 1
    work = _shared_rows(points) * n_clusters * (per_row + SCORE_COST)
    return work >= MIN_THREADED_PRODUCT


# Below this, splitting a layer's work among threads costs more than it saves.
MIN_CHUNK_ROWS = 4096
MIN_THREADED_PRODUCT = 2**21
SCORE_COST = 3

_POOLS = {}
_BLAS = []


def _blas():
    """The BLAS libraries loaded in the process (found once)."""
    if not _BLAS:
        _BLAS.append(ThreadpoolController().select(user_api="blas"))
    return _BLAS[0]


def _blas_threads():
    """The number of threads BLAS may use now: the number of chunk workers."""
    return max((lib.num_threads for lib in _blas().lib_controllers), default=1)


_LIMITED = {"lock": threading.Lock(), "users": 0, "limiter": None, "threads": 1}


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while layers run.

    Counted, so that layers running at once in several threads (concurrent
    ``predict`` calls) restore the original limits only when the last ends,
    and nested uses (a stream within a run of the network) cost a counter.
    """
    with _LIMITED["lock"]:
        if _LIMITED["users"] == 0:
            _LIMITED["threads"] = _blas_threads()
            _LIMITED["limiter"] = _blas().limit(limits=1)
        _LIMITED["users"] += 1
    try:
        yield
    finally:
        with _LIMITED["lock"]:
            _LIMITED["users"] -= 1
            if _LIMITED["users"] == 0:
                _LIMITED["limiter"].restore_original_limits()


def _worker_threads():
    """The number of chunk workers: the threads BLAS may use outside our limit."""
    with _LIMITED["lock"]:
        if _LIMITED["users"]:
            return _LIMITED["threads"]
    return _blas_threads()


def _forget_inherited_threads():
    """Drop, in a forked child, the parent's worker threads and BLAS limit.

    A child process inherits the thread pools as objects but not their
    threads: work handed to them would wait forever. It inherits the lock of
    the BLAS limit in whatever state a parent's thread left it, and the
    limit itself when the fork came during a threaded layer.
    """
    _POOLS.clear()
    limiter = _LIMITED["limiter"] if _LIMITED["users"] else None
    _LIMITED.update(lock=threading.Lock(), users=0, limiter=None, threads=1)
    if limiter is not None:
        limiter.restore_original_limits()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_threads)


def stream(read, chunks, threads=True):
    """``read`` each chunk of point tokens; the results come in chunk order.

    When ``threads`` and BLAS may use several threads, the chunks go out to
    as many worker threads, each with a single-threaded BLAS, the way
    scikit-learn's OpenMP loop does: NumPy and SciPy release the GIL in the
    work of a chunk. A worker takes the next chunk as soon as it is done
    with one (no barrier between rounds); the results, small next to the
    chunks, are used in chunk order, so the outcome does not depend on the
    number of workers. Otherwise the chunks are read in turn, BLAS still on
    one thread: a layer too small to share among worker threads has products
    too small for BLAS's own threads, whose start costs more than they save.
    """
    chunks = list(chunks)
    n_workers = min(len(chunks), _worker_threads()) if threads else 1
    with single_threaded_blas():
        if n_workers <= 1:
            yield from map(read, chunks)
            return
        if n_workers not in _POOLS:
            _POOLS[n_workers] = ThreadPoolExecutor(n_workers)
        yield from _POOLS[n_workers].map(read, chunks)
