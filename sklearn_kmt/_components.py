"""The components of the k-means transformer, each next to its weights.

Every component here is a standard transformer part with hand-set weights:

- :class:`AssignAttention`: cross-attention from point tokens (queries) to
  centroid tokens (keys and values). It writes into each point's assignment
  slot the identity of its nearest centroid (:class:`Hardmax`) or its
  responsibilities (:class:`Softmax`). Its score is one of
  :class:`SquaredEuclideanScore` and :class:`CosineScore`.
- :class:`UpdateAttention`: cross-attention from centroid tokens (queries) to
  point tokens (keys and values). It moves each centroid to the weighted mean
  of the points, weighted by what their slots say of it.
- :class:`RelocationHead`: a head that gives an empty centroid the point
  farthest from its own centroid, as scikit-learn's Lloyd iteration does.
- :class:`UnitSphereNormalisation`: layer normalisation without centring,
  which puts tokens on the unit sphere.
- :class:`TrimmingGate`: an MLP gate on the point stream that zeroes the slots
  of the points farthest from their centroid.

Each component holds its explicit weights (``parameters``), dense matrices
acting on the token space of ``n_features + n_clusters`` coordinates, and
applies them in two ways. The literal form (``literal``) builds the token
matrices and runs :func:`dense_attention` exactly as written: queries, keys
and values are projected, scored, normalised over the keys, mixed and
projected out, and the residual is added. The fast form (``__call__``)
exploits the structure of the weights: selection matrices become slicing, a
one-hot attention becomes a sparse matrix, the erase heads (self-attentions
that pick the token itself) become subtractions, and the two attentions run
over a stream of row chunks of point tokens (see
:mod:`sklearn_kmt._network`).
"""

from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import (
    euclidean_distances,
    manhattan_distances,
)
from sklearn.utils.extmath import row_norms, safe_sparse_dot

from ._gemm import biased_products, first_best_keys
from ._streams import (
    MIN_THREADED_PRODUCT,
    Reduction,
    chunk_n_rows,
    stream,
    threaded,
)
from ._tokens import (
    CACHE_BYTES,
    CHUNK_BYTES,
    OneHotSlots,
    PointTokens,
    SoftSlots,
    dot_with_assigned,
    first_argmax,
    nonzero_rows_and_centers,
    scale_rows,
)

# -- the literal form: dense weights on the token space ------------------------


def selection(n_features, n_clusters, source, target=None, sign=1.0):
    """A weight matrix that copies one block of a token into another.

    Tokens have ``n_features + n_clusters`` coordinates: the "data" block
    (sample or center) and the "slot" block (a point's assignment slot, a
    centroid's identity).

    Parameters
    ----------
    n_features, n_clusters : int
    source : {"data", "slot"}
        Block read.
    target : {"data", "slot"}, default=None
        Block written; the same as ``source`` when None.
    sign : float, default=1.0

    Returns
    -------
    W : ndarray of shape (n_features + n_clusters, n_features + n_clusters)
        Zero but for ``sign`` times an identity block.
    """
    size = n_features + n_clusters
    blocks = {"data": slice(0, n_features), "slot": slice(n_features, size)}
    read, written = blocks[source], blocks[target or source]
    weights = np.zeros((size, size))
    weights[written, read] = sign * np.eye(read.stop - read.start)
    return weights


def dense_attention(queries, keys, W_Q, W_K, W_V, W_O, score, normalise, key_bias=None):
    """One attention head, literally.

    Parameters
    ----------
    queries : ndarray of shape (n_queries, n_coordinates)
    keys : ndarray of shape (n_keys, n_coordinates)
        Token matrices, one token a row.
    W_Q, W_K, W_V, W_O : ndarray of shape (n_coordinates, n_coordinates)
        Query, key, value and output projections.
    score : callable
        ``score(Q, K)``, the (n_queries, n_keys) matrix of scores of the
        projected queries and keys.
    normalise : callable
        Turns each row of scores into attention weights over the keys.
    key_bias : ndarray of shape (n_keys,), default=None
        Added to every row of scores before the normalisation.

    Returns
    -------
    output : ndarray of shape (n_queries, n_coordinates)
        ``normalise(score(Q, K) + key_bias) V W_O^T``, to be added to the
        queries by the residual connection.
    attention : ndarray of shape (n_queries, n_keys)

    See Also
    --------
    AssignAttention.literal : The assignment attention, applied through it.
    UpdateAttention.literal : The update attention, applied through it.

    Examples
    --------
    A point token ``[x ; y]`` with one feature and an empty slot attends to two
    centroid tokens ``[c_j ; e_j]``: queries and keys select the data block, the
    value the identity block, and the hardmax picks the nearest centroid.

    >>> import numpy as np
    >>> from sklearn_kmt._components import (
    ...     dense_attention, hardmax_averaging_ties, minus_half_squared_distance,
    ...     selection)
    >>> point_tokens = np.array([[0.9, 0.0, 0.0]])
    >>> centroid_tokens = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    >>> data, slot = selection(1, 2, "data"), selection(1, 2, "slot")
    >>> output, attention = dense_attention(
    ...     point_tokens, centroid_tokens, W_Q=data, W_K=data, W_V=slot, W_O=slot,
    ...     score=minus_half_squared_distance, normalise=hardmax_averaging_ties)
    >>> attention
    array([[0., 1.]])
    >>> output  # added to the point token, it writes e_1 into the slot
    array([[0., 0., 1.]])
    """
    projected_queries = queries @ W_Q.T
    projected_keys = keys @ W_K.T
    values = keys @ W_V.T
    scores = score(projected_queries, projected_keys)
    if key_bias is not None:
        scores = scores + key_bias
    attention = normalise(scores)
    return attention @ values @ W_O.T, attention


def minus_half_squared_distance(queries, keys):
    """The score ``-1/2 ||q - k||^2`` of a head that looks for its own token."""
    return -0.5 * euclidean_distances(queries, keys, squared=True)


def hardmax_averaging_ties(scores):
    """Hardmax over the keys, tied maxima sharing the weight equally."""
    best = scores == scores.max(axis=1, keepdims=True)
    return best / best.sum(axis=1, keepdims=True)


def log_of_product(queries, keys):
    """The score ``log(q . k)``, minus infinity where the product is 0."""
    with np.errstate(divide="ignore"):
        return np.log(queries @ keys.T)


def softmax_over_keys(scores):
    """Softmax over each row; a row of minus infinities attends to nothing."""
    top = scores.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    weights = np.exp(scores - top)
    totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)


def erase_head(n_features, n_clusters, block):
    """Weights of a self-attention that removes a token's ``block``.

    Its query and key projections are identities and its score
    ``-1/2 ||q - k||^2``, so the hardmax picks the token itself (or identical
    tokens, which hold the same value); its value is minus ``block``.
    """
    identity = np.eye(n_features + n_clusters)
    return {
        "W_Q": identity,
        "W_K": identity,
        "W_V": selection(n_features, n_clusters, block, sign=-1.0),
        "W_O": identity,
    }


def apply_erase_head(tokens, weights):
    output, _ = dense_attention(
        tokens,
        tokens,
        **weights,
        score=minus_half_squared_distance,
        normalise=hardmax_averaging_ties,
    )
    return output


def _erase_weights(weights):
    return {
        name.removeprefix("erase."): matrix
        for name, matrix in weights.items()
        if name.startswith("erase.")
    }


def slot_labels(slots):
    """The centroid each slot names most; -1 for a slot a gate zeroed."""
    labels = np.argmax(slots, axis=1).astype(np.int32)
    labels[~slots.any(axis=1)] = -1
    return labels


def dissimilarity_to_named(points, centroid_tokens, labels, score):
    """Each point's dissimilarity to the centroid its slot names, read from
    the token matrices: the one-hot row of the named centroid times the
    centroid tokens selects that centroid's data block (a zero row for a
    zeroed slot), and the score compares the point with it."""
    n_tokens, n_clusters = labels.shape[0], centroid_tokens.shape[0]
    naming = np.zeros((n_tokens, n_clusters))
    named = np.flatnonzero(labels >= 0)
    naming[named, labels[named]] = 1.0
    centers = naming @ centroid_tokens[:, : points.n_features]
    return score.dissimilarity_to_assigned(
        points, centers, np.arange(n_tokens), n_tokens
    )


# -- the interfaces of the components --------------------------------------------
#
# What the layer and the point stream ask of each kind of component. A new
# component of a kind provides these, and nothing else needs to change.


@runtime_checkable
class Score(Protocol):
    """How the assignment attention compares a point with a centroid.

    Attributes
    ----------
    translation_invariant : bool
        Whether translating points and centroids together changes no score
        ranking (then the estimator may centre dense data).
    dissimilarity_degree, distance_degree : int
        The degrees, in the data's scale, of the dissimilarity it ranks by
        and of the distances :meth:`distances` gives.

    Notes
    -----
    A score that ranks the keys as the Euclidean distances to some keys
    do says which keys, and what each key's score lacks of half the
    squared distance, in a method ``distance_keys(centers)`` (see
    :meth:`SquaredEuclideanScore.distance_keys`): a token router can then
    bound those distances and route tokens around its hardmax.
    """

    translation_invariant: bool
    dissimilarity_degree: int
    distance_degree: int

    def key_bias(self, centers):
        """The per-key term of the scores, computed once per layer."""

    def scores(self, points, centers, key_bias, key_major=False):
        """The scores of a chunk of points against every centroid, (m, k)."""

    def first_best(self, points, centers, key_bias, largest_query_norm=None):
        """Each point's first best centroid (a hardmax over its scores)."""

    def pairwise(self, points, centers):
        """The dissimilarity of every point to every center."""

    def dissimilarity_to_assigned(self, points, centers, labels, chunk_n_rows):
        """Each point's dissimilarity to the centroid ``labels`` names."""

    def distances(self, X, centers):
        """The distances ``transform`` returns."""


@runtime_checkable
class KeyNormaliser(Protocol):
    """How the assignment attention turns a point's scores into its slot.

    Attributes
    ----------
    one_hot : bool
        Whether the slots are one-hot (a repeated assignment is then a fixed
        point of the loop).
    """

    one_hot: bool

    def rescaled(self, exponent):
        """The normaliser for data times ``2**exponent``."""

    def slots(self, score, points, centers, key_bias, largest_query_norm=None):
        """The slots of a chunk of points (``OneHotSlots`` or ``SoftSlots``)."""

    def literal_slots(self, scores):
        """The slots as the literal pass writes them into the point tokens."""

    def attention_map(self, slots):
        """The attention over the keys that wrote literal ``slots``."""

    def log_weights(self, slots):
        """``log y_ij`` of literal slots: the update attention's scores."""

    def naming(self, labels, n_clusters):
        """Literal slots that name the centroids ``labels``."""

    def labels(self, slots):
        """The centroid each literal slot names most (-1: zeroed by a gate)."""


@runtime_checkable
class Update(Protocol):
    """The update attention: what it collects of the point stream, and the
    centroids it makes of that.

    Attributes
    ----------
    deterministic : bool
        Whether it draws nothing.
    averages : bool
        Whether its output is a weighted mean of points (then the estimator
        may centre dense data).
    reads_distances : bool
        Whether it reads the members' dissimilarities to their centroid:
        its slots must be one-hot, and a repeated assignment is a fixed
        point only when it neither draws nor reads them.
    weighs_members : bool
        Whether it reports the weight each member has in its centroid
        (``member_weights(stream, slots)``).
    """

    deterministic: bool
    averages: bool
    reads_distances: bool
    weighs_members: bool

    def collect(self, stream, slots):
        """What it reads of the point stream (see ``PointStream``)."""

    def __call__(self, collected, centers, random_state=None):
        """The new centroids, from what :meth:`collect` read."""

    def rescaled(self, data_exponent, weight_exponent=0):
        """The update for data and weights scaled by powers of two."""

    def literal(
        self,
        centroid_tokens,
        point_tokens,
        points,
        score,
        normaliser=None,
        random_state=None,
    ):
        """The sublayer on the token matrices, as written."""

    def parameters(self, n_features, n_clusters):
        """Its weights, by name."""


@runtime_checkable
class Gate(Protocol):
    """A gate on the point stream after the assignment attention."""

    def __call__(self, stream, slots):
        """The slots with some zeroed (label -1)."""

    def kept(self, dissimilarities, sample_weight):
        """Mask of the points it keeps, all points in one chunk."""

    def check_enough_kept(self, sample_weight, n_clusters):
        """Raise a ValueError when it may keep fewer points than clusters."""

    def literal(self, point_tokens, centroid_tokens, points, score):
        """The gate on the token matrices, as written."""

    def parameters(self, n_features, n_clusters):
        """Its weights, by name."""


# -- normalisers of the assignment attention over its keys --------------------


@dataclass(frozen=True)
class Hardmax:
    """Hardmax over keys, ties going to the first key; writes one-hot slots.

    The limit of ``softmax(gamma * scores)`` as ``gamma -> inf`` when every
    score also carries a vanishing bias that favours lower key indices.

    Attributes
    ----------
    one_hot : bool
        True: the slots it writes are one-hot, so a repeated assignment means
        the loop reached a fixed point.

    See Also
    --------
    Softmax : The normaliser of soft k-means; its limit is this hardmax.
    AssignAttention : The attention whose scores it normalises.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import Hardmax
    >>> slots = Hardmax()(np.array([[0.5, 2.0, 2.0], [-1.0, -3.0, -2.0]]))
    >>> slots.labels  # a tie goes to the first key
    array([1, 0])
    >>> slots.dense()
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """

    one_hot = True

    def __call__(self, scores):
        return OneHotSlots(first_argmax(scores), scores.shape[1])

    def rescaled(self, exponent):
        """A hardmax has no units: itself."""
        return self

    def slots(self, score, points, centers, key_bias, largest_query_norm=None):
        """The slots of a chunk of point tokens: only the best key counts.

        The score names each query's first best key itself
        (``score.first_best``), which it can do faster than a full score
        matrix and an argmax over it; ``largest_query_norm`` bounds the norm
        of every point of the stream, when known (see
        :func:`~sklearn_kmt._gemm.first_best_keys`).
        """
        labels = score.first_best(points, centers, key_bias, largest_query_norm)
        return OneHotSlots(labels, len(centers))

    # The slots as the literal pass writes them into the point tokens.

    def literal_slots(self, scores):
        """One-hot rows: the attention itself."""
        return self(scores).dense()

    def attention_map(self, slots):
        """The attention over the keys that wrote ``slots``."""
        return slots

    def log_weights(self, slots):
        """``log y_ij``: the update attention's score of each point for each
        centroid (minus infinity for a point of another centroid)."""
        with np.errstate(divide="ignore"):
            return np.log(slots)

    def naming(self, labels, n_clusters):
        """Slots that name the centroids ``labels``."""
        return np.eye(n_clusters)[labels]

    def labels(self, slots):
        """The centroid each slot names; -1 for a slot a gate zeroed."""
        return slot_labels(slots)


