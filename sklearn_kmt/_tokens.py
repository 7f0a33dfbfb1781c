"""Point tokens and centroid tokens of the k-means transformer.

A point token is the column ``[x_i ; y_i]`` of length ``n_features + n_clusters``:
the sample and its assignment slot. A centroid token is ``[c_j ; e_j]``: the
center and its identity, the j-th standard basis vector.

On the fast path the two parts are kept apart: the data part is the caller's
(validated) matrix, dense or CSR, never copied into a wider one, and the
assignment slots of a chunk of points are held in the form that suits them:
a one-hot row as the index of its one (:class:`OneHotSlots`), a row of
responsibilities as their logarithms (:class:`SoftSlots`). ``dense()``
assembles the literal token matrix for small inputs.
"""

import math

import numpy as np
import scipy.sparse as sp

# Upper bound on the buffers of one chunk of point tokens (one per worker
# thread at a time): large enough that the per-chunk Python overhead is
# small, small enough that the memory beyond the data stays modest.
CHUNK_BYTES = 4 * 2**20

# A chunk whose temporaries are written and read back at once stays within
# this, about what a core's own cache holds.
CACHE_BYTES = 2 * 2**20

# Up to this many keys, the hardmax over key-major scores is a running
# maximum over the keys (see ``first_argmax``).
KEY_MAJOR_MAX_KEYS = 16


def running_best_key(scores_by_key):
    """Index and value of the first largest score of each query, from
    key-major scores.

    ``scores_by_key`` has shape (n_keys, n_queries), each key's scores
    contiguous. A running maximum over the keys takes a few branch-free
    vector operations per key, where ``np.argmax`` over short rows stalls on
    a branch per element. A later key wins only if strictly larger, so ties
    go to the first key, as with ``np.argmax``. The labels are of the
    smallest integer type that holds them: their updates are as many passes
    as the score updates.
    """
    n_keys, n_queries = scores_by_key.shape
    best = scores_by_key[0].copy()
    labels = np.zeros(n_queries, dtype=np.min_scalar_type(n_keys - 1))
    larger = np.empty(n_queries, dtype=bool)
    candidate = np.empty_like(labels)
    for key in range(1, n_keys):
        np.greater(scores_by_key[key], best, out=larger)
        np.maximum(best, scores_by_key[key], out=best)
        # Keys come in increasing order: the label is the last key that won.
        np.multiply(larger, key, out=candidate, casting="unsafe")
        np.maximum(labels, candidate, out=labels)
    return labels, best


def first_argmax(scores):
    """Index of the first largest score in each row of ``scores`` (m, k).

    Key-major (Fortran-ordered) scores, see
    :func:`~sklearn_kmt._components.query_key_products`, of at most
    ``KEY_MAJOR_MAX_KEYS`` keys take a running maximum over the keys. The
    labels are left in NumPy's index type (or the smallest that holds them):
    casting costs as much as the argmax, and the labels are cast once when
    stored.
    """
    n_keys = scores.shape[1]
    if 1 < n_keys <= KEY_MAJOR_MAX_KEYS and not scores.flags.c_contiguous:
        return running_best_key(scores.T)[0]
    return np.argmax(scores, axis=1)


def summed_duplicates(X):
    """``X``, or for a CSR ``X`` with duplicate entries a copy with them summed.

    SciPy allows a CSR matrix to store several entries at one position, and
    they mean their sum; the layers read stored entries one by one, so they
    need each position once. The caller's matrix is never changed. A matrix
    in canonical format (sorted indices, no duplicates) is returned as it is.
    """
    if sp.issparse(X) and not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def with_32bit_indices(X):
    """``X``, or for a CSR ``X`` with 64-bit index arrays a matrix on the same
    values with 32-bit copies of them.

    For components built on compiled code that takes 32-bit indices only
    (scikit-learn's sparse Manhattan distances). The caller's matrix is
    never changed.

    Raises
    ------
    ValueError
        When the matrix is too large for 32-bit indices.
    """
    if not sp.issparse(X) or (
        X.indices.dtype == np.int32 and X.indptr.dtype == np.int32
    ):
        return X
    if max(X.nnz, X.shape[1]) > np.iinfo(np.int32).max:
        raise ValueError(
            f"X has {X.nnz} stored entries and {X.shape[1]} columns, beyond the "
            "32-bit sparse indices that this estimator's metric takes."
        )
    converted = X.copy()
    converted.indices = X.indices.astype(np.int32)
    converted.indptr = X.indptr.astype(np.int32)
    return converted


