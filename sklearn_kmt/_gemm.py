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

import numpy as np
import scipy.linalg.blas


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


def _address(array):
    return array.__array_interface__["data"][0]


def biased_products(queries, keys, key_bias):
    """``key_bias[j] + queries[i] . keys[j]`` for dense queries, shape (m, k).

    Parameters
    ----------
    queries : ndarray of shape (m, n_features)
    keys : ndarray of shape (k, n_features)
    key_bias : ndarray of shape (k,)
        Floating (float32 or float64); computed in their common type.

    Returns
    -------
    scores : ndarray of shape (m, k), C-ordered
        Rounded as scikit-learn's KMeans rounds its distances (see the module
        docstring).
    """
    dtype = np.result_type(queries.dtype, keys.dtype)
    queries = np.ascontiguousarray(queries, dtype=dtype)
    keys = np.ascontiguousarray(keys, dtype=dtype)
    n_queries, n_features = queries.shape
    n_keys = keys.shape[0]
    # Column-major (k, m) is the row-major (m, k) that KMeans writes into.
    scores = np.empty((n_keys, n_queries), dtype=dtype, order="F")
    scores[...] = np.asarray(key_bias, dtype=dtype)[:, None]
    if n_queries == 0:
        return scores.T
    gemm, real = _GEMM[dtype]
    if gemm is None:
        python_gemm = scipy.linalg.blas.dgemm if dtype == np.float64 else None
        python_gemm = python_gemm or scipy.linalg.blas.sgemm
        python_gemm(
            1.0, keys.T, queries.T, beta=1.0, c=scores, trans_a=True, overwrite_c=True
        )
        return scores.T
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
    return scores.T