@dataclass(frozen=True)
class Softmax:
    """Softmax over keys at inverse temperature ``beta``; writes log-responsibilities.

    Parameters
    ----------
    beta : float
        Inverse temperature (stiffness): ``r_ij`` is proportional to
        ``exp(beta * s_ij)``. ``beta -> inf`` gives :class:`Hardmax`.

    Attributes
    ----------
    one_hot : bool
        False: soft slots never repeat exactly, so only the centroid shift stops
        the loop.

    See Also
    --------
    Hardmax : The limit ``beta -> inf``.
    AssignAttention : The attention whose scores it normalises.
    sklearn_kmt.TransformerSoftKMeans : The estimator that uses it.

    Notes
    -----
    Computed as a log-sum-exp relative to each row's largest score, so that
    neither a large ``beta`` nor large scores overflow.

    Examples
    --------
    The responsibilities are proportional to ``exp(beta * s_ij)``:

    >>> import numpy as np
    >>> from sklearn_kmt._components import Softmax
    >>> scores = np.array([[0.0, -np.log(3.0) / 2]])
    >>> Softmax(beta=2.0)(scores).dense().round(6)
    array([[0.75, 0.25]])
    >>> Softmax(beta=1e6)(np.array([[0.0, -0.01]])).dense().round(6)  # ~ hardmax
    array([[1., 0.]])
    """

    beta: float

    one_hot = False
    # The free energy is a weighted sum of squared distances.
    report_degrees = {"free_energy": (2, 1)}

    def rescaled(self, exponent):
        """The softmax of scores of data times ``2**exponent``: the same
        responsibilities at ``beta / 4**exponent``, infinite (a hardmax, the
        limit the responsibilities have reached) beyond the largest float."""
        with np.errstate(over="ignore"):
            return Softmax(float(np.ldexp(self.beta, -2 * exponent)))

    def __call__(self, scores):
        """Soft slots of the ``scores``, which are overwritten (scaled in place).

        The scores are the attention's own buffer: writing the scaled scores
        over them keeps a chunk's memory to two score-sized arrays.
        """
        scaled = np.subtract(scores, scores.max(axis=1, keepdims=True), out=scores)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled *= self.beta
        if np.isinf(self.beta):
            scaled[np.isnan(scaled)] = 0.0  # 0 * inf: the row's maximum itself
        return SoftSlots(scaled)

    def slots(self, score, points, centers, key_bias, largest_query_norm=None):
        """The slots of a chunk of point tokens, from all its scores.

        It takes its maxima and sums over the keys, so it asks for scores
        laid out key by key, where those run along contiguous memory. It
        breaks no tie, so it needs no bound on the points' norms.
        """
        return self(score.scores(points, centers, key_bias, key_major=True))

    # The slots as the literal pass writes them into the point tokens: the
    # logarithms of the responsibilities, which the update attention reads
    # as its scores. A responsibility far below a point's largest underflows
    # to 0; its logarithm does not, so that a centroid far from every point
    # still moves to its weighted mean, as in the fast pass. Minus infinity
    # (a responsibility of exactly 0) is written as the lowest float, which
    # the projections multiply by 0 without a NaN.

    def literal_slots(self, scores):
        """Log-responsibilities ``log r_ij``, computed as the fast pass
        computes the responsibilities."""
        soft = self(np.array(scores, dtype=np.float64))
        logs = soft.log_scaled_scores(np.arange(scores.shape[1]))
        logs -= np.log(soft.totals)[:, None]
        return np.maximum(logs, np.finfo(logs.dtype).min)

    def attention_map(self, slots):
        """The responsibilities, the attention over the keys."""
        return np.exp(slots)

    def log_weights(self, slots):
        """The slots themselves, which hold logarithms (the lowest float
        standing for minus infinity)."""
        return np.where(slots == np.finfo(slots.dtype).min, -np.inf, slots)

    def naming(self, labels, n_clusters):
        """Slots that give all the responsibility of a point to ``labels``."""
        lowest = np.finfo(np.float64).min
        return np.where(np.eye(n_clusters, dtype=bool)[labels], 0.0, lowest)

    def labels(self, slots):
        """The most responsible centroid of each point (no gate zeroes soft
        slots: a gate after a softmax is refused)."""
        return first_argmax(np.exp(slots)).astype(np.int32)

    def report(self, block, points, centers, labels, dissimilarities):
        """The free energy of the final state.

        ``F = sum_i w_i (d_i / 2 + log(r_i) / beta)``, with ``d_i`` the squared
        distance of point ``i`` to its most responsible centroid and ``r_i``
        that responsibility; it equals
        ``-1/beta sum_i w_i log sum_j exp(-beta/2 ||x_i - c_j||^2)``, the
        quantity soft k-means decreases.
        """
        top = block.read_slots(
            points, centers, lambda slots: slots.log_top_responsibilities
        )
        energies = 0.5 * dissimilarities + top / self.beta
        return {"free_energy": float(points.sample_weight @ energies)}


# -- scores of the assignment attention -----------------------------------------

# A softmax reduces over the keys, so it asks for scores laid out key by key;
# in float32 that layout makes the product slower beyond this many features.
KEY_MAJOR_MAX_FLOAT32_FEATURES = 64


def query_key_products(points, keys, key_bias=None, key_major=False):
    """The products ``x_i . c_j`` (plus ``key_bias[j]``) of a chunk of queries
    with every key, shape (m, k).

    By default they are rounded as scikit-learn's KMeans rounds its
    distances (:func:`~sklearn_kmt._gemm.biased_products` for dense queries;
    for CSR queries the sparse product, whose sums run over the stored
    entries in order as KMeans' do, then the bias), so that a hardmax over
    them breaks near ties as KMeans does. With ``key_major`` (a softmax, which
    has no such reference) dense scores are laid out key by key
    (Fortran-ordered), so that the reductions over the keys run along
    contiguous memory; in float32 only for few features.
    """
    n_keys, n_features = keys.shape
    dense = not sp.issparse(points)
    key_major = (
        key_major
        and dense
        and (points.dtype != np.float32 or n_features <= KEY_MAJOR_MAX_FLOAT32_FEATURES)
    )
    if key_major:
        scores_by_key = keys @ points.T
        if key_bias is not None:
            scores_by_key += key_bias[:, None]
        return scores_by_key.T
    if dense:
        if key_bias is None:
            key_bias = np.zeros(n_keys, dtype=points.dtype)
        return biased_products(points, keys, key_bias)
    scores = safe_sparse_dot(points, keys.T, dense_output=True)
    if key_bias is not None:
        scores += key_bias
    return scores


def squared_distances_by_products(points, keys):
    """``||x_i - c_j||^2`` of every point and key, from their products and
    squared norms, in float64, at least 0.

    What :func:`sklearn.metrics.pairwise.euclidean_distances` computes
    (squared), without its checks of the inputs, which the data it is given
    has passed: a sampling update calls it on chunks of sparse data in every
    layer (dense data takes :class:`AugmentedEuclidean`), and the literal
    replay and the seedings of large data on all of it.
    """
    points, keys = (
        rows.astype(np.float64, copy=False)
        if sp.issparse(rows)
        else np.asarray(rows, dtype=np.float64)
        for rows in (points, keys)
    )
    # -2 x . c, the factor exact on the keys.
    distances = safe_sparse_dot(points, -2.0 * keys.T, dense_output=True)
    if sp.issparse(distances):
        distances = distances.toarray()
    distances += row_norms(points, squared=True)[:, None]
    distances += row_norms(keys, squared=True)
    np.maximum(distances, 0.0, out=distances)
    return distances


def inverse_norms(rows):
    """``1 / ||r||`` for each row of a dense or CSR matrix; 0 for a zero row.

    At any magnitude: a row whose squared norm overflows, or is too small to
    keep its digits, is first multiplied by a power of two that brings its
    largest value near 1 (exactly), and the power is applied to the inverse
    of its norm; a row whose inverse norm itself overflows (values below
    about ``1 / max``) counts as a zero row.
    """
    squared = row_norms(rows, squared=True)
    info = np.finfo(squared.dtype)
    inverse = np.zeros_like(squared)
    safe = (squared >= info.tiny / info.eps) & (squared <= info.max / 2)
    np.divide(1.0, np.sqrt(squared, where=safe, out=inverse), out=inverse, where=safe)
    rest = np.flatnonzero(~safe)
    if rest.size == 0:
        return inverse
    block = rows[rest]
    if sp.issparse(block):
        largest = abs(block).max(axis=1).toarray().ravel()
    else:
        largest = np.abs(block).max(axis=1)
    nonzero = largest > 0
    exponents = np.where(nonzero, 1 - np.frexp(largest)[1], 0)
    if sp.issparse(block):
        per_entry = np.repeat(exponents, np.diff(block.indptr))
        block = type(block)(
            (np.ldexp(block.data, per_entry), block.indices, block.indptr),
            shape=block.shape,
        )
    else:
        block = np.ldexp(block, exponents[:, None])
    with np.errstate(over="ignore", divide="ignore"):
        scaled = np.ldexp(1.0 / np.sqrt(row_norms(block, squared=True)), exponents)
    inverse[rest] = np.where(nonzero & np.isfinite(scaled), scaled, 0.0)
    return inverse


def unit_rows(rows):
    """The rows of a dense or CSR matrix divided by their norms (zero rows
    stay zero), in the matrix's own type."""
    return scale_rows(rows, inverse_norms(rows).astype(rows.dtype, copy=False))


def _minus_assigned(points, centers, labels):
    """``x_i - c_{labels_i}`` for a dense chunk, in one new array.

    ``np.take`` gathers the centers several times faster than fancy
    indexing with small label types, and the difference is written over
    the gathered copy.
    """
    dtype = np.result_type(points, centers)
    difference = np.take(centers, labels, axis=0).astype(dtype, copy=False)
    return np.subtract(points, difference, out=difference)


def distance_to_assigned(points, centers, labels, chunk_n_rows, elementwise, row_sums):
    """``sum_f elementwise(x_if - c_{labels_i} f)`` for every point token.

    Dense chunks apply ``row_sums`` to their difference with the assigned
    centers; sparse chunks go through :func:`sparse_distance_to_assigned`.
    """
    distances = np.empty(points.n_tokens, dtype=points.dtype)
    center_totals = elementwise(centers).sum(axis=1)
    if not points.is_sparse:
        # The difference of a chunk is read back at once: keep it in cache.
        cached_rows = CACHE_BYTES // (points.n_features * points.dtype.itemsize)
        chunk_n_rows = max(1, min(chunk_n_rows, cached_rows))
    for rows in points.rows(chunk_n_rows):
        chunk = points.chunk(rows)
        if points.is_sparse:
            distances[rows] = sparse_distance_to_assigned(
                chunk, centers, labels[rows], elementwise, center_totals
            )
        else:
            distances[rows] = row_sums(_minus_assigned(chunk, centers, labels[rows]))
    return distances


def sparse_distance_to_assigned(points, centers, labels, elementwise, center_totals):
    """``sum_f elementwise(x_if - c_{labels_i} f)`` for CSR ``points``.

    Over the non-zeros of ``x_i`` the terms are computed directly; the others
    are ``elementwise(c_f)``, whose sum is ``center_totals`` (the sum of
    ``elementwise`` over the whole center) less its part on the non-zeros of
    ``x_i``, and is exactly 0 when ``x_i`` covers every non-zero of its center
    (a medoid's distance to itself is 0).
    """
    rows, own = nonzero_rows_and_centers(points, centers, labels)
    n_rows = points.shape[0]
    on_support = np.bincount(
        rows, weights=elementwise(points.data - own), minlength=n_rows
    )
    covered = np.bincount(rows, weights=elementwise(own), minlength=n_rows)
    covered_count = np.bincount(rows, weights=own != 0, minlength=n_rows)
    off_support = np.maximum(center_totals[labels] - covered, 0)
    off_support[covered_count == np.count_nonzero(centers, axis=1)[labels]] = 0
    return (on_support + off_support).astype(points.dtype, copy=False)