def largest_magnitude(values):
    """The largest absolute value of a dense array, or of the stored entries
    of a CSR matrix; 0 when there is none. Two reductions, no copy."""
    data = values.data if sp.issparse(values) else np.asarray(values)
    if data.size == 0:
        return 0.0
    return max(float(data.max()), -float(data.min()))


def times_power_of_two(values, exponent):
    """``values * 2**exponent`` for a dense or CSR array, exactly (a shift of
    the exponents); ``values`` itself when ``exponent`` is 0."""
    if exponent == 0:
        return values
    if sp.issparse(values):
        return type(values)(
            (np.ldexp(values.data, exponent), values.indices, values.indptr),
            shape=values.shape,
        )
    return np.ldexp(values, exponent).astype(values.dtype, copy=False)


def scale_rows(matrix, scale):
    """Each row of a dense or CSR ``matrix`` times its entry of ``scale``.

    A CSR matrix takes new values, in its own type, on the same sparsity
    structure: no copy of the indices.
    """
    if sp.issparse(matrix):
        values = matrix.data * np.repeat(scale, np.diff(matrix.indptr))
        return sp.csr_matrix(
            (values.astype(matrix.dtype, copy=False), matrix.indices, matrix.indptr),
            shape=matrix.shape,
        )
    return matrix * scale[:, None]


class OneHotSlots:
    """Hard assignment slots ``y_i = e_{labels_i}`` of a chunk of points.

    Parameters
    ----------
    labels : ndarray of shape (n_points,)
        Index of the one in each slot; -1 for a slot zeroed by a gate.
    n_clusters : int

    Attributes
    ----------
    labels, n_clusters
        The arguments given.

    See Also
    --------
    SoftSlots : The slots a softmax writes.
    sklearn_kmt._components.Hardmax : The normalisation that writes them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._tokens import OneHotSlots
    >>> slots = OneHotSlots(np.array([2, -1, 0]), n_clusters=3)
    >>> slots.dense()  # the second slot was zeroed by a gate
    array([[0., 0., 1.],
           [0., 0., 0.],
           [1., 0., 0.]])
    >>> weights, _, totals, shift = slots.update_weights(np.array([1.0, 1.0, 2.0]))
    >>> weights.toarray()  # the update attention's weights, centroids by points
    array([[0., 0., 2.],
           [0., 0., 0.],
           [1., 0., 0.]])
    >>> totals
    array([2., 0., 1.])
    """

    def __init__(self, labels, n_clusters):
        self.labels = labels
        self.n_clusters = n_clusters

    def update_weights(self, sample_weight):
        """The update attention's unnormalised weights, centroids by points.

        The update attention's score is ``log y_ij + log w_i``, so its
        exponential is ``w_i`` where ``y_ij = 1`` and 0 elsewhere: a sparse
        matrix with one entry per column, and no shift is needed.

        Returns
        -------
        weights : scipy.sparse.csc_array of shape (n_clusters, n_points)
        point_scale : None
            The weights are whole (see :meth:`SoftSlots.update_weights`).
        totals : ndarray of shape (n_clusters,)
            Each centroid's sum of ``weights``.
        shift : ndarray of shape (n_clusters,)
            The log-scale the weights are relative to (zeros).
        """
        labels, n_points = self.labels, self.labels.shape[0]
        if labels.min(initial=0) >= 0:
            indptr = np.arange(n_points + 1)
        else:  # a gate zeroed some slots: their columns stay empty
            kept = labels >= 0
            indptr = np.concatenate([[0], np.cumsum(kept)])
            sample_weight, labels = sample_weight[kept], labels[kept]
        weights = sp.csc_array(
            (sample_weight, labels, indptr), shape=(self.n_clusters, n_points)
        )
        # A product with ones, as with a constant coordinate of the tokens:
        # far cheaper than the sparse matrix's ``sum``.
        totals = weights @ np.ones(n_points)
        return weights, None, totals, np.zeros(self.n_clusters)

    def dense(self):
        """The slots as rows of a dense (n_points, n_clusters) matrix."""
        slots = np.zeros((self.labels.shape[0], self.n_clusters))
        kept = self.labels >= 0
        slots[np.flatnonzero(kept), self.labels[kept]] = 1.0
        return slots


