"""The score product of the assignment attention, rounded as KMeans rounds it.

scikit-learn's Lloyd iteration scores a chunk of samples ``X`` against the
centers ``C`` with one BLAS call, ``D = ||C||^2 - 2 X C^T``: ``D`` starts as the
squared norms and the product is accumulated into it (``beta = 1``). Which
center wins a near tie depends on how that sum rounds, and the rounding
depends on the BLAS library, on the layout of the operands and on the
accumulation into ``D`` (with many features BLAS adds the product to ``D`` a
block of features at a time). :func:`biased_products` makes the same call to
the same library (SciPy's BLAS, the one scikit-learn links) with the same
layout, for ``S = key_bias + X C^T`` with ``key_bias = -||C||^2 / 2``. Scaling
by ``-1/2`` is exact, so ``S = -D / 2`` bit for bit and the first largest
score of a row is the first smallest of ``D``: the assignment of KMeans.

SciPy's Python BLAS wrappers hold the GIL while they run, which would stop
the worker threads of a layer from sharing the work; the same functions are
exported for Cython in :mod:`scipy.linalg.cython_blas`, and are called here
through :mod:`ctypes`, which releases the GIL during the call. Where that
export cannot be read, the Python wrappers compute the same numbers.
"""

import ctypes
import functools
import threading

import numpy as np
import scipy.linalg.blas

from ._tokens import largest_magnitude, running_best_key


def _cython_blas_function(name, real):
    """The C function ``name`` of :mod:`scipy.linalg.cython_blas`, or None."""
    try:
        from scipy.linalg import cython_blas

        capsule = cython_blas.__pyx_capi__[name]
        get_name = ctypes.pythonapi.PyCapsule_GetName
        get_name.restype = ctypes.c_char_p
        get_name.argtypes = [ctypes.py_object]
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype = ctypes.c_void_p
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        address = get_pointer(capsule, get_name(capsule))
    except (ImportError, AttributeError, KeyError, ValueError):
        return None
    integer = ctypes.POINTER(ctypes.c_int)
    scalar = ctypes.POINTER(real)
    matrix = ctypes.c_void_p
    # gemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    prototype = ctypes.CFUNCTYPE(
        None,
        ctypes.c_char_p,
        ctypes.c_char_p,
        integer,
        integer,
        integer,
        scalar,
        matrix,
        integer,
        matrix,
        integer,
        scalar,
        matrix,
        integer,
    )
    return prototype(address)


_GEMM = {
    np.dtype(np.float64): (
        _cython_blas_function("dgemm", ctypes.c_double),
        ctypes.c_double,
    ),
    np.dtype(np.float32): (
        _cython_blas_function("sgemm", ctypes.c_float),
        ctypes.c_float,
    ),
}


# Broadcasting a row of fewer keys than this into the scores costs more per
# row than copying the filled part onto itself, doubling it each time.
SHORT_ROW_KEYS = 10


def _fill_with_copies(flat, row):
    """Write ``row`` over and over along the contiguous array ``flat``.

    Each copy doubles the filled part: a few long copies, where broadcasting
    ``row`` copies it once per row, which for short rows is slower. Each
    copy is a Python step holding the GIL, so longer rows are broadcast.
    """
    filled = min(row.shape[0], flat.shape[0])
    flat[:filled] = row[:filled]
    while filled < flat.shape[0]:
        step = min(filled, flat.shape[0] - filled)
        flat[filled : filled + step] = flat[:step]
        filled += step


def _address(array):
    return array.__array_interface__["data"][0]


# KMeans scores its samples in blocks of this many rows, the last block of
# the data holding the rest (scikit-learn's CHUNK_SIZE). BLAS rounds a row
# alike in calls of any number of whole blocks, but a call of a few rows may
# take another path (a matrix-vector product for one row), so the partial
# last block is scored by a call of its own, as KMeans does.
KMEANS_BLOCK_ROWS = 256