@dataclass(frozen=True, repr=False)
class SquaredEuclideanScore:
    """Score ``-1/2 ||x_i - c_j||^2``, up to a term constant per query.

    The query and key projections select the data part, and the score is
    ``x_i . c_j - 1/2 ||c_j||^2``: one matrix product plus a per-key bias.
    The dropped ``-1/2 ||x_i||^2`` changes neither a hardmax nor a softmax
    over the keys of one query. The dissimilarity it ranks by is the squared
    Euclidean distance.

    Parameters
    ----------
    squared_distances : bool, default=False
        Whether :meth:`distances` (what ``transform`` returns) gives squared
        Euclidean distances rather than distances.

    Attributes
    ----------
    translation_invariant : bool
        True: translating the data and the centroids together changes no score
        ranking, so the estimator may centre dense data first.

    See Also
    --------
    EuclideanScore : The same ranking with the distance as dissimilarity.
    CosineScore : The score of spherical k-means.
    AssignAttention : The attention that uses a score.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import SquaredEuclideanScore
    >>> score = SquaredEuclideanScore()
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> centers = np.array([[0.0, 0.0], [3.0, 0.0]])
    >>> score.scores(X, centers, score.key_bias(centers))  # x . c - ||c||^2 / 2
    array([[ 0. , -4.5],
           [ 0. ,  4.5]])
    >>> score.pairwise(X, centers)  # the dissimilarity: squared distances
    array([[ 0.,  9.],
           [25., 16.]])
    """

    squared_distances: bool = False

    translation_invariant = True
    dissimilarity_degree = 2

    @property
    def distance_degree(self):
        """The degree of :meth:`distances` in the data's scale."""
        return 2 if self.squared_distances else 1

    def key_bias(self, centers):
        return -0.5 * row_norms(centers, squared=True)

    def distance_keys(self, centers):
        """The keys a token router bounds the distances to: the centroids.

        Returns the keys whose Euclidean distances the scores rank by, and
        what each key's score lacks of half the squared distance: None,
        since ``x . c_j - ||c_j||^2 / 2`` is ``(||x||^2 - ||x - c_j||^2) / 2``
        already. What a :class:`~sklearn_kmt._routing.TokenRouter` bounds.
        """
        return centers, None

    def scores(self, points, centers, key_bias, key_major=False):
        """Scores of a chunk of point tokens against every centroid, (m, k).

        ``key_major`` asks for scores laid out key by key (see
        :func:`query_key_products`); by default they are rounded as KMeans
        rounds them.
        """
        return query_key_products(points, centers, key_bias, key_major)

    def first_best(self, points, centers, key_bias, largest_query_norm=None):
        """Each point's first best centroid (a hardmax), as KMeans picks it.

        ``largest_query_norm``, an upper bound on the norm of every point
        when known, spares reading it from each chunk (see
        :func:`~sklearn_kmt._gemm.first_best_keys`).
        """
        if sp.issparse(points):
            return first_argmax(self.scores(points, centers, key_bias))
        return first_best_keys(points, centers, key_bias, largest_query_norm)

    def pairwise(self, points, centers):
        """The dissimilarity of every point to every center."""
        return squared_distances_by_products(points, centers)

    def dissimilarity_to_assigned(self, points, centers, labels, chunk_n_rows):
        """``||x_i - c_{labels_i}||^2`` for every point token (chunked)."""
        return distance_to_assigned(
            points,
            centers,
            labels,
            chunk_n_rows,
            np.square,
            lambda difference: np.einsum("ij,ij->i", difference, difference),
        )

    def distances(self, X, centers):
        """Euclidean distances for ``transform`` (as KMeans), or squared ones."""
        return euclidean_distances(X, centers, squared=self.squared_distances)

    def __repr__(self):
        return f"{type(self).__name__}()"


@dataclass(frozen=True, repr=False)
class EuclideanScore(SquaredEuclideanScore):
    """Score ``-||x_i - c_j||``: it ranks as the squared score, whose matrix
    product it reuses, but its dissimilarity is the distance itself.

    Attributes
    ----------
    translation_invariant : bool
        True, as for the squared score.
    squared_distances : bool
        False: :meth:`distances` gives distances.

    See Also
    --------
    SquaredEuclideanScore : The score it reuses.
    ManhattanScore : The city-block distance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import EuclideanScore
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> centers = np.array([[0.0, 0.0], [3.0, 0.0]])
    >>> EuclideanScore().pairwise(X, centers)
    array([[0., 3.],
           [5., 4.]])
    """

    squared_distances: bool = field(default=False, init=False)

    dissimilarity_degree = 1

    def dissimilarity_to_assigned(self, points, centers, labels, chunk_n_rows):
        return np.sqrt(
            super().dissimilarity_to_assigned(points, centers, labels, chunk_n_rows)
        )

    def pairwise(self, points, centers):
        distances = squared_distances_by_products(points, centers)
        return np.sqrt(distances, out=distances)


@dataclass(frozen=True)
class ManhattanScore:
    """Score ``-||x_i - c_j||_1``, the negative city-block distance.

    Attributes
    ----------
    translation_invariant : bool
        True: translating the data and the centroids together changes no score.
    takes_64bit_sparse_indices : bool
        False: scikit-learn's sparse Manhattan distances take 32-bit indices
        only, so the estimator's boundary converts a CSR matrix's indices.

    See Also
    --------
    EuclideanScore : The Euclidean distance.
    sklearn_kmt.TransformerKMedoids : The estimator that offers it as a metric.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import ManhattanScore
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> centers = np.array([[0.0, 0.0], [3.0, 0.0]])
    >>> ManhattanScore().pairwise(X, centers)
    array([[0., 3.],
           [7., 4.]])
    >>> ManhattanScore().scores(X, centers, None).argmax(axis=1)
    array([0, 1])
    """

    translation_invariant = True
    dissimilarity_degree = 1
    distance_degree = 1
    takes_64bit_sparse_indices = False

    def key_bias(self, centers):
        return np.zeros(centers.shape[0], dtype=centers.dtype)

    def scores(self, points, centers, key_bias, key_major=False):
        # In the layout scikit-learn gives, whatever ``key_major`` asks.
        return -manhattan_distances(points, centers)

    def first_best(self, points, centers, key_bias, largest_query_norm=None):
        """Each point's first best centroid (a hardmax over the scores)."""
        return first_argmax(self.scores(points, centers, key_bias))

    def dissimilarity_to_assigned(self, points, centers, labels, chunk_n_rows):
        """``||x_i - c_{labels_i}||_1`` for every point token (chunked)."""
        return distance_to_assigned(
            points,
            centers,
            labels,
            chunk_n_rows,
            np.abs,
            lambda difference: np.abs(difference).sum(axis=1),
        )

    def pairwise(self, points, centers):
        return manhattan_distances(points, centers)

    def distances(self, X, centers):
        return manhattan_distances(X, centers)


@dataclass(frozen=True)
class CosineScore:
    """Score ``cos(x_i, c_j)``, the cosine similarity.

    Behind a :class:`UnitSphereNormalisation` both streams are on the unit
    sphere and the score is the plain product ``x_i . c_j``; otherwise the
    key projection normalises the centroids (the query's norm does not change
    the ranking). A zero token is equally similar (0) to every centroid. The
    dissimilarity is ``1 - cos``.

    Attributes
    ----------
    translation_invariant : bool
        False: a direction changes when the data is translated, so the
        estimator never centres data for this score.

    See Also
    --------
    UnitSphereNormalisation : The normalisation layer it comes with.
    SquaredEuclideanScore : The score of k-means.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import CosineScore
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> centers = np.array([[2.0, 0.0], [1.0, 1.0]])
    >>> CosineScore().scores(X, centers, None).round(4)  # keys normalised
    array([[1.    , 0.7071],
           [0.    , 1.4142]])
    >>> CosineScore().pairwise(X, centers).round(4)  # 1 - cos
    array([[0.    , 0.2929],
           [1.    , 0.2929]])
    """

    translation_invariant = False
    dissimilarity_degree = 0
    distance_degree = 0

    def key_bias(self, centers):
        return np.zeros(centers.shape[0], dtype=centers.dtype)

    def distance_keys(self, centers):
        """The keys a token router bounds the distances to: the centroids on
        the unit sphere.

        Returns the keys whose Euclidean distances the scores rank by (their
        products with the points are the scores), and what each key's score
        lacks of half the squared distance, ``-||k_j||^2 / 2`` in float64,
        so that ``x . k_j - ||k_j||^2 / 2 = (||x||^2 - ||x - k_j||^2) / 2``:
        about ``-1/2`` for every key but a zero centroid's, whose key stays
        zero. What a :class:`~sklearn_kmt._routing.TokenRouter` bounds.
        """
        keys = unit_rows(centers)
        return keys, -0.5 * row_norms(keys.astype(np.float64), squared=True)

    def scores(self, points, centers, key_bias, key_major=False):
        return query_key_products(points, unit_rows(centers), key_major=key_major)

    def first_best(self, points, centers, key_bias, largest_query_norm=None):
        """Each point's first best centroid (a hardmax over the scores)."""
        return first_argmax(self.scores(points, centers, key_bias))

    def dissimilarity_to_assigned(self, points, centers, labels, chunk_n_rows):
        """``1 - cos(x_i, c_{labels_i})`` for every point token."""
        dissimilarities = np.empty(points.n_tokens, dtype=points.dtype)
        # The centers on the unit sphere, not their products with the points
        # scaled after: a product of two tiny (or huge) rows would underflow
        # (or overflow). Scaling the products by the points' inverse norms
        # spares a copy of each chunk.
        unit_centers = unit_rows(centers)
        for rows in points.rows(chunk_n_rows):
            chunk = points.chunk(rows)
            cosines = dot_with_assigned(chunk, unit_centers, labels[rows])
            cosines *= inverse_norms(chunk)
            # A cosine may round above 1 (two equal rows): never below 0.
            dissimilarities[rows] = np.maximum(1 - cosines, 0)
        return dissimilarities

    def pairwise(self, points, centers):
        """``1 - cos`` of every point and center, in [0, 2], at any magnitude."""
        cosines = safe_sparse_dot(
            unit_rows(points), unit_rows(centers).T, dense_output=True
        )
        return np.clip(1 - cosines, 0, 2)

    def distances(self, X, centers):
        """Cosine distances, for ``transform``."""
        return self.pairwise(X, centers)


# -- the attentions ------------------------------------------------------------------


@dataclass(frozen=True)
class AssignAttention:
    """Assignment cross-attention: each point attends to the centroids.

    Parameters
    ----------
    score : SquaredEuclideanScore or CosineScore, default=SquaredEuclideanScore()
        How a query point and a key centroid are compared.
    normaliser : Hardmax or Softmax, default=Hardmax()
        How the scores of one query are normalised over the keys.

    Attributes
    ----------
    score : SquaredEuclideanScore, EuclideanScore, ManhattanScore or CosineScore
        The score given, or the squared Euclidean one.
    normaliser : Hardmax or Softmax
        The normaliser given, or the hardmax.

    See Also
    --------
    UpdateAttention : The attention that reads the slots it writes.
    kmeans_block : The layer it belongs to.

    Notes
    -----
    Queries are point tokens ``[x_i ; y_i]``, keys and values are centroid
    tokens ``[c_j ; e_j]``. With the squared Euclidean score

    .. math:: s_{ij} = -\\tfrac12 \\lVert x_i - c_j \\rVert^2
              = x_i \\cdot c_j - \\tfrac12 \\lVert c_j \\rVert^2
              - \\tfrac12 \\lVert x_i \\rVert^2 ,

    whose last term is constant over the keys of a query and is dropped. The
    value projection selects the identity part, so the output for point ``i``
    is ``sum_j a_ij e_j``: under hardmax the one-hot identity of its nearest
    centroid, under softmax its responsibilities. The residual connection
    overwrites the old slot with it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import AssignAttention
    >>> attention = AssignAttention()
    >>> X = np.array([[0.0, 0.0], [0.9, 1.0], [5.0, 5.0]])
    >>> centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    >>> attention(X, centers, attention.key_bias(centers)).labels.tolist()
    [0, 0, 1]

    The literal form applies the dense weights to the token matrices: the old
    slots are erased and the identity of the nearest centroid is written.

    >>> point_tokens = np.hstack([X, np.zeros((3, 2))])
    >>> centroid_tokens = np.hstack([centers, np.eye(2)])
    >>> new_tokens, attention_map = attention.literal(
    ...     point_tokens, centroid_tokens, n_features=2)
    >>> new_tokens[:, 2:]
    array([[1., 0.],
           [1., 0.],
           [0., 1.]])
    >>> sorted(attention.parameters(n_features=2, n_clusters=2))
    ['W_K', 'W_O', 'W_Q', 'W_V', 'erase.W_K', 'erase.W_O', 'erase.W_Q', 'erase.W_V']
    """

    score: Score = field(default_factory=SquaredEuclideanScore)
    normaliser: KeyNormaliser = field(default_factory=Hardmax)

    def key_bias(self, centers):
        """The per-key bias of the score, computed once per layer."""
        return self.score.key_bias(centers)

    def rescaled(self, exponent):
        """The attention for data times ``2**exponent`` (see Block.rescaled)."""
        normaliser = self.normaliser.rescaled(exponent)
        if normaliser is self.normaliser:
            return self
        return AssignAttention(self.score, normaliser)

    def scores(self, points, centers, key_bias, key_major=False):
        """Scores of a chunk of point tokens against every centroid, shape (m, k)."""
        return self.score.scores(points, centers, key_bias, key_major)

    def __call__(self, points, centers, key_bias, largest_query_norm=None):
        """New assignment slots of a chunk of point tokens.

        ``largest_query_norm`` is an upper bound on the norm of every point
        token of the stream, when known: a hardmax that certifies near ties
        reads it instead of each chunk's values.
        """
        return self.normaliser.slots(
            self.score, points, centers, key_bias, largest_query_norm
        )

    def parameters(self, n_features, n_clusters):
        """The head's projections, and those of the erase head of the slot."""
        data = selection(n_features, n_clusters, "data")
        slot = selection(n_features, n_clusters, "slot")
        weights = {"W_Q": data, "W_K": data, "W_V": slot, "W_O": slot}
        for name, matrix in erase_head(n_features, n_clusters, "slot").items():
            weights[f"erase.{name}"] = matrix
        return weights

    def literal(self, point_tokens, centroid_tokens, n_features):
        """The sublayer applied to the token matrices as written.

        Returns the new point tokens (old slot erased, new slot written) and
        the attention of the points over the centroids.
        """
        weights = self.parameters(n_features, centroid_tokens.shape[0])
        write, attention = dense_attention(
            point_tokens,
            centroid_tokens,
            weights["W_Q"],
            weights["W_K"],
            weights["W_V"],
            weights["W_O"],
            score=lambda queries, keys: self.scores(queries, keys, self.key_bias(keys)),
            normalise=self.normaliser.literal_slots,
        )
        erase = apply_erase_head(point_tokens, _erase_weights(weights))
        return point_tokens + erase + write, self.normaliser.attention_map(attention)