class SoftSlots:
    """Soft assignment slots of a chunk of points: responsibilities.

    Parameters
    ----------
    scaled_scores : ndarray of shape (n_points, n_clusters)
        ``beta * (s_ij - max_j s_ij)``: each row's largest is 0, so the
        exponentials are at most 1 and each row's total is at least 1. The
        array is overwritten by the exponentials.

    Attributes
    ----------
    exponentials : ndarray of shape (n_points, n_clusters)
        ``exp(scaled_scores)``, written over the scaled scores.
    totals : ndarray of shape (n_points,)
        Each row's sum of ``exponentials``.
    far_centroids : ndarray of int
        The centroids whose largest exponential is below ``sqrt(tiny)`` of
        the data type; their scaled scores are kept in ``far_scaled_scores``,
        of shape (n_points, n_far), because their exponentials may underflow.

    See Also
    --------
    OneHotSlots : The slots a hardmax writes.
    sklearn_kmt._components.Softmax : The normalisation that writes them.

    Notes
    -----
    The responsibilities are ``r_ij = exp(scaled_ij) / t_i`` with ``t_i`` the
    row's total; they are kept as the exponentials and the totals. Computing
    the exponentials in place keeps a chunk's memory to one score-sized
    array: a second one, freed with the first after every chunk, had the
    allocator map and fault in fresh pages for each chunk.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._tokens import SoftSlots
    >>> slots = SoftSlots(np.log(np.array([[1.0, 1 / 3], [1 / 9, 1.0]])))
    >>> slots.labels
    array([0, 1], dtype=int32)
    >>> slots.dense().round(6)
    array([[0.75, 0.25],
           [0.1 , 0.9 ]])
    """

    def __init__(self, scaled_scores):
        n_clusters = scaled_scores.shape[1]
        # A centroid's largest scaled score bounds its exponentials: only far
        # centroids can lose theirs to underflow, and they are rare.
        largest = scaled_scores.max(axis=0, initial=-np.inf)
        far = np.log(np.sqrt(np.finfo(scaled_scores.dtype).tiny))
        self.far_centroids = np.flatnonzero(~(largest >= far))
        self.far_scaled_scores = scaled_scores[:, self.far_centroids]
        self.exponentials = np.exp(scaled_scores, out=scaled_scores)
        # A matrix-vector product: in either memory layout of the scores one
        # contiguous pass, where ``sum(axis=1)`` over short rows is slow.
        self.totals = self.exponentials @ np.ones(
            n_clusters, dtype=self.exponentials.dtype
        )

    @property
    def log_top_responsibilities(self):
        """``log max_j r_ij``: the largest scaled score is 0, so ``-log t_i``."""
        return -np.log(self.totals)

    @property
    def labels(self):
        """The most responsible centroid of each point.

        Responsibilities that round to the same exponential tie (as all do
        where ``beta`` is so small that the scores differ by less than their
        rounding), and the first centroid wins.
        """
        return first_argmax(self.exponentials).astype(np.int32)

    def log_scaled_scores(self, centroids):
        """The scaled scores of some centroids, shape (n_points, len(centroids)).

        Those of far centroids were kept; the others are the logarithms of
        their exponentials, exact where they matter: their largest is above
        ``sqrt(tiny)``, and one that underflowed weighs less than
        ``sqrt(tiny)`` of it.
        """
        scaled = np.empty((self.totals.shape[0], len(centroids)))
        far = np.isin(centroids, self.far_centroids)
        kept = np.searchsorted(self.far_centroids, centroids[far])
        scaled[:, far] = self.far_scaled_scores[:, kept]
        with np.errstate(divide="ignore"):
            scaled[:, ~far] = np.log(self.exponentials[:, centroids[~far]])
        return scaled

    def update_weights(self, sample_weight):
        """The update attention's weights ``exp(log r_ij + log w_i - shift_j)``.

        The shift is 0 for a centroid whose largest weight ``r_ij w_i`` over
        the chunk is a normal number (far from underflow): the weights are
        then the plain products ``e_ij * (w_i / t_i)``, returned factored as
        the exponentials and the scale of each point, so that the product
        with the values can scale whichever side is smaller. For another
        centroid ``shift_j`` is the largest of its scores ``log r_ij + log w_i``
        (the running maximum of an online softmax), and its weights come from
        the logarithms, so that it still attends to its best points when
        every product underflows; the weights are then returned whole.

        Returns
        -------
        weights : ndarray of shape (n_clusters, n_points)
        point_scale : ndarray of shape (n_points,) or None
            The factor of each point's column of ``weights``; None when the
            weights are whole.
        totals : ndarray of shape (n_clusters,)
            Each centroid's sum of the (scaled) weights.
        shift : ndarray of shape (n_clusters,)
        """
        n_points, n_clusters = self.exponentials.shape
        weights = self.exponentials.T
        point_scale = sample_weight / self.totals
        totals = weights @ point_scale.astype(weights.dtype, copy=False)
        shift = np.zeros(n_clusters)
        tiny = np.sqrt(np.finfo(weights.dtype).tiny)
        # A centroid's total bounds its largest weight: above n_points * tiny
        # that weight is normal, below tiny it is not. Only centroids in
        # between need their largest weight itself.
        unsure = np.flatnonzero(~(totals >= n_points * tiny))
        top = (weights[unsure] * point_scale).max(axis=1, initial=0)
        faint = unsure[~((top >= tiny) & np.isfinite(top))]
        if faint.size == 0 or n_points == 0:
            return weights, point_scale, totals, shift
        with np.errstate(divide="ignore"):
            log_weight = np.log(sample_weight)
        scores = self.log_scaled_scores(faint).T - np.log(self.totals) + log_weight
        faint_shift = scores.max(axis=1)
        faint_shift[~np.isfinite(faint_shift)] = 0.0
        scores -= faint_shift[:, None]
        weights = weights * point_scale
        weights[faint] = np.exp(scores)
        totals[faint] = weights[faint].sum(axis=1)
        shift[faint] = faint_shift
        return weights, None, totals, shift

    def dense(self):
        """The responsibilities as rows of a dense (n_points, n_clusters) matrix."""
        return self.exponentials / self.totals[:, None]