def biased_products(queries, keys, key_bias, scratch=False):
    """``key_bias[j] + queries[i] . keys[j]`` for dense queries, shape (m, k).

    Parameters
    ----------
    queries : ndarray of shape (m, n_features)
    keys : ndarray of shape (k, n_features)
    key_bias : ndarray of shape (k,)
        Floating (float32 or float64); computed in their common type.
    scratch : bool, default=False
        Write the scores into this thread's scratch buffer (see
        :func:`scratch_buffer`), for a caller that reads them before its
        next call.

    Returns
    -------
    scores : ndarray of shape (m, k), C-ordered
        Rounded as scikit-learn's KMeans rounds its distances (see the module
        docstring) when the queries start one of KMeans' blocks of
        ``KMEANS_BLOCK_ROWS`` rows and end a block or the data.
    """
    dtype = np.result_type(queries.dtype, keys.dtype)
    queries = np.ascontiguousarray(queries, dtype=dtype)
    keys = np.ascontiguousarray(keys, dtype=dtype)
    n_queries, n_features = queries.shape
    n_keys = keys.shape[0]
    # Column-major (k, m) is the row-major (m, k) that KMeans writes into.
    if scratch:
        scores = scratch_buffer("scores", (n_queries, n_keys), dtype).T
    else:
        scores = np.empty((n_keys, n_queries), dtype=dtype, order="F")
    key_bias = np.asarray(key_bias, dtype=dtype)
    if n_keys < SHORT_ROW_KEYS:
        _fill_with_copies(scores.T.reshape(-1), key_bias)
    else:
        np.copyto(scores.T, key_bias)
    whole = n_queries - n_queries % KMEANS_BLOCK_ROWS
    for rows in (slice(0, whole), slice(whole, n_queries)):
        if rows.stop > rows.start:
            _accumulate_products(scores[:, rows], keys, queries[rows])
    return scores.T


_SCRATCH = threading.local()


def scratch_buffer(name, shape, dtype):
    """A C-ordered array of ``shape`` that this thread reuses from call to
    call under ``name``: its values are those the last user left.

    A chunk's scores are read at once and dropped; writing each chunk's into
    the same memory spares the allocator a fresh block of pages per chunk,
    which it may return to the system at once (as Dask's workers ask of it)
    and fault in again at the next.
    """
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    size = int(np.prod(shape))
    buffer = buffers.get((name, np.dtype(dtype)))
    if buffer is None or buffer.size < size:
        buffer = buffers[(name, np.dtype(dtype))] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def _accumulate_products(scores, keys, queries):
    """``scores += keys @ queries.T`` with scores (k, m) column-major, by BLAS."""
    n_keys, n_queries = scores.shape
    n_features = keys.shape[1]
    dtype = scores.dtype
    gemm, real = _GEMM[dtype]
    if gemm is None:
        python_gemm = scipy.linalg.blas.dgemm if dtype == np.float64 else None
        python_gemm = python_gemm or scipy.linalg.blas.sgemm
        python_gemm(
            1.0, keys.T, queries.T, beta=1.0, c=scores, trans_a=True, overwrite_c=True
        )
        return
    # Fortran's view of KMeans' row-major call: C' = op(A) B with A = keys
    # (n_features x k, transposed) and B = queries (n_features x m).
    m, n, k = ctypes.c_int(n_keys), ctypes.c_int(n_queries), ctypes.c_int(n_features)
    one = real(1.0)
    gemm(
        b"T",
        b"N",
        ctypes.byref(m),
        ctypes.byref(n),
        ctypes.byref(k),
        ctypes.byref(one),
        _address(keys),
        ctypes.byref(k),
        _address(queries),
        ctypes.byref(k),
        ctypes.byref(one),
        _address(scores),
        ctypes.byref(m),
    )


# Up to this many keys, a chunk's best keys may come from scores laid out key
# by key (a few vector operations per key), checked against the rounding of
# KMeans' product; that pays with few features, and in float64 with many,
# where NumPy's key-major product streams the queries faster than KMeans'
# layout (see :func:`key_major_pays`).
CERTIFIED_MAX_KEYS = 16
CERTIFIED_MAX_FEATURES = 16
CERTIFIED_MIN_FLOAT64_FEATURES = 100


def key_major_pays(n_keys, n_features, dtype):
    """Whether :func:`first_best_keys` scores key by key and certifies."""
    return n_keys <= CERTIFIED_MAX_KEYS and (
        n_features <= CERTIFIED_MAX_FEATURES
        or (dtype == np.float64 and n_features >= CERTIFIED_MIN_FLOAT64_FEATURES)
    )


# From this many queries on, the best key is found by a running maximum over
# the keys rather than by ``np.argmax``.
RUNNING_MAX_MIN_QUERIES = 4096