class ClusterStatistics:
    """Running sums of the update attention over streamed point tokens.

    The update attention's output for centroid ``j`` is ``sums[j] /
    weights[j]``. Both are accumulated chunk by chunk, in float64 whatever the
    data type, relative to a running log-scale per centroid, as in an online
    softmax (FlashAttention): the true sums are ``exp(log_scale) * sums``.

    Parameters
    ----------
    n_clusters, n_features : int
    """

    def __init__(self, n_clusters, n_features):
        self.sums = np.zeros((n_clusters, n_features))
        self.weights = np.zeros(n_clusters)
        self.log_scale = np.full(n_clusters, -np.inf)
        # Whether every scale is 1 (log 0) or nothing was added (-inf).
        self._whole = True

    def add(self, sums, weights, shift):
        """Add a chunk's sums and weights, given relative to ``exp(shift)``.

        A centroid that found no weight in the chunk (an empty chunk, say)
        adds nothing, whatever its shift, and leaves the scale of what came
        before: a faint centroid's weights, far below 1, would otherwise
        underflow against the shift 0 of an empty chunk.
        """
        if not np.any(shift) and self._whole:
            # Whole weights (a hardmax's) onto sums at scale 1 or empty:
            # the rescaling below multiplies by 1 or adds zeros, the same
            # numbers as adding.
            self.sums += sums
            self.weights += weights
            self.log_scale[weights > 0] = 0.0
            return
        self._whole = False
        shift = np.where(weights > 0, shift, -np.inf)
        log_scale = np.maximum(self.log_scale, shift)
        found = np.isfinite(log_scale)
        with np.errstate(invalid="ignore"):
            kept = np.where(found, np.exp(self.log_scale - log_scale), 0.0)
            added = np.where(found, np.exp(shift - log_scale), 0.0)
        self.sums *= kept[:, None]
        self.sums += added[:, None] * sums
        self.weights *= kept
        self.weights += added * weights
        self.log_scale = log_scale

    @classmethod
    def accumulated(cls, into, *partials):
        """``into`` (running sums the caller owns, or None for new ones) with
        the partial sums added in the order given: chunks' ``(sums, weights,
        shift)`` or other running sums, which are not changed."""
        if into is None:
            first = partials[0]
            sums = first.sums if isinstance(first, cls) else first[0]
            into = cls(*sums.shape)
        for part in partials:
            if isinstance(part, cls):
                part = (part.sums, part.weights, part.log_scale)
            into.add(*part)
        return into

    def move(self, source, target, values, weights, index=None):
        """Move weighted points from the ``source`` centroids to ``target``.

        ``values`` and ``weights`` are at their true scale; ``index``, the
        points' indices, is not needed by sums.
        """
        source_scale = np.exp(-self.log_scale[source])
        np.subtract.at(self.sums, source, values * source_scale[:, None])
        np.subtract.at(self.weights, source, weights * source_scale)
        self.place(target, values, weights)

    def place(self, target, values, weights):
        """Make the ``target`` centroids' sums those of the given points
        alone (one each, at their true scale)."""
        self.sums[target] = values
        self.weights[target] = weights
        self.log_scale[target] = 0.0


# The nearest members of a cluster that the sparsemax first sorts, to find
# the support among them.
SUPPORT_CANDIDATES = 256


@dataclass(frozen=True)
class Sparsemax:
    """Sparsemax over keys: the update attention's normaliser in robust k-means.

    Parameters
    ----------
    beta : float
        Inverse temperature, in inverse squared data units: how fast a
        member's weight falls with its squared distance to the centroid.
        0 gives every member its sample weight (the mean).

    Attributes
    ----------
    beta : float
        The inverse temperature given.

    See Also
    --------
    UpdateAttention : The attention whose scores it normalises.
    Softmax : The normaliser over keys of the soft assignment.
    sklearn_kmt.TransformerRobustKMeans : The estimator that uses it.

    Notes
    -----
    The update attention of centroid ``c_j`` scores its members (the points
    whose slot names ``j``) by ``z_i = -beta d_i / sqrt(D)``, with ``d_i =
    ||x_i - c_j||^2`` and ``D`` the number of features, and the sparsemax
    [1]_ turns the scores into the weights

    .. math:: p_i = w_i \\, (z_i - \\tau_j)_+ , \\qquad
              \\textstyle\\sum_i p_i = 1 ,

    a Euclidean projection onto the simplex: the members nearest to the
    centroid weigh most, and those beyond a distance (the threshold
    ``tau_j``) get exactly zero. A member of sample weight ``w_i`` counts as
    ``w_i`` members of weight 1. In distances, with the *reach* ``r =
    sqrt(D) / beta``, the weights are ``p_i = w_i (t_j - d_i)_+ / r`` where
    the threshold distance ``t_j`` solves ``sum_i w_i (t_j - d_i)_+ = r``:
    the members with ``d_i < t_j`` form the support, and

    .. math:: t_j = \\frac{r + \\sum_{i \\in S} w_i d_i}{\\sum_{i \\in S} w_i} .

    The threshold of a cluster is a reduction over the point stream: the
    support of any part of the members contains the support of the whole
    restricted to that part (a part's threshold is never below the
    whole's), so each chunk offers the members of its own support, the
    offers combine, and the last gives the threshold. The support is found
    by sorting the offered distances, so that any chunking gives the same
    threshold; a full cluster is sorted once, never compared pairwise.

    The fast form adds the members' values weighted by ``w_i (t_j -
    d_i)_+ / (t_j - d_nearest)`` (1 for the nearest member) and divides by
    the total, the weighted mean that the weights ``p_i`` give. At ``beta =
    0`` every member's factor is exactly 1: the layer is that of
    :class:`UpdateAttention` without a normaliser, to the last bit.

    References
    ----------
    .. [1] A. F. T. Martins and R. F. Astudillo, "From Softmax to Sparsemax:
       A Sparse Model of Attention and Multi-Label Classification", ICML 2016.

    Examples
    --------
    Four members of one cluster at squared distances 0, 1, 4 and 100 from
    its centroid, in one dimension: with ``beta = 1`` (reach 1) only the
    nearest has weight, with ``beta = 0.1`` (reach 10) all but the farthest.

    >>> import numpy as np
    >>> from sklearn_kmt._components import Sparsemax
    >>> squared_distances = np.array([[0.0, 1.0, 4.0, 100.0]])
    >>> Sparsemax(beta=1.0).literal_weights(-1.0 * squared_distances, np.ones(4))
    array([[1., 0., 0., 0.]])
    >>> Sparsemax(beta=0.1).literal_weights(-0.1 * squared_distances, np.ones(4))
    array([[0.5, 0.4, 0.1, 0. ]])
    """

    beta: float

    # The reach sqrt(D) / beta is a squared distance times a weight.
    def rescaled(self, data_exponent, weight_exponent=0):
        """The normaliser for data times ``2**data_exponent`` and sample
        weights times ``2**weight_exponent``: the same weights."""
        if data_exponent == 0 and weight_exponent == 0:
            return self
        with np.errstate(over="ignore"):
            beta = float(np.ldexp(self.beta, -2 * data_exponent - weight_exponent))
        return Sparsemax(beta)

    def reach(self, n_features):
        """``r = sqrt(D) / beta``: infinite at ``beta = 0``."""
        with np.errstate(divide="ignore"):
            return np.float64(np.sqrt(n_features)) / np.float64(self.beta)

    @staticmethod
    def _support(labels, distances, sample_weight, index, reach, slack=0.0):
        """The members in the support of their cluster's sparsemax.

        The arrays describe members (labels >= 0); returns them restricted to
        the support, sorted by label, distance and index, with the sums that
        make each cluster's threshold: per cluster present, its label, the
        support's total weight and weighted distance, and its nearest
        distance. ``slack`` widens the support by that relative margin (a
        chunk's offer, against the rounding of sums over other members).

        The support is a prefix of the members in order of distance, and
        usually a short one: only the nearest members of a cluster are
        sorted (all those within a partition's edge, ties included), more
        of them until the prefix ends among them.
        """
        by_cluster = np.argsort(_small_labels(labels), kind="stable")
        starts = np.flatnonzero(np.diff(labels[by_cluster], prepend=-1))
        # Each cluster's members end where the next one's start; no members
        # (an empty chunk), no clusters.
        stops = np.append(starts[1:], labels.size)[: starts.size]
        clusters = labels[by_cluster[starts]]
        if np.isinf(reach):  # beta = 0: every member, in any order
            sums = [
                np.bincount(labels, values, minlength=clusters.max(initial=-1) + 1)
                for values in (sample_weight, sample_weight * distances)
            ]
            nearest = np.minimum.reduceat(distances[by_cluster], starts)
            support = labels, distances, sample_weight, index
            return support, (clusters, sums[0][clusters], sums[1][clusters], nearest)
        kept = []
        sums = np.empty((starts.size, 3))
        for cluster, (start, stop) in enumerate(
            zip(starts.tolist(), stops.tolist(), strict=True)
        ):
            members = by_cluster[start:stop]
            member_distances = distances[members]
            n_nearest = min(members.size, SUPPORT_CANDIDATES)
            while True:
                candidates = members
                if n_nearest < members.size:
                    edge = np.partition(member_distances, n_nearest - 1)[n_nearest - 1]
                    candidates = members[member_distances <= edge]
                candidates = candidates[
                    np.lexsort((index[candidates], distances[candidates]))
                ]
                candidate_distances = distances[candidates]
                weight = np.cumsum(sample_weight[candidates])
                weighted = np.cumsum(sample_weight[candidates] * candidate_distances)
                # The nearest member is in every support (at infinite beta, it
                # and its ties alone); the rest while the threshold stays
                # beyond them.
                inside = candidate_distances * weight < (reach + weighted) * (1 + slack)
                inside[0] = True
                if not inside.all():
                    size = int(np.argmin(inside))
                    break
                if candidates.size == members.size:
                    size = candidates.size
                    break
                n_nearest *= 4
            kept.append(candidates[:size])
            sums[cluster] = weight[size - 1], weighted[size - 1], candidate_distances[0]
        kept = np.concatenate(kept) if kept else np.arange(0)
        support = labels[kept], distances[kept], sample_weight[kept], index[kept]
        return support, (clusters, *sums.T)

    def thresholds(self, n_clusters, n_features):
        """The reduction that sets each cluster's threshold distance.

        Each chunk offers its members' supports (``offer(points, labels,
        dissimilarities)``); ``finish`` gives ``(thresholds, nearest)``, two
        arrays of shape (n_clusters,): ``t_j`` and the distance of the
        nearest member (infinite for a cluster without members).
        """
        reach = self.reach(n_features)
        slack = 64 * np.finfo(np.float64).eps

        def members_of(points, labels, dissimilarities):
            # A member of no weight gets none whatever the threshold, and
            # must not stand for the nearest member of its cluster.
            members = np.flatnonzero((labels >= 0) & (points.sample_weight > 0))
            return (
                labels[members],
                dissimilarities[members].astype(np.float64),
                points.sample_weight[members].astype(np.float64),
                points.start + members,
            )

        def offer(points, labels, dissimilarities):
            members = members_of(points, labels, dissimilarities)
            support, _ = self._support(*members, reach, slack * max(members[0].size, 1))
            return support

        def combine(*offers):
            parts = (np.concatenate(part) for part in zip(*offers, strict=True))
            support, _ = self._support(*parts, reach, slack)
            return support

        def finish(offer):
            return thresholds_of(*self._support(*offer, reach)[1])

        def whole(points, labels, dissimilarities):
            # The offers' union holds the support and sorts its prefix as the
            # members themselves do: the same sums, found in one sort.
            members = members_of(points, labels, dissimilarities)
            return thresholds_of(*self._support(*members, reach)[1])

        def thresholds_of(clusters, weight, weighted, nearest):
            thresholds = np.full(n_clusters, np.inf)
            with np.errstate(divide="ignore", invalid="ignore"):
                thresholds[clusters] = (reach + weighted) / weight
            thresholds[clusters[weight == 0]] = np.inf
            nearest_distance = np.full(n_clusters, np.inf)
            nearest_distance[clusters] = nearest
            return thresholds, nearest_distance

        return Reduction(offer, combine, finish, whole)

    @staticmethod
    def relative_weights(labels, dissimilarities, thresholds, nearest):
        """Each member's factor ``(t_j - d_i)_+ / (t_j - d_nearest)`` (0 for a
        point without slot): its sparsemax weight relative to the nearest
        member's, per unit of sample weight."""
        members = labels >= 0
        labels = np.where(members, labels, 0)
        threshold, nearest = thresholds[labels], nearest[labels]
        distances = dissimilarities.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.maximum(threshold - distances, 0.0) / (threshold - nearest)
        # An infinite threshold (beta = 0, or weightless members): every member
        # counts in full. A threshold on the nearest distance (the reach lost
        # in rounding): the nearest members alone.
        factor = np.where(np.isinf(threshold), 1.0, factor)
        factor = np.where(threshold <= nearest, distances == nearest, factor)
        return np.where(members, factor, 0.0)

    def literal_weights(self, scores, sample_weight):
        """The weighted sparsemax of each row of ``scores`` (minus infinity:
        not a member), by sorting, as defined.

        The scores of a row are taken relative to its largest (the sparsemax
        does not change when a row moves by a constant), so that the unit of
        weight is not lost in the rounding of large scores.
        """
        weights = np.zeros(scores.shape)
        for row, row_scores in enumerate(scores):
            members = np.flatnonzero(np.isfinite(row_scores) & (sample_weight > 0))
            if members.size == 0:
                continue
            order = members[np.argsort(-row_scores[members], kind="stable")]
            z, w = row_scores[order] - row_scores[order[0]], sample_weight[order]
            cumulative = np.cumsum(w)
            in_support = 1 + cumulative * z > np.cumsum(w * z)
            in_support[0] = True
            size = order.size if in_support.all() else int(np.argmin(in_support))
            tau = (np.sum(w[:size] * z[:size]) - 1) / cumulative[size - 1]
            weights[row, order] = w * np.maximum(z - tau, 0.0)
        return weights

    def literal_scores(self, squared_distances, members, sample_weight, n_features):
        """The members' scores ``-beta d / sqrt(D)`` from their squared
        distances (centroids by points), each row relative to its nearest
        member of positive weight: the sparsemax does not change when a row
        moves by a constant, and no score overflows at any beta. The other
        points (not ``members``) score minus infinity.

        Parameters
        ----------
        squared_distances : ndarray of shape (n_clusters, n_points)
        members : ndarray of bool, of the same shape
        sample_weight : ndarray of shape (n_points,)
        n_features : int
            ``D``.
        """
        weighed = members & (sample_weight > 0)
        nearest = np.min(np.where(weighed, squared_distances, np.inf), axis=1)
        nearest = np.where(np.isfinite(nearest), nearest, 0.0)[:, None]
        gap = squared_distances - nearest
        with np.errstate(over="ignore", invalid="ignore"):
            scores = -(self.beta / np.sqrt(n_features)) * gap
        scores = np.where(gap == 0, 0.0, scores)
        return np.where(members, scores, -np.inf)