class PointTokens:
    """The point tokens ``[x_i ; y_i]``, data part and sample weights.

    Parameters
    ----------
    data : {ndarray, csr_matrix} of shape (n_samples, n_features)
        The data part, already validated (C-ordered float, or CSR).
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weight of each point token; the update attention adds
        ``log(sample_weight)`` to its scores.

    scale : ndarray of shape (n_samples,), default=None
        Per-token factor applied to the data part by a normalisation layer;
        None for the identity. The data itself is never rescaled in place.
    normalised : bool, default=False
        Whether ``data`` is already the output of the normalisation layer
        (computed once for a whole forward pass), so that the layers do not
        apply it again.
    largest_value : float, default=None
        The largest magnitude among the values of ``data``, when the caller
        has read it; see :attr:`largest_norm`.
    start : int, default=0
        The index of the first token in the whole point stream, for tokens
        that are a chunk of it (ties are broken by that index).

    Attributes
    ----------
    data, sample_weight, scale, start
        The arguments given.
    n_tokens : int
        Number of point tokens, ``n_samples``.
    n_features : int
        Length of the data part.

    See Also
    --------
    CentroidTokens : The other stream of tokens.
    OneHotSlots, SoftSlots : The assignment slots of a chunk of points.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._tokens import OneHotSlots, PointTokens
    >>> points = PointTokens(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones(2))
    >>> points.n_tokens, points.n_features
    (2, 2)
    >>> slots = OneHotSlots(np.array([1, 0]), n_clusters=2)
    >>> points.dense(slots.dense())  # the literal token matrix [X, Y]
    array([[1., 2., 0., 1.],
           [3., 4., 1., 0.]])
    """

    def __init__(
        self,
        data,
        sample_weight,
        scale=None,
        normalised=False,
        largest_value=None,
        start=0,
    ):
        self.data = data
        self.sample_weight = sample_weight
        self.scale = scale
        self.start = start
        self._normalised = normalised
        self._largest_value = largest_value
        self._directionless = None
        self._derived = {}

    def derived(self, name, compute):
        """``compute(self)``, computed the first time it is asked for under
        ``name`` and then kept with the tokens: what every layer of a run
        reads again of tokens that do not change during it."""
        if name not in self._derived:
            self._derived[name] = compute(self)
        return self._derived[name]

    @property
    def largest_norm(self):
        """An upper bound on the Euclidean norm of every token's data part,
        from ``largest_value``; None when that was not given or a
        normalisation factor applies."""
        if self._largest_value is None or self.scale is not None:
            return None
        return math.sqrt(self.n_features) * self._largest_value

    @property
    def directionless(self):
        """Which tokens a normalisation layer made zero: they have no
        direction, so no centroid is ever moved onto them. None when no
        normalisation applies.

        The same whether the normalisation is a factor per token (``scale``)
        or was applied to ``data`` once for a whole forward pass
        (``normalised``).
        """
        if self.scale is not None:
            return self.scale == 0
        if not self._normalised:
            return None
        if self._directionless is None:
            if self.is_sparse:
                squares = self.data.multiply(self.data).sum(axis=1)
                self._directionless = np.asarray(squares).ravel() == 0
            else:
                self._directionless = ~np.any(self.data, axis=1)
        return self._directionless

    @property
    def is_normalised(self):
        """Whether the tokens are seen through a normalisation layer already."""
        return self._normalised or self.scale is not None

    @property
    def n_tokens(self):
        return self.data.shape[0]

    @property
    def n_features(self):
        return self.data.shape[1]

    @property
    def entries_per_token(self):
        """Entries of the data part per token: the features, or for sparse
        data its mean number of non-zeros."""
        if self.is_sparse:
            return self.data.nnz / max(self.n_tokens, 1)
        return self.n_features

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_sparse(self):
        return sp.issparse(self.data)

    def rows(self, chunk_n_rows):
        """Consecutive row slices of at most ``chunk_n_rows`` tokens.

        No tokens (an empty block of a Dask array) make one empty chunk, an
        ordinary one: what is read of it has its shapes, with no rows,
        whatever ``chunk_n_rows`` (the length of such a chunk, 0, say).
        """
        if self.n_tokens == 0:
            yield slice(0, 0)
        for start in range(0, self.n_tokens, max(chunk_n_rows, 1)):
            yield slice(start, min(start + chunk_n_rows, self.n_tokens))

    def chunk(self, rows):
        """Data part of some tokens (a slice or indices), normalised if so set."""
        whole = isinstance(rows, slice) and rows == slice(None)
        block = self.data if whole and self.is_sparse else self.data[rows]
        if self.scale is None:
            return block
        return scale_rows(block, self.scale[rows])

    def part(self, rows):
        """The tokens of a slice of rows, their data part as the layer sees it
        (normalised once here, if so set), numbered from their place in the
        stream."""
        return PointTokens(
            self.chunk(rows),
            self.sample_weight[rows],
            normalised=self.is_normalised,
            start=self.start + rows.start,
        )

    def dense_rows(self, rows):
        """Data part of some tokens as a dense array."""
        block = self.chunk(rows)
        return block.toarray() if sp.issparse(block) else block

    def normalised(self, scale):
        """The same tokens seen through a per-token normalisation factor."""
        return PointTokens(self.data, self.sample_weight, scale, start=self.start)

    def dense(self, slots):
        """The literal token matrix ``[X, Y]`` of shape (n, n_features + n_clusters).

        Parameters
        ----------
        slots : ndarray of shape (n_samples, n_clusters)
            The assignment slots ``y_i`` as rows.
        """
        return np.hstack([self.dense_rows(slice(None)), slots])