def first_best_keys(queries, keys, key_bias, largest_query_norm=None):
    """The first largest ``key_bias[j] + queries[i] . keys[j]`` of each query,
    as scikit-learn's KMeans picks it.

    Parameters
    ----------
    queries : ndarray of shape (m, n_features)
    keys : ndarray of shape (k, n_features)
    key_bias : ndarray of shape (k,)
    largest_query_norm : float, default=None
        An upper bound on the Euclidean norm of every query, when the caller
        knows one for all its chunks; otherwise it is read from ``queries``.

    Returns
    -------
    labels : ndarray of shape (m,) of integers

    Notes
    -----
    Where :func:`key_major_pays` says no, the scores are
    :func:`biased_products` and the labels their ``np.argmax``. Otherwise
    the scores are computed key by key with NumPy's product, where a
    running maximum over the keys finds each query's best. Any order of
    summing the ``n_features + 1`` terms of a score (and with or without
    fused multiply-adds) is within ``gamma (|b| + ||x|| ||c||)`` of its exact
    value, with ``gamma = (n + 1) u / (1 - (n + 1) u)`` and ``u`` the unit
    roundoff, so two roundings of a score differ by at most twice that. A
    query whose other scores are all below its best by more than twice that
    difference has the same best key in KMeans' rounding; the blocks of
    ``KMEANS_BLOCK_ROWS`` queries that hold another, near a tie, are scored
    again with :func:`biased_products`.
    """
    n_keys, n_features = keys.shape
    dtype = np.result_type(queries.dtype, keys.dtype)
    if not key_major_pays(n_keys, n_features, dtype):
        scores = biased_products(queries, keys, key_bias, scratch=True)
        return np.argmax(scores, axis=1)
    keys = keys.astype(dtype, copy=False)
    key_bias = np.asarray(key_bias, dtype=dtype)
    scores_by_key = _key_major_scores(queries, keys, key_bias)
    gamma = _summation_error_factor(dtype, n_features + 1)
    if largest_query_norm is None:
        largest_query_norm = np.sqrt(n_features) * largest_magnitude(queries)
    largest_key = float(np.sqrt(np.max(np.einsum("ij,ij->i", keys, keys))))
    # Twice the bound of the difference of two roundings, enlarged for the
    # rounding of the bound itself.
    largest_bias = float(np.max(np.abs(key_bias)))
    margin = 4.5 * gamma * (largest_bias + largest_query_norm * largest_key)
    labels, near_tie = _best_keys_and_near_ties(scores_by_key, margin)
    if not near_tie.any():
        return labels
    # The blocks, as KMeans scores them, that hold a query near a tie.
    blocks = np.unique(np.flatnonzero(near_tie) // KMEANS_BLOCK_ROWS)
    for start in (blocks * KMEANS_BLOCK_ROWS).tolist():
        rows = slice(start, start + KMEANS_BLOCK_ROWS)
        labels[rows] = np.argmax(biased_products(queries[rows], keys, key_bias), 1)
    return labels


@functools.lru_cache
def _summation_error_factor(dtype, n_terms):
    """``gamma = n u / (1 - n u)`` for ``n`` terms and the unit roundoff ``u``."""
    terms = n_terms * float(np.finfo(dtype).eps) / 2
    return terms / (1 - terms)


def _key_major_scores(queries, keys, key_bias):
    """``key_bias[j] + keys[j] . queries[i]`` by NumPy, shape (k, m): rounded
    in some order of its own, which :func:`first_best_keys` certifies."""
    scores_by_key = scratch_buffer(
        "scores", (keys.shape[0], queries.shape[0]), keys.dtype
    )
    np.matmul(keys, queries.T, out=scores_by_key)
    scores_by_key += key_bias[:, None]
    return scores_by_key


def _best_keys_and_near_ties(scores_by_key, margin):
    """First largest score's key per query (see ``running_best_key``), and
    whether another key's score is within ``margin`` of it.

    ``scores_by_key`` has shape (k, m), each key's scores contiguous. A
    short chunk (of many features) takes ``np.argmax``, in fewer and longer
    operations than the running maximum, which holds the GIL between them.
    """
    n_keys, n_queries = scores_by_key.shape
    if n_queries < RUNNING_MAX_MIN_QUERIES:
        labels = np.argmax(scores_by_key, axis=0)
        best = np.max(scores_by_key, axis=0)
    else:
        labels, best = running_best_key(scores_by_key)
    threshold = np.subtract(best, margin, out=best)
    near = np.add.reduce(
        scores_by_key >= threshold, axis=0, dtype=np.min_scalar_type(n_keys)
    )
    return labels, near > 1