class SparsemaxMembers:
    """What a sparsemax update attention reads of the point stream.

    Each member's dissimilarity to its centroid (read with the assignment),
    and each centroid's total sample weight (a relocation head reads which
    are empty). The relocation head moves points as it moves them in the
    running sums (:meth:`move`); the thresholds and the weighted sums are
    read when the update is applied (:meth:`statistics`), so that a moved
    point counts in its new cluster only.

    Parameters
    ----------
    stream : PointStream
    slots : Slots
        The one-hot slots the update attention reads.
    """

    def __init__(self, stream, slots):
        self.stream = stream
        self.slots = slots
        self.dissimilarities = stream.dissimilarities(slots)
        self._moves = None

    @cached_property
    def weights(self):
        """Each centroid's total sample weight, read when a relocation head
        asks which are empty."""
        labels = self.stream.labels(self.slots)
        return _weight_per_cluster(self.stream, labels, len(self.slots.centers))

    def move(self, source, target, values, weights, index):
        """Rewrite the slots of the points ``index`` to name ``target``."""
        self._moves = (np.asarray(index), target, values, weights)

    def statistics(self, update):
        """The running sums of the members, each weighted by its sparsemax
        weight relative to its cluster's nearest member."""
        stream, slots = self.stream, self.slots
        n_clusters, n_features = slots.centers.shape
        labels = stream.labels(slots)
        moved = None if self._moves is None else self._moves[0]
        if moved is not None and moved.size:
            # The moved points leave their clusters; they alone make their new
            # ones, of one member each, which take their values in full.
            def leaving(points, labels):
                rows = moved - points.start
                rows = rows[(rows >= 0) & (rows < points.n_tokens)]
                labels = labels.copy()
                labels[rows] = -1
                return labels

            labels = stream.map(leaving, labels)
        key_weight = self._key_weight(update.normaliser, labels)
        statistics = stream.sums(update, slots, key_weight=key_weight)
        if moved is not None and moved.size:
            _, target, values, weights = self._moves
            statistics.place(target, values, weights)
        return statistics

    def _key_weight(self, sparsemax, labels):
        """Each member's sample weight times its sparsemax weight relative
        to its cluster's nearest member, held per point."""
        stream = self.stream
        reduction = sparsemax.thresholds(*self.slots.centers.shape)
        thresholds = stream.reduce(reduction, labels, self.dissimilarities)

        def key_weight(points, labels, dissimilarities):
            factor = sparsemax.relative_weights(labels, dissimilarities, *thresholds)
            weight = points.sample_weight * factor
            return weight.astype(points.sample_weight.dtype, copy=False)

        return stream.map(key_weight, labels, self.dissimilarities)

    def member_weights(self, sparsemax):
        """The weight ``p_i`` of each point in its centroid (0 without
        slot), held per point: the cluster's weights sum to 1."""
        stream, labels = self.stream, self.stream.labels(self.slots)
        n_clusters = len(self.slots.centers)
        key_weight = self._key_weight(sparsemax, labels)
        totals = _weight_per_cluster(stream, labels, n_clusters, key_weight)

        def normalised(points, labels, key_weight):
            total = totals[np.maximum(labels, 0)]
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where((labels >= 0) & (total > 0), key_weight / total, 0.0)

        return stream.map(normalised, labels, key_weight)


def _weight_per_cluster(stream, labels, n_clusters, *key_weight):
    """The total weight of each cluster's members (their sample weights, or
    ``key_weight`` held per point), reduced over the stream from the
    ``labels`` it holds."""

    def offer(points, labels, *key_weight):
        weight = key_weight[0] if key_weight else points.sample_weight
        members = labels >= 0
        return np.bincount(
            labels[members],
            weights=weight[members].astype(np.float64),
            minlength=n_clusters,
        )

    def combine(*offers):
        return np.sum(offers, axis=0)

    return stream.reduce(Reduction(offer, combine), labels, *key_weight)


@dataclass(frozen=True, repr=False)
class UpdateAttention:
    """Update cross-attention: each centroid attends to the points (a mean).

    Parameters
    ----------
    normaliser : Sparsemax, default=None
        The normaliser over keys (points): None for the softmax of the
        log-slot scores below, whose weights are the members' sample
        weights; a :class:`Sparsemax` weighs the members by their distance
        to the centroid (robust k-means).

    Attributes
    ----------
    normaliser : Sparsemax or None
        The normaliser given.
    deterministic : bool
        True: the update does not sample.
    averages : bool
        True: the output is a weighted mean of the points, so the point
        stream adds each chunk to running sums (:meth:`statistics`,
        :meth:`partial`) and the slots are never needed again.
    reads_distances : bool
        Whether the weights read the members' dissimilarities to their
        centroid (with a normaliser, at positive beta): the slots must then
        be one-hot, and a repeated assignment is not a fixed point.
    weighs_members : bool
        Whether it has a normaliser, whose weights :meth:`member_weights`
        reads.

    See Also
    --------
    AssignAttention : The attention that writes the slots it reads.
    MedoidSamplingAttention : The update of k-medoids, which samples.
    RelocationHead : Moves points to the centroids that find no weight.

    Notes
    -----
    Queries are centroid tokens ``[c_j ; e_j]``, keys and values are point
    tokens ``[x_i ; y_i]``. The query projection selects the identity part and
    the key projection the slot, so the raw score is ``e_j . y_i = y_ij``; the
    score is its logarithm plus the log of the sample weight,

    .. math:: s_{ji} = \\log y_{ij} + \\log w_i ,

    and the softmax over points gives the weights
    ``w_i y_ij / sum_i w_i y_ij``. For a one-hot slot this is hardmax over the
    members of cluster ``j`` (they tie at ``log 1 = 0``), each weighted by its
    sample weight; a point of zero weight is never attended. For soft slots it
    is the responsibility-weighted mean. The value projection selects the data
    part, and the residual connection (its output projection subtracts the old
    ``c_j``) replaces the centroid by the attention's output. A centroid that
    finds no weight attends to nothing: its output is zero and the residual
    keeps it in place.

    Examples
    --------
    Three point tokens, the first two assigned to centroid 0 and the last to
    centroid 1; each centroid moves to the mean of its points.

    >>> import numpy as np
    >>> from sklearn_kmt._components import SquaredEuclideanScore, UpdateAttention
    >>> from sklearn_kmt._tokens import OneHotSlots, PointTokens
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    >>> points = PointTokens(X, sample_weight=np.ones(3))
    >>> slots = OneHotSlots(np.array([0, 0, 1]), n_clusters=2)
    >>> update = UpdateAttention()
    >>> centroid_tokens = np.hstack([np.zeros((2, 2)), np.eye(2)])
    >>> new_tokens, attention_map = update.literal(
    ...     centroid_tokens, points.dense(slots.dense()), points,
    ...     SquaredEuclideanScore())
    >>> attention_map
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 1. ]])
    >>> new_tokens[:, :2]
    array([[ 1.,  0.],
           [10., 10.]])

    The fast form streams the point tokens into running sums first:

    >>> statistics = update.statistics(n_clusters=2, n_features=2)
    >>> update.accumulate(statistics, X, slots, points.sample_weight)
    >>> update(statistics, np.zeros((2, 2)))
    array([[ 1.,  0.],
           [10., 10.]])
    """

    normaliser: Sparsemax | None = None

    deterministic = True
    averages = True

    @property
    def reads_distances(self):
        # At beta = 0 every member weighs its sample weight: the mean.
        return self.normaliser is not None and self.normaliser.beta > 0

    @property
    def weighs_members(self):
        return self.normaliser is not None

    def __repr__(self):
        if self.normaliser is None:
            return "UpdateAttention()"
        return f"UpdateAttention(normaliser={self.normaliser!r})"

    def rescaled(self, data_exponent, weight_exponent=0):
        """The attention for data times ``2**data_exponent`` and sample
        weights times ``2**weight_exponent`` (see Block.rescaled)."""
        if self.normaliser is None:
            return self
        normaliser = self.normaliser.rescaled(data_exponent, weight_exponent)
        return self if normaliser is self.normaliser else UpdateAttention(normaliser)

    def statistics(self, n_clusters, n_features):
        """Empty running sums, to stream the point tokens into."""
        return ClusterStatistics(n_clusters, n_features)

    def collect(self, stream, slots):
        """What the attention reads of the point stream: its running sums
        (:meth:`partial` of each chunk, combined in chunk order); with a
        normaliser, the members' distances first (the sums follow the
        thresholds, see :class:`SparsemaxMembers`)."""
        if self.reads_distances:
            return SparsemaxMembers(stream, slots)
        return stream.sums(self, slots)

    def member_weights(self, stream, slots):
        """The weight each point has in its centroid (0 without slot), held
        per point: the normaliser's weights, which sum to 1 in each cluster."""
        members = SparsemaxMembers(stream, slots)
        return members.member_weights(self.normaliser)

    accumulated = staticmethod(ClusterStatistics.accumulated)

    def partial(self, points, slots, sample_weight):
        """What a chunk of point tokens and their slots adds to the running sums.

        Returns ``(sums, weights, shift)`` for :meth:`ClusterStatistics.add`;
        chunks can be read in parallel and added in order.
        """
        weights, point_scale, totals, shift = slots.update_weights(sample_weight)
        if point_scale is not None:
            # Column i of the weights is scaled by point_scale[i]: scale the
            # smaller operand, the points when they have fewer features.
            if points.shape[1] < weights.shape[0]:
                points = scale_rows(points, point_scale.astype(points.dtype))
            else:
                weights = weights * point_scale
        sums = weights @ points
        return sums.toarray() if hasattr(sums, "toarray") else sums, totals, shift

    def accumulate(self, statistics, points, slots, sample_weight):
        """Add a chunk of point tokens and their slots to the running sums."""
        statistics.add(*self.partial(points, slots, sample_weight))

    def __call__(self, statistics, centers, random_state=None):
        """The centroid stream after the attention and its residual.

        The streamed ``statistics`` hold what the attention reads of the
        point tokens (see :meth:`collect`); an average draws nothing from
        ``random_state``.
        """
        if self.reads_distances:
            statistics = statistics.statistics(self)
        attended = statistics.weights > 0
        new_centers = centers.copy()
        # Times the reciprocal of the weight, as scikit-learn's KMeans rounds
        # it: a quotient rounds a mean lying exactly between two points the
        # other way now and then, and the next assignment with it.
        reciprocal = 1.0 / statistics.weights[attended]
        new_centers[attended] = statistics.sums[attended] * reciprocal[:, None]
        return new_centers

    def parameters(self, n_features, n_clusters):
        """The head's projections, and those of the erase head of the center;
        with a normaliser, the projections its distances compare."""
        data = selection(n_features, n_clusters, "data")
        slot = selection(n_features, n_clusters, "slot")
        weights = {"W_Q": slot, "W_K": slot, "W_V": data, "W_O": data}
        if self.normaliser is not None:
            weights["distance.W_Q"] = weights["distance.W_K"] = data
        for name, matrix in erase_head(n_features, n_clusters, "data").items():
            weights[f"erase.{name}"] = matrix
        return weights

    def literal(
        self,
        centroid_tokens,
        point_tokens,
        points,
        score,
        normaliser=None,
        random_state=None,
    ):
        """The sublayer applied to the token matrices as written.

        The score of point ``i`` for centroid ``j`` is the logarithm of the
        weight its slot gives ``j`` (read by the selections ``W_Q``, ``W_K``
        as ``e_j . y_i``): ``log y_ij`` for one-hot slots, the slot itself
        for the log-responsibilities a softmax writes (``normaliser``,
        the assignment attention's; a hardmax by default). The erase head of
        a centroid fires only when its update attention attends to
        something, so a centroid that finds no weight stays put. Returns the
        new centroid tokens and the attention of the centroids over the
        points.
        """
        normaliser = normaliser or Hardmax()
        weights = self.parameters(points.n_features, centroid_tokens.shape[0])
        with np.errstate(divide="ignore"):
            log_weight = np.log(points.sample_weight)

        if self.normaliser is None:

            def score(queries, keys):
                return normaliser.log_weights(queries @ keys.T)

            normalise, key_bias = softmax_over_keys, log_weight
        else:
            sparsemax = self.normaliser
            squared_distances = -2 * minus_half_squared_distance(
                centroid_tokens @ weights["distance.W_Q"].T,
                point_tokens @ weights["distance.W_K"].T,
            )

            def score(queries, keys):
                # A member's log-slot score is 0 (others minus infinity); the
                # distance orders the members.
                members = np.isfinite(normaliser.log_weights(queries @ keys.T))
                return sparsemax.literal_scores(
                    squared_distances, members, points.sample_weight, points.n_features
                )

            def normalise(scores):
                return sparsemax.literal_weights(scores, points.sample_weight)

            key_bias = None
        read, attention = dense_attention(
            centroid_tokens,
            point_tokens,
            weights["W_Q"],
            weights["W_K"],
            weights["W_V"],
            weights["W_O"],
            score=score,
            normalise=normalise,
            key_bias=key_bias,
        )
        attended = attention.sum(axis=1, keepdims=True) > 0
        erase = apply_erase_head(centroid_tokens, _erase_weights(weights))
        return centroid_tokens + erase * attended + read, attention