class CentroidTokens:
    """The centroid tokens ``[c_j ; e_j]``.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        The data part; the identity part ``e_j`` is implicit in the row order.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        The argument given.
    n_tokens : int
        Number of centroid tokens, ``n_clusters``.

    See Also
    --------
    PointTokens : The other stream of tokens.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._tokens import CentroidTokens
    >>> CentroidTokens(np.array([[0.5, 1.5], [2.0, 2.0]])).dense()
    array([[0.5, 1.5, 1. , 0. ],
           [2. , 2. , 0. , 1. ]])
    """

    def __init__(self, centers):
        self.centers = centers

    @property
    def n_tokens(self):
        return self.centers.shape[0]

    def dense(self):
        """The literal token matrix ``[C, I]`` of shape (k, n_features + k)."""
        identity = np.eye(self.n_tokens, dtype=self.centers.dtype)
        return np.hstack([self.centers, identity])


def nonzero_rows_and_centers(points, centers, labels):
    """For each non-zero of CSR ``points``: its row, and its row's center there."""
    rows = np.repeat(np.arange(points.shape[0]), np.diff(points.indptr))
    return rows, centers[labels[rows], points.indices]


def dot_with_assigned(points, centers, labels):
    """``x_i . c_{labels_i}`` for each row; a sparse row touches only its non-zeros."""
    if not sp.issparse(points):
        return np.einsum("ij,ij->i", points, np.take(centers, labels, axis=0))
    rows, own = nonzero_rows_and_centers(points, centers, labels)
    return np.bincount(
        rows, weights=points.data * own, minlength=points.shape[0]
    ).astype(points.dtype, copy=False)