@dataclass(frozen=True)
class MedoidSamplingAttention:
    """Update cross-attention that samples: each centroid moves to a member.

    Parameters
    ----------
    n_candidates : int
        Number ``m`` of members each centroid samples per layer.

    n_nearest : int, default=0
        Number of the members nearest to the centroid, besides the current
        medoid, that are candidates in every layer (a local search beside the
        sampled one); 0 leaves the sampled search alone.

    Attributes
    ----------
    deterministic : bool
        False: the update samples, so the loop stops only after several layers
        without a change.
    averages : bool
        False: the output is a member of the cluster, not a mean.

    See Also
    --------
    UpdateAttention : The averaging update it replaces.
    sklearn_kmt.TransformerKMedoids : The estimator that uses it.

    Notes
    -----
    The score of point ``i`` for centroid ``j`` is that of the mean update,
    ``log y_ij + log w_i``, plus standard Gumbel noise ``g_i``; a hardmax over
    its ``m`` largest entries (Gumbel-top-m) draws ``m`` distinct members of
    cluster ``j`` without replacement, with probability proportional to their
    sample weight. Each candidate, and the member nearest to the current
    centroid (the current medoid itself, once the centroids are data points),
    is scored by its total weighted dissimilarity to the members of the
    cluster; the centroid moves to the best, ties going to the current one.
    A second head scores the members of cluster ``j`` by minus their
    dissimilarity to the centroid (the assignment score) and takes a hardmax
    over its ``n_nearest`` largest entries besides the current medoid, ties
    by index: the medoid's nearest members, candidates in every layer (where
    a better medoid is most often found); the ``m`` members are drawn among
    the others. Candidates are ordered current medoid, nearest,
    drawn, which settles ties in cost.
    The objective therefore never increases. The Gumbel noise comes from the
    random state the layer is applied with, held by the run (so that a replay
    gives it the same state), not by the component. A layer computes about
    ``n (m + 1)`` dissimilarities (each member against its own cluster's
    candidates), never the ``n x n`` matrix, and holds a chunk of them at a
    time. Its weights are those of the averaging update attention; only the
    normaliser differs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt import TransformerKMedoids
    >>> X = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 0.0],
    ...               [10.0, 2.0], [10.0, 4.0], [10.0, 0.0]])
    >>> kmedoids = TransformerKMedoids(n_clusters=2, random_state=0).fit(X)
    >>> kmedoids.network_.block.update_attention
    MedoidSamplingAttention(n_candidates=8, n_nearest=24)
    >>> is_sample = (kmedoids.cluster_centers_[:, None] == X[None]).all(axis=2)
    >>> bool(is_sample.any(axis=1).all())  # every centroid is a data point
    True
    """

    n_candidates: int
    n_nearest: int = 0

    deterministic = False
    # Its output is a member, not a weighted mean (see
    # UpdateAttention.averages).
    averages = False
    reads_distances = True
    weighs_members = False
    report_degrees = {"medoid_indices": (0, 0)}

    def parameters(self, n_features, n_clusters):
        """The weights of the averaging update attention."""
        return UpdateAttention().parameters(n_features, n_clusters)

    def rescaled(self, data_exponent, weight_exponent=0):
        """The same update: costs compare, whatever the scale."""
        return self

    def collect(self, stream, slots):
        """What the attention reads of the point stream: every point and its
        label (a candidate is scored against all the members of its cluster),
        and the score that compares them."""
        points, labels = stream.members(slots)
        return points, labels, slots.attention.score

    def __call__(self, members, centers, random_state):
        """Each centroid moves to the best of its sampled members (Gumbel
        noise from ``random_state``); ``members`` is what :meth:`collect`
        read."""
        points, labels, score = members
        stream_rows = chunk_n_rows(points, len(centers))
        sample_weight = points.sample_weight

        def clusters():
            # The members cluster by cluster, each cluster's in increasing
            # index, with their distance to their centroid (the current medoid
            # is the member at the centroid's coordinates; the nearest member
            # stands in for a centroid not a sample yet) and each cluster's
            # weight.
            members = np.flatnonzero(labels >= 0)
            member_labels = _small_labels(labels[members])
            by_cluster = members[np.argsort(member_labels, kind="stable")]
            bounds = np.zeros(len(centers) + 1, dtype=np.intp)
            counts = np.bincount(member_labels, minlength=len(centers))
            np.cumsum(counts, out=bounds[1:])
            own, nearness = _own_and_nearness(
                points, centers, labels, score, stream_rows
            )
            weights = np.bincount(
                member_labels, weights=sample_weight[members], minlength=len(centers)
            )
            return by_cluster, bounds, own[by_cluster], nearness[by_cluster], weights

        def sampling_keys():
            with np.errstate(divide="ignore"):
                return np.log(sample_weight) + random_state.gumbel(
                    size=sample_weight.shape[0]
                )

        # Neither needs the other: on a layer worth threads, the noise is
        # drawn on a worker thread while the clusters are read.
        tasks = [clusters, sampling_keys]
        (by_cluster, bounds, own, nearness, weights), keys = stream(
            _called, tasks, threaded(points, len(centers))
        )
        current, others = self._candidates(by_cluster, bounds, own, nearness, keys)
        candidates = np.concatenate([current, others])
        candidate_cluster = labels[candidates]
        costs = self._costs(points, labels, by_cluster, bounds, candidates, score)
        best = _first_per_group(
            np.lexsort((costs, candidate_cluster)), candidate_cluster
        )
        new_centers = centers.copy()
        new_centers[candidate_cluster[best]] = points.dense_rows(candidates[best])
        farthest, empty = RelocationHead().moves(
            weights, points, labels, centers, score, stream_rows
        )
        new_centers[empty] = points.dense_rows(farthest)
        return new_centers

    def _candidates(self, by_cluster, bounds, own, nearness, keys):
        """Per cluster, in order of the clusters: the current medoid, then the
        other candidates, the ``n_nearest`` members of least ``nearness``
        (in that order, see :func:`_current_and_nearest`) and the ``m``
        members of largest finite ``keys`` among the rest (the Gumbel-top-m
        draw, in decreasing key, ties to the smaller index).

        ``by_cluster`` holds the members cluster by cluster, each cluster's
        in increasing index, cluster ``j``'s from ``bounds[j]`` to
        ``bounds[j + 1]``; ``own`` and ``nearness`` are in that order,
        ``keys`` by token. Returns the current medoids and the other
        candidates, as tokens.
        """
        keys = keys[by_cluster]
        current, others = [], []
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if start == stop:
                continue
            medoid, nearest = _current_and_nearest(
                own[start:stop], nearness[start:stop], self.n_nearest
            )
            current.append(start + medoid)
            keys[start + np.r_[medoid, nearest]] = -np.inf
            top = start + _largest(keys[start:stop], self.n_candidates)
            top = top[np.lexsort((top, -keys[top]))]
            others += [start + nearest, top[np.isfinite(keys[top])]]
        current = by_cluster[np.array(current, dtype=np.intp)]
        return current, by_cluster[np.concatenate(others or [[]]).astype(np.intp)]

    @staticmethod
    def _costs(points, labels, by_cluster, member_bounds, candidates, score):
        """Each candidate's total weighted dissimilarity to the members of
        its cluster.

        The members of a cluster are scored against that cluster's
        candidates only, in chunks of members whose dissimilarities take at
        most ``CHUNK_BYTES``: about ``n (m + 1)`` dissimilarities a layer,
        not ``n k (m + 1)``. Sparse data stays sparse. ``by_cluster`` holds
        the members cluster by cluster, cluster ``j``'s from
        ``member_bounds[j]`` to ``member_bounds[j + 1]``.
        """
        n_clusters = member_bounds.shape[0] - 1
        candidate_cluster = labels[candidates]
        candidate_order = np.argsort(candidate_cluster, kind="stable")
        candidate_bounds = np.searchsorted(
            candidate_cluster[candidate_order], np.arange(n_clusters + 1)
        )
        pairwise = candidate_dissimilarities(score, points.is_sparse)
        # Every candidate, cluster by cluster, gathered at once.
        ordered = pairwise.candidates(_gathered(points, candidates[candidate_order]))
        member_rows = pairwise.member_rows(points)
        tasks = []
        for cluster in np.flatnonzero(np.diff(candidate_bounds)).tolist():
            first, stop = candidate_bounds[cluster], candidate_bounds[cluster + 1]
            own = candidate_order[first:stop]
            own_points = ordered[first:stop]
            cluster_members = by_cluster[
                member_bounds[cluster] : member_bounds[cluster + 1]
            ]
            rows_per_chunk = max(1, CHUNK_BYTES // (8 * own.size))
            for start in range(0, cluster_members.size, rows_per_chunk):
                rows = cluster_members[start : start + rows_per_chunk]
                tasks.append((own, own_points, rows))

        def cost(task):
            _, own_points, rows = task
            return points.sample_weight[rows] @ pairwise(member_rows(rows), own_points)

        # Worker threads, as a layer's chunks, when a chunk has the work;
        # added in task order whatever the threads.
        work = sum(own.size * rows.size for own, _, rows in tasks)
        work *= points.entries_per_token
        threads = work >= MIN_THREADED_PRODUCT * max(len(tasks), 1)
        costs = np.zeros(candidates.shape[0])
        for (own, _, _), task_costs in zip(
            tasks, stream(cost, tasks, threads), strict=True
        ):
            costs[own] += task_costs
        return costs

    def literal(
        self,
        centroid_tokens,
        point_tokens,
        points,
        score,
        normaliser=None,
        random_state=None,
    ):
        """The sublayer applied to the token matrices as written.

        Its slots are one-hot (``normaliser``, a hardmax, is not read), up to
        the rounding of the erase head that averages identical tokens: the
        head reads them rounded. The Gumbel noise comes from
        ``random_state``. The sampling head's scores ``log(e_j . y_i) + log
        w_i + g_i`` come from its projections; the second head's are minus
        each member's dissimilarity to the centroid. The current medoid and
        the ``n_nearest`` largest of the second head's, then the ``m``
        largest of the sampling head's among the other members, are the
        candidates (hardmaxes over the top of each row), and the one with
        the smallest total dissimilarity to the members is the value written
        over the centroid's data block. Returns the new centroid tokens and
        the sampling map (1 for every candidate).
        """
        n_features = points.n_features
        weights = self.parameters(n_features, centroid_tokens.shape[0])
        with np.errstate(divide="ignore"):
            log_weight = np.log(points.sample_weight)
        noise = random_state.gumbel(size=points.n_tokens)
        slots = np.rint(point_tokens @ weights["W_K"].T)
        membership = (centroid_tokens @ weights["W_Q"].T) @ slots.T
        members = membership > 0  # a member of weight 0 is one too
        with np.errstate(divide="ignore"):
            scores = np.log(membership) + log_weight + noise
        data = point_tokens[:, :n_features]
        centers = centroid_tokens[:, :n_features]
        # The second head's scores: minus each member's dissimilarity to the
        # centroid its slot names (as the layer computes them).
        labels = slot_labels(slots[:, n_features:])
        own, nearness = _own_and_nearness(
            points, centers, labels, score, chunk_n_rows(points, centers.shape[0])
        )
        candidates_map = np.zeros_like(scores)
        new_centroid_tokens = centroid_tokens.copy()
        for j in np.flatnonzero(members.any(axis=1)):
            cluster = np.flatnonzero(members[j])
            medoid, nearest = _current_and_nearest(
                own[cluster], nearness[cluster], self.n_nearest
            )
            local = cluster[np.r_[medoid, nearest]]
            scores[j, local] = -np.inf
            by_score = np.argsort(-scores[j], kind="stable")
            drawn = by_score[np.isfinite(scores[j, by_score])][: self.n_candidates]
            candidates = np.concatenate([local, drawn])
            candidates_map[j, candidates] = 1.0
            costs = points.sample_weight[members[j]] @ score.pairwise(
                data[members[j]], data[candidates]
            )
            new_centroid_tokens[j, :n_features] = data[candidates[np.argmin(costs)]]
        farthest, empty = RelocationHead().moves(
            points.sample_weight @ slots[:, n_features:],
            points,
            labels,
            centers,
            score,
            points.n_tokens,
        )
        new_centroid_tokens[empty, :n_features] = data[farthest]
        return new_centroid_tokens, candidates_map

    def report(self, block, points, centers, labels, dissimilarities):
        """The index of the sample each medoid is, a different one for each.

        A medoid is the sample at its coordinates, preferably a member of its
        own cluster; identical samples are told apart by taking for each
        medoid the first not taken by an earlier one. A centroid that never
        moved onto a sample (a starting point no sample was nearest to, in a
        fit too short to relocate it) names its nearest sample.
        """
        indices = np.empty(centers.shape[0], dtype=np.intp)
        taken = np.zeros(points.n_tokens, dtype=bool)
        for j in range(centers.shape[0]):
            distances = _distance_in_coordinates(
                points, centers, np.full(points.n_tokens, j), points.n_tokens
            )
            distances[taken] = np.inf
            at_medoid = np.flatnonzero(distances == 0)
            members = at_medoid[labels[at_medoid] == j]
            if members.size:
                indices[j] = members[0]
            elif at_medoid.size:
                indices[j] = at_medoid[0]
            else:
                indices[j] = np.argmin(distances)
            taken[indices[j]] = True
        return {"medoid_indices": indices}


_COORDINATES = SquaredEuclideanScore()


def _gathered(points, rows):
    """The data part of the tokens ``rows`` (indices), as
    ``points.chunk(rows)`` gives it; dense rows seen as they are are
    gathered by ``np.take``, several times faster than fancy indexing."""
    if points.is_sparse or points.scale is not None:
        return points.chunk(rows)
    return np.take(points.data, rows, axis=0)


def candidate_dissimilarities(score, sparse):
    """How a sampling update scores members against candidates: through
    augmented products for the Euclidean scores on dense data
    (:class:`AugmentedEuclidean`), otherwise through ``score.pairwise``
    (:class:`ScorePairwise`)."""
    euclidean = type(score) in (SquaredEuclideanScore, EuclideanScore)
    if euclidean and not sparse:
        return AugmentedEuclidean(squared=score.dissimilarity_degree == 2)
    return ScorePairwise(score)


def pairwise_against(score, X):
    """``score.pairwise`` for a seeding that scores the same ``X`` against
    a few centers at a time, many times: the rows of ``X`` are prepared for
    :func:`candidate_dissimilarities` once, when they take at most
    ``HELD_ROWS_BYTES`` (else ``score.pairwise`` reads ``X`` as it is).

    Returns
    -------
    dissimilarity : callable
        ``dissimilarity(X, centers)``, for this ``X`` only.
    """
    pairwise = candidate_dissimilarities(score, sp.issparse(X))
    if not AugmentedEuclidean.may_hold(*X.shape):
        pairwise = ScorePairwise(score)
    rows = pairwise.rows(X)

    def dissimilarity(points, centers):
        if points is not X:
            raise ValueError("the dissimilarity was prepared for other points")
        return pairwise(rows, pairwise.candidates(centers))

    return dissimilarity


@dataclass(frozen=True)
class ScorePairwise:
    """Dissimilarities of members to candidates by the score's own pairwise."""

    score: object

    @staticmethod
    def rows(points):
        return points

    candidates = rows

    @staticmethod
    def member_rows(points):
        """``member_rows(rows)``: the data part of the tokens ``rows``."""
        return partial(_gathered, points)

    def __call__(self, members, candidates):
        return self.score.pairwise(members, candidates)


@dataclass(frozen=True)
class AugmentedEuclidean:
    """Euclidean dissimilarities of members to candidates from one product.

    A member is the row ``[x, ||x||^2, 1]`` and a candidate ``[-2 c, 1,
    ||c||^2]``, both in float64, so that their product is ``||x||^2 - 2 x . c
    + ||c||^2``: the sum that :func:`squared_distances_by_products` forms in
    three passes over the dissimilarities (the product, then each norm added)
    comes out of the product alone, and is then clipped at 0 (and its square
    root taken, for the distance) in place.

    Parameters
    ----------
    squared : bool
        Whether the dissimilarity is the squared distance, else the distance.
    """

    squared: bool

    @staticmethod
    def _augmented(points, factor, norm_column):
        """``factor`` times each row of dense ``points`` in float64, followed
        by two columns, ones and the rows' squared norms (in column
        ``norm_column``, -2 or -1)."""
        augmented = np.empty((points.shape[0], points.shape[1] + 2))
        data = augmented[:, :-2]
        data[...] = points
        augmented[:, -2:] = 1.0
        augmented[:, norm_column] = np.einsum("ij,ij->i", data, data)
        if factor != 1:
            data *= factor
        return augmented

    @classmethod
    def rows(cls, points):
        """``[x, ||x||^2, 1]`` for each row of dense ``points``."""
        return cls._augmented(points, 1.0, -2)

    @classmethod
    def candidates(cls, points):
        """``[-2 c, 1, ||c||^2]`` for each row of dense ``points``."""
        return cls._augmented(points, -2.0, -1)

    @staticmethod
    def may_hold(n_rows, n_features):
        """Whether the augmented rows of ``n_rows`` points may be held for a
        run: they take at most ``HELD_ROWS_BYTES``."""
        return n_rows * (n_features + 2) * 8 <= HELD_ROWS_BYTES

    @classmethod
    def member_rows(cls, points):
        """``member_rows(rows)``: the augmented rows of the tokens ``rows``,
        gathered from those of every token, made once per run when they take
        at most ``HELD_ROWS_BYTES`` (else made for each chunk, as the
        candidates are)."""
        if not cls.may_hold(points.n_tokens, points.n_features):
            return lambda rows: cls.rows(_gathered(points, rows))
        augmented = points.derived(
            "augmented rows", lambda points: cls.rows(points.chunk(slice(None)))
        )
        return partial(np.take, augmented, axis=0)

    def __call__(self, members, candidates):
        """The dissimilarities, at least 0, of shape (members, candidates)."""
        distances = members @ candidates.T
        np.maximum(distances, 0.0, out=distances)
        if not self.squared:
            np.sqrt(distances, out=distances)
        return distances


def _called(function):
    """``function()``: the task of a stream whose chunks are functions."""
    return function()


def _largest(keys, n_largest):
    """Positions of the ``n_largest`` largest ``keys`` (all of them when
    there are fewer), in no particular order; ties at the boundary (only
    minus infinity, for sampling keys) go to any of them.

    A threshold taken from a regular sample of a long array keeps, in all
    likelihood, a few times ``n_largest`` keys, among which the largest
    are; they are partitioned alone. A threshold that keeps too few (rare)
    falls back to partitioning the whole array.
    """
    n_keys = keys.shape[0]
    if n_keys <= n_largest:
        return np.arange(n_keys)
    stride = n_keys // (SAMPLE_PER_LARGEST * n_largest)
    if stride > 1:
        # The rank in the sample expected to leave KEPT_PER_LARGEST times
        # n_largest keys at or above it.
        sample = keys[::stride]
        rank = -(-KEPT_PER_LARGEST * n_largest // stride)
        threshold = np.partition(sample, sample.shape[0] - rank)[-rank]
        kept = np.flatnonzero(keys >= threshold)
        if kept.shape[0] >= n_largest:
            top = np.argpartition(keys[kept], kept.shape[0] - n_largest)
            return kept[top[kept.shape[0] - n_largest :]]
    return np.argpartition(keys, n_keys - n_largest)[n_keys - n_largest :]


# How many keys per largest one the sample of _largest takes, and how many its
# threshold is meant to keep.
SAMPLE_PER_LARGEST = 64
KEPT_PER_LARGEST = 4

# The most memory the augmented rows of every point may hold for a run (see
# AugmentedEuclidean.member_rows): they spare one pass over each chunk.
HELD_ROWS_BYTES = 256 * 2**20


def _own_and_nearness(points, centers, labels, score, chunk_n_rows):
    """Each point's distance to its centroid in the coordinates (see
    :func:`_distance_in_coordinates`: the current medoid is the member at
    the centroid's), and its dissimilarity to it by ``score`` (what the
    nearest members are ranked by), the same array when the two rank alike
    (the Euclidean scores)."""
    own = _distance_in_coordinates(points, centers, labels, chunk_n_rows)
    if isinstance(score, SquaredEuclideanScore):
        return own, own
    return own, score.dissimilarity_to_assigned(points, centers, labels, chunk_n_rows)


def _distance_in_coordinates(points, centers, labels, chunk_n_rows):
    """Each point's squared distance to the centroid ``labels`` names, 0 only
    for a point at the centroid's very coordinates.

    The squared distance of a point within about ``1e-154`` of its centroid
    underflows to 0; those few take the sum of their absolute differences
    instead (never 0 for a point elsewhere), so that a medoid is told from
    the points next to it at any magnitude.
    """
    distances = _COORDINATES.dissimilarity_to_assigned(
        points, centers, labels, chunk_n_rows
    )
    at_zero = np.flatnonzero(distances == 0)
    if at_zero.size:
        near = PointTokens(points.chunk(at_zero), points.sample_weight[at_zero])
        distances[at_zero] = ManhattanScore().dissimilarity_to_assigned(
            near, centers, labels[at_zero], at_zero.size
        )
    return distances


def _current_and_nearest(own, nearness, n_nearest):
    """Among the members of one cluster (in increasing index): the position
    of the current medoid, the first of least ``own``, and those of the
    ``n_nearest`` others of least ``nearness``, in increasing ``nearness``,
    ties to the smaller index."""
    medoid = np.argmin(own)
    nearest = _smallest_first(nearness, n_nearest + 1)
    return medoid, nearest[nearest != medoid][:n_nearest]


def _smallest_first(values, n_smallest):
    """Positions of the ``n_smallest`` smallest ``values`` (all of them when
    there are fewer), in increasing value, ties in increasing position.

    A partition finds them, and they alone are sorted; when the value at the
    boundary is tied, the tie is decided by position.
    """
    if values.shape[0] <= n_smallest:
        return np.argsort(values, kind="stable")
    chosen = np.argpartition(values, n_smallest - 1)[:n_smallest]
    threshold = values[chosen[n_smallest - 1]]
    if np.count_nonzero(values <= threshold) > n_smallest:
        # Values equal to the threshold lie on both sides of the partition:
        # the first ones by position are taken.
        below = np.flatnonzero(values < threshold)
        at = np.flatnonzero(values == threshold)[: n_smallest - below.shape[0]]
        chosen = np.concatenate([below, at])
    return chosen[np.lexsort((chosen, values[chosen]))]


def _small_labels(labels):
    """``labels`` in the smallest integer type that holds them: NumPy's
    stable sort of 16-bit integers is a radix sort, linear in their number."""
    if labels.size and labels.max() < np.iinfo(np.int16).max:
        return labels.astype(np.int16)
    return labels


def _rank_in_group(groups):
    """Position of each entry within its run of equal, sorted ``groups``."""
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    run_lengths = np.diff(np.r_[starts, groups.shape[0]])
    return np.arange(groups.shape[0]) - np.repeat(starts, run_lengths)


def _first_per_group(order, groups):
    """The first entry of ``order`` for each distinct value of ``groups[order]``."""
    return order[_rank_in_group(groups[order]) == 0]


@dataclass(frozen=True)
class RelocationHead:
    """Relocation head: an empty centroid takes the farthest point.

    See Also
    --------
    UpdateAttention : Whose statistics the moved points change.
    sklearn.cluster.KMeans : Whose relocation of empty clusters this matches.

    Notes
    -----
    The query of centroid ``j`` is "I am empty": its update attention found no
    weight. The score of point ``i`` is its dissimilarity to its own centroid
    (the squared distance for k-means); hardmax picks the farthest point (with
    ``m`` empty centroids, the ``m`` farthest, one each). The value is the
    point's weighted data and weight: they move from the statistics of the
    centroid that owned the point to the empty one, as if the point's slot had
    been rewritten to name the empty centroid before the update attention.
    This matches scikit-learn's Lloyd iteration. Points whose slot a gate
    zeroed, and tokens a normalisation layer made zero, are never picked.
    When every point already sits on its centroid, nothing moves and the
    empty centroids keep their place.

    Examples
    --------
    Centroid 1 attracts no point; the point farthest from its own centroid,
    ``x = 9``, moves to it.

    >>> import numpy as np
    >>> from sklearn_kmt._components import RelocationHead, SquaredEuclideanScore
    >>> from sklearn_kmt._tokens import PointTokens
    >>> points = PointTokens(np.array([[0.0], [1.0], [9.0]]), np.ones(3))
    >>> centers = np.array([[1.0], [50.0]])
    >>> labels = np.array([0, 0, 0])
    >>> weights = np.array([3.0, 0.0])  # what the update attention found
    >>> farthest, empty = RelocationHead().moves(
    ...     weights, points, labels, centers, SquaredEuclideanScore(), 3)
    >>> farthest, empty
    (array([2]), array([1]))
    """

    def moves(self, weights, points, labels, centers, score, chunk_n_rows):
        """Which points move to which empty centroids.

        Parameters
        ----------
        weights : ndarray of shape (n_clusters,)
            The weight each centroid's update attention finds.
        points : PointTokens
        labels : ndarray of shape (n_samples,)
        centers : ndarray of shape (n_clusters, n_features)
        score : the assignment attention's score
        chunk_n_rows : int

        Returns
        -------
        farthest : ndarray of int
            The points that move, farthest first.
        empty : ndarray of int
            The centroid each of them moves to.
        """
        empty = np.flatnonzero(weights == 0)
        if empty.size == 0:
            return empty, empty
        dissimilarities = self.ranked(points, labels, centers, score, chunk_n_rows)
        farthest = self.farthest_rows(dissimilarities, empty.size)
        return farthest, empty[: farthest.size]

    @staticmethod
    def farthest_rows(dissimilarities, n_empty):
        """The ``n_empty`` farthest movable points, as scikit-learn picks and
        orders them (an argpartition); none when every point sits on its
        centroid."""
        n_moved = min(n_empty, int(np.isfinite(dissimilarities).sum()))
        if n_moved == 0 or dissimilarities.max() <= 0:
            return np.arange(0)
        return np.argpartition(dissimilarities, -n_moved)[-n_moved:][::-1]

    def ranked(self, points, labels, centers, score, chunk_n_rows):
        """The score of each point for the head: its dissimilarity to its own
        centroid, minus infinity for a point it never moves (its slot gated,
        or without direction)."""
        dissimilarities = score.dissimilarity_to_assigned(
            points, centers, np.maximum(labels, 0), chunk_n_rows
        )
        return self._movable_only(dissimilarities, points, labels)

    @staticmethod
    def _movable_only(dissimilarities, points, labels):
        """The head's scores with minus infinity for the points it never
        moves: those whose slot a gate zeroed, and those without direction."""
        dissimilarities[labels < 0] = -np.inf
        if points.directionless is not None:
            dissimilarities[points.directionless] = -np.inf
        return dissimilarities

    # Over a stream of chunks (Dask blocks) the farthest points are a
    # reduction: each chunk offers its farthest, and the offers combine. The
    # pairing of several empty centroids with points then follows the
    # distance, farthest first, where in memory it follows scikit-learn's
    # (an argpartition, see ``moves``).

    @staticmethod
    def offer(dissimilarities, n_empty, start=0):
        """A chunk's ``n_empty`` farthest movable points, farthest first
        (ties by index): their ranked dissimilarities and indices."""
        rows = np.flatnonzero(np.isfinite(dissimilarities))
        rows = rows[np.lexsort((rows, -dissimilarities[rows]))][:n_empty]
        return dissimilarities[rows], start + rows

    @staticmethod
    def combined(n_empty, *offers):
        """One offer from several; each offer's dissimilarities and indices
        may come with more arrays about the same points, carried along."""
        parts = [np.concatenate(part) for part in zip(*offers, strict=True)]
        order = np.lexsort((parts[1], -parts[0]))[:n_empty]
        return tuple(part[order] for part in parts)

    def __call__(self, stream, statistics, slots):
        """Move the farthest points of the stream into the empty centroids'
        statistics (those the update attention collected from ``slots``)."""
        empty = np.flatnonzero(statistics.weights == 0)
        if empty.size == 0:
            return
        found = stream.reduce(self.farthest(slots, empty.size), stream.labels(slots))
        _, index, weights, rows, owners = found
        statistics.move(
            owners, empty[: weights.size], rows * weights[:, None], weights, index
        )

    def farthest(self, slots, n_empty):
        """The reduction that finds the points ``n_empty`` empty centroids
        take: ``(dissimilarities, indices, weights, rows, labels)`` of them.

        Each chunk offers its farthest points (:meth:`offer`), the offers
        combine (:meth:`combined`); the whole stream at once is scikit-learn's
        choice and pairing (:meth:`farthest_rows`).
        """
        score, centers = slots.attention.score, slots.centers

        def ranked(points, labels):
            rows_per_chunk = chunk_n_rows(points, len(centers))
            return self.ranked(points, labels, centers, score, rows_per_chunk)

        def taken(points, labels, rows, dissimilarities):
            weights = points.sample_weight[rows].astype(np.float64)
            return (
                dissimilarities,
                points.start + rows,
                weights,
                points.dense_rows(rows),
                labels[rows],
            )

        def offer(points, labels):
            dissimilarities, index = self.offer(
                ranked(points, labels), n_empty, points.start
            )
            return taken(points, labels, index - points.start, dissimilarities)

        def finish(offer):
            dissimilarities = offer[0]
            if dissimilarities.size == 0 or dissimilarities.max() <= 0:
                return tuple(part[:0] for part in offer)
            return offer

        def whole(points, labels):
            dissimilarities = ranked(points, labels)
            rows = self.farthest_rows(dissimilarities, n_empty)
            return taken(points, labels, rows, dissimilarities[rows])

        return Reduction(offer, partial(self.combined, n_empty), finish, whole)

    def literal(self, point_tokens, centroid_tokens, points, score, normaliser=None):
        """Rewrite the slots of the farthest points to name the empty centroids.

        A centroid is empty when no point of positive weight gives it any:
        every ``log y_ij`` is minus infinity, in the slots' own form
        (``normaliser``, the assignment attention's; a hardmax by default).
        """
        normaliser = normaliser or Hardmax()
        n_features = points.n_features
        slots = point_tokens[:, n_features:]
        labels = normaliser.labels(slots)
        attends = np.isfinite(normaliser.log_weights(slots))
        empty = np.flatnonzero(points.sample_weight @ attends == 0)
        # The head's score: each point's dissimilarity to the centroid its
        # slot names.
        scores = self._movable_only(
            dissimilarity_to_named(points, centroid_tokens, labels, score),
            points,
            labels,
        )
        farthest = self.farthest_rows(scores, empty.size)
        empty = empty[: farthest.size]
        point_tokens = point_tokens.copy()
        point_tokens[farthest, n_features:] = normaliser.naming(empty, slots.shape[1])
        return point_tokens

    def parameters(self, n_features, n_clusters):
        """No weights of its own: its score and values come from the tokens."""
        return {}


# -- the normalisation layer and the gate --------------------------------------


@dataclass(frozen=True)
class UnitSphereNormalisation:
    """Layer normalisation without centring or gain: ``t -> t / ||t||``.

    Applied to the data part of point and centroid tokens, it puts them on the
    unit sphere, so that a dot product is a cosine similarity. A zero token
    stays zero. On point tokens it is applied as a per-token factor, never by
    rescaling the caller's data.

    See Also
    --------
    CosineScore : The score it makes a plain dot product.
    sklearn_kmt.TransformerSphericalKMeans : The estimator that uses it.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt._components import UnitSphereNormalisation
    >>> from sklearn_kmt._tokens import PointTokens
    >>> normalisation = UnitSphereNormalisation()
    >>> normalisation(np.array([[3.0, 4.0], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    >>> points = PointTokens(np.array([[3.0, 4.0], [0.0, 2.0]]), np.ones(2))
    >>> normalisation.points(points).scale  # a factor per token; data unchanged
    array([0.2, 0.5])
    """

    def points(self, points):
        return points.normalised(inverse_norms(points.data))

    def __call__(self, centers):
        return unit_rows(centers)

    def literal(self, tokens, n_features):
        """Normalise the data block of a token matrix, as written: each
        block divided by its Euclidean norm, a zero block staying zero.

        The fast form (:func:`unit_rows`) scales before squaring, so that it
        holds at any magnitude; the tokens of the literal pass are those of a
        fit, embedded where squares are finite.
        """
        tokens = tokens.copy()
        data = tokens[:, :n_features]
        norms = np.sqrt(np.einsum("ij,ij->i", data, data))
        directed = norms > 0
        tokens[directed, :n_features] = data[directed] / norms[directed, None]
        return tokens

    def parameters(self, n_features, n_clusters):
        """No weights: neither centring nor gain."""
        return {}


@dataclass(frozen=True)
class TrimmingGate:
    """MLP gate after the assignment attention: zero the farthest points' slots.

    Parameters
    ----------
    trim_fraction : float
        Fraction of the total sample weight to trim in each layer.

    Attributes
    ----------
    trim_fraction : float
        The fraction given.

    See Also
    --------
    AssignAttention : The attention whose slots it gates.
    sklearn_kmt.TransformerTrimmedKMeans : The estimator that uses it.

    Notes
    -----
    A hidden unit per point computes ``d_i - r^2`` from its dissimilarity
    ``d_i`` to its assigned centroid, and a step of it multiplies the slot:
    the points beyond the radius ``r`` lose their assignment, so the update
    attention averages only the kept points. The radius is set in each layer
    so that the trimmed points are the farthest ones whose cumulative weight
    does not exceed ``trim_fraction`` times the total (with unit weights,
    exactly ``floor(trim_fraction * n_samples)`` points); ties in distance
    are trimmed in order of the sample index.

    Examples
    --------
    With four points of unit weight and ``trim_fraction=0.25``, the farthest
    point loses its slot (label -1).

    >>> import numpy as np
    >>> from sklearn_kmt._components import TrimmingGate
    >>> gate = TrimmingGate(trim_fraction=0.25)
    >>> dissimilarities = np.array([0.1, 9.0, 0.2, 0.3])
    >>> gate.kept(dissimilarities, np.ones(4))
    array([ True, False,  True,  True])
    """

    trim_fraction: float

    # The radius is a distance.
    report_degrees = {"radius": (1, 0)}

    def budget(self, total_weight, n_points):
        """The weight the gate may trim: ``trim_fraction`` of the total.

        Widened by the rounding error of the fraction and of sums of
        ``n_points`` weights, so that a cumulative weight equal to the
        fraction of the total in exact arithmetic is within the budget: 0.29
        of 100 unit weights trims 29 points (``0.29 * 100`` rounds to
        28.999999999999996), and weights of 0.1 trim the points that weights
        of 1 trim.
        """
        rounding = 2 * (n_points + 1) * np.finfo(np.float64).eps
        return self.trim_fraction * total_weight * (1 + rounding)

    def check_enough_kept(self, sample_weight, n_clusters):
        """Raise a ValueError when a layer may keep fewer points than clusters.

        The gate keeps at least the points beyond the largest number whose
        total weight fits in the budget: with unit weights, exactly
        ``n - floor(trim_fraction * n)``.
        """
        n_points = sample_weight.shape[0]
        lightest_first = np.cumsum(np.sort(sample_weight), dtype=np.float64)
        budget = self.budget(lightest_first[-1], n_points)
        n_trimmable = int(np.searchsorted(lightest_first, budget, side="right"))
        n_kept = n_points - n_trimmable
        if n_kept < n_clusters:
            with_weights = "" if np.all(sample_weight == 1) else " as few as"
            raise ValueError(
                f"trim_fraction={self.trim_fraction} keeps{with_weights} "
                f"{n_kept} of the {n_points} samples, fewer than "
                f"n_clusters={n_clusters}: lower trim_fraction or n_clusters."
            )

    # The radius is a reduction over the point stream: each chunk offers the
    # points it may lose, the offers combine, and the cutoff ends the trimmed
    # set. In memory the whole stream is one chunk; on Dask each block offers
    # and a tree of tasks combines, so that both trim the same points.

    def offer(self, dissimilarities, sample_weight, budget, start=0):
        """The points of a chunk that the gate may trim, given ``budget``.

        The trimmed set, restricted to any chunk, is a prefix of the
        chunk's farthest-first order (ties by index) of weight at most the
        budget. The offer holds that prefix and one more point (against the
        rounding of sums taken in another order), or with unit weights every
        point at least as far as the ``floor(budget)``-th farthest. Only the
        farthest points are ordered: a partition finds candidates, all points
        at least as far as the farthest few, whose weight exceeds the budget
        (their number grows until it does), and only those are sorted.

        Returns
        -------
        offer : tuple of ndarray
            Dissimilarities, indices (``start`` plus the row in the chunk)
            and weights of the offered points; farthest first (ties by
            index) unless the weights are all 1.
        """
        n_points = dissimilarities.shape[0]
        rows = np.arange(0)
        if np.all(sample_weight == 1):
            n_trimmed = min(n_points, int(np.floor(budget)))
            if n_trimmed:
                edge = n_points - n_trimmed
                nearest = np.partition(dissimilarities, edge)[edge]
                rows = np.flatnonzero(dissimilarities >= nearest)
        elif n_points:
            n_candidates = int(self.trim_fraction * n_points) + 64
            while True:
                if n_candidates >= n_points:
                    rows = np.argsort(-dissimilarities, kind="stable")
                else:
                    # All points tied with the last candidate join, so that
                    # ties are ordered by index as in a full stable sort.
                    nearest = np.partition(dissimilarities, n_points - n_candidates)[
                        n_points - n_candidates
                    ]
                    candidates = np.flatnonzero(dissimilarities >= nearest)
                    rows = candidates[
                        np.argsort(-dissimilarities[candidates], kind="stable")
                    ]
                cumulative = np.cumsum(sample_weight[rows], dtype=np.float64)
                if rows.size == n_points or cumulative[-1] > budget:
                    break
                n_candidates *= 4
            rows = rows[: np.searchsorted(cumulative, budget, side="right") + 1]
        return dissimilarities[rows], start + rows, sample_weight[rows]

    def combined(self, budget, *offers):
        """One offer for the points of several chunks, from theirs; farthest
        first."""
        dissimilarities, index, sample_weight = (
            np.concatenate(part) for part in zip(*offers, strict=True)
        )
        order = np.lexsort((index, -dissimilarities))
        dissimilarities = dissimilarities[order]
        index, sample_weight = index[order], sample_weight[order]
        cumulative = np.cumsum(sample_weight, dtype=np.float64)
        kept = np.searchsorted(cumulative, budget, side="right") + 1
        return dissimilarities[:kept], index[:kept], sample_weight[:kept]

    def cutoff(self, offer, budget):
        """``(radius, last)``: the gate trims the points farther than
        ``radius`` and those at ``radius`` with index at most ``last``
        (``(inf, -1)``: none).

        The trimmed set is the longest farthest-first prefix (ties by index)
        whose cumulative weight does not exceed the budget; with unit weights
        the ``floor(budget)`` farthest points, found without ordering them.
        """
        dissimilarities, index, sample_weight = offer
        if np.all(sample_weight == 1):
            n_trimmed = min(index.shape[0], int(np.floor(budget)))
            if n_trimmed == 0:
                return np.inf, -1
            edge = index.shape[0] - n_trimmed
            radius = np.partition(dissimilarities, edge)[edge]
            n_farther = np.count_nonzero(dissimilarities > radius)
            tied = np.sort(index[dissimilarities == radius])
            return radius, int(tied[n_trimmed - n_farther - 1])
        # Other offers come farthest first (see ``offer`` and ``combined``).
        cumulative = np.cumsum(sample_weight, dtype=np.float64)
        n_trimmed = int(np.searchsorted(cumulative, budget, side="right"))
        if n_trimmed == 0:
            return np.inf, -1
        return dissimilarities[n_trimmed - 1], int(index[n_trimmed - 1])

    @staticmethod
    def trimmed(dissimilarities, cutoff, start=0):
        """Mask of the points of a chunk that a ``cutoff`` trims."""
        radius, last = cutoff
        index = start + np.arange(dissimilarities.shape[0])
        at_radius = (dissimilarities == radius) & (index <= last)
        return (dissimilarities > radius) | at_radius

    def radius(self, total_weight, n_points):
        """The reduction that sets the radius of a layer: ``(radius, last)``
        (see :meth:`cutoff`), from the dissimilarities of ``n_points`` points
        of weight ``total_weight`` in all."""
        budget = self.budget(total_weight, n_points)
        return Reduction(
            offer=lambda points, dissimilarities: self.offer(
                dissimilarities, points.sample_weight, budget, points.start
            ),
            combine=partial(self.combined, budget),
            finish=partial(self.cutoff, budget=budget),
        )

    def kept(self, dissimilarities, sample_weight):
        """Mask of the points the gate keeps: the reduction of one chunk."""
        cutoff = self._cutoff_of_one_chunk(dissimilarities, sample_weight)
        return ~self.trimmed(dissimilarities, cutoff)

    def _cutoff_of_one_chunk(self, dissimilarities, sample_weight):
        """:meth:`cutoff` of all the points as one chunk (see :meth:`radius`)."""
        n_points = dissimilarities.shape[0]
        budget = self.budget(np.sum(sample_weight, dtype=np.float64), n_points)
        return self.cutoff(self.offer(dissimilarities, sample_weight, budget), budget)

    def __call__(self, stream, slots):
        """``y <- gate(y)``: the slots of the points beyond this layer's
        radius zeroed (label -1)."""
        dissimilarities = stream.dissimilarities(slots)
        cutoff = stream.reduce(
            self.radius(stream.total_weight, stream.n_tokens), dissimilarities
        )

        def gated(points, labels, dissimilarities):
            trimmed = self.trimmed(dissimilarities, cutoff, points.start)
            return np.where(trimmed, -1, labels).astype(np.int32)

        labels = stream.map(gated, stream.labels(slots), dissimilarities)
        return slots.gated(labels)

    def literal(self, point_tokens, centroid_tokens, points, score):
        """The gate on the token matrices, as an MLP.

        Its input is each point's dissimilarity ``d_i`` to the centroid its
        slot names (:func:`dissimilarity_to_named`); its hidden unit
        computes ``w d_i + b`` with the input weight ``w = -1`` and the bias ``b`` the
        radius of this layer (in the units of ``d_i``, set by the same
        reduction as the fast form's, :meth:`radius`); a step of it
        multiplies the slot. At the radius itself (a hidden value of 0) the
        points up to the index the reduction names are beyond it, so that
        ties are trimmed in order of the sample index.
        """
        n_features = points.n_features
        slots = point_tokens[:, n_features:]
        dissimilarities = dissimilarity_to_named(
            points, centroid_tokens, slot_labels(slots), score
        )
        radius, last = self._cutoff_of_one_chunk(dissimilarities, points.sample_weight)
        weights = self.parameters(n_features, slots.shape[1])
        hidden = weights["input_weight"][0, 0] * dissimilarities + radius
        index = np.arange(points.n_tokens)
        step = (hidden > 0) | ((hidden == 0) & (index > last))
        point_tokens = point_tokens.copy()
        point_tokens[:, n_features:] = slots * step[:, None]
        return point_tokens

    def parameters(self, n_features, n_clusters):
        """The trimmed fraction, and the input weight of the hidden unit; its
        bias, the radius, is set in every layer."""
        return {
            "trim_fraction": np.array([self.trim_fraction]),
            "input_weight": np.array([[-1.0]]),
        }

    def report(self, block, points, centers, labels, dissimilarities):
        """The trimming radius: the distance of the farthest kept point."""
        kept = dissimilarities[labels >= 0]
        return {"radius": float(np.sqrt(kept.max())) if kept.size else 0.0}
