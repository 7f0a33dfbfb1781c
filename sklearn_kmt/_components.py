"""The components of the k-means transformer, each next to its weights.

Every component here is a standard transformer part with hand-set weights:

- :class:`AssignAttention`: cross-attention from point tokens (queries) to
  centroid tokens (keys and values). It writes into each point's assignment
  slot the identity of its nearest centroid.
- :class:`UpdateAttention`: cross-attention from centroid tokens (queries) to
  point tokens (keys and values). It moves each centroid to the weighted mean
  of the points whose slot names it.
- :class:`RelocationHead`: a head that gives an empty centroid the point
  farthest from its own centroid, as scikit-learn's Lloyd iteration does.

The fast path applies each component by exploiting the structure of its
weights: selection matrices become slicing, a one-hot attention becomes a
sparse matrix, and the two attentions are fused over a stream of row chunks of
point tokens (see :mod:`sklearn_kmt._network`).
"""

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.extmath import row_norms, safe_sparse_dot


def hardmax(scores):
    """Hardmax over keys (the last axis), ties going to the first key.

    The limit of ``softmax(gamma * scores)`` as ``gamma -> inf`` when every
    score also carries a vanishing bias that favours lower key indices. A
    one-hot row is returned as the index of its one.

    Parameters
    ----------
    scores : ndarray of shape (n_queries, n_keys)

    Returns
    -------
    argmax : ndarray of shape (n_queries,), dtype=int32
    """
    return np.argmax(scores, axis=1).astype(np.int32, copy=False)


ATTENTION_NORMALISATIONS = {"hardmax": hardmax}


class AssignAttention:
    """Assignment cross-attention: each point attends to its nearest centroid.

    Parameters
    ----------
    normalisation : {"hardmax"}, default="hardmax"
        How the scores of one query are normalised over the keys.

    Notes
    -----
    Queries are point tokens ``[x_i ; y_i]``, keys and values are centroid
    tokens ``[c_j ; e_j]``. The query and key projections select the data
    part, so the score is the negative half squared distance

    .. math:: s_{ij} = -\\tfrac12 \\lVert x_i - c_j \\rVert^2
              = x_i \\cdot c_j - \\tfrac12 \\lVert c_j \\rVert^2
              - \\tfrac12 \\lVert x_i \\rVert^2 ,

    whose last term is constant over the keys of a query and is dropped: what
    remains is one matrix product plus a per-key bias. The value projection
    selects the identity part, so the output for point ``i`` is ``e_j`` of its
    highest-scoring centroid: its new assignment slot. The residual connection
    overwrites the old slot with it.
    """

    def __init__(self, normalisation="hardmax"):
        self.normalisation = normalisation
        self._normalise = ATTENTION_NORMALISATIONS[normalisation]

    def key_bias(self, centers):
        """The per-key bias ``-1/2 ||c_j||^2``, computed once per layer."""
        return -0.5 * row_norms(centers, squared=True)

    def scores(self, points, centers, key_bias):
        """Scores ``x_i . c_j - 1/2 ||c_j||^2`` of a chunk of points, shape (m, k)."""
        scores = safe_sparse_dot(points, centers.T, dense_output=True)
        scores += key_bias
        return scores

    def __call__(self, points, centers, key_bias):
        """New assignment slots of a chunk of point tokens (as labels)."""
        return self._normalise(self.scores(points, centers, key_bias))

    def distances(self, points, centers):
        """The distances this attention's score ranks by: Euclidean."""
        return euclidean_distances(points, centers)


class ClusterStatistics:
    """Running sums of the update attention over streamed point tokens.

    The update attention's output for centroid ``j`` is ``sums[j] /
    weights[j]``; both are linear in the point tokens, so they are accumulated
    chunk by chunk (in float64, whatever the data type) and normalised once.

    Parameters
    ----------
    n_clusters, n_features : int
    """

    def __init__(self, n_clusters, n_features):
        self.sums = np.zeros((n_clusters, n_features))
        self.weights = np.zeros(n_clusters)


class UpdateAttention:
    """Update cross-attention: each centroid attends to the points it owns.

    Notes
    -----
    Queries are centroid tokens ``[c_j ; e_j]``, keys and values are point
    tokens ``[x_i ; y_i]``. The query projection selects the identity part and
    the key projection the slot, so the raw score is ``e_j . y_i = y_ij``; the
    score is its logarithm plus the log of the sample weight,

    .. math:: s_{ji} = \\log y_{ij} + \\log w_i ,

    and the softmax over points gives the weights
    ``w_i y_ij / sum_i w_i y_ij``. For a one-hot slot this is hardmax over the
    members of cluster ``j`` (they tie at ``log 1 = 0``), each member weighted
    by its sample weight; a point of zero weight is never attended. The value
    projection selects the data part, so the output is the weighted mean of
    the cluster, and the residual connection (its output projection subtracts
    the old ``c_j``) replaces the centroid by that mean. A centroid whose
    members have no weight attends to nothing: its output is zero and the
    residual keeps it in place.
    """

    def accumulate(self, statistics, points, labels, sample_weight):
        """Add a chunk of point tokens with one-hot slots to the statistics."""
        n_clusters = statistics.weights.shape[0]
        # The transposed one-hot slots, weighted: one entry per column, so the
        # sparse product visits each point once, in order.
        attention = sp.csc_array(
            (sample_weight, labels, np.arange(labels.shape[0] + 1)),
            shape=(n_clusters, labels.shape[0]),
        )
        sums = attention @ points
        statistics.sums += sums.toarray() if sp.issparse(sums) else sums
        statistics.weights += np.bincount(
            labels, weights=sample_weight, minlength=n_clusters
        )

    def __call__(self, statistics, centers):
        """The centroid stream after the attention and its residual."""
        attended = statistics.weights > 0
        new_centers = centers.copy()
        new_centers[attended] = (
            statistics.sums[attended] / statistics.weights[attended, None]
        )
        return new_centers


def squared_distances_to_assigned(points, centers, labels, chunk_n_rows):
    """``||x_i - c_{labels_i}||^2`` for every point token, computed row chunk by chunk.

    Parameters
    ----------
    points : PointTokens
    centers : ndarray of shape (n_clusters, n_features)
    labels : ndarray of shape (n_samples,)
    chunk_n_rows : int

    Returns
    -------
    distances : ndarray of shape (n_samples,), dtype of the points
    """
    distances = np.empty(points.n_tokens, dtype=points.dtype)
    for rows in points.rows(chunk_n_rows):
        own_centers = centers[labels[rows]]
        if points.is_sparse:
            data = points.data[rows]
            # ||x||^2 - 2 x.c + ||c||^2, without densifying x
            cross = np.asarray(data.multiply(own_centers).sum(axis=1)).ravel()
            chunk = row_norms(data, squared=True) - 2 * cross
            chunk += row_norms(own_centers, squared=True)
            np.maximum(chunk, 0, out=chunk)
        else:
            difference = points.data[rows] - own_centers
            chunk = np.einsum("ij,ij->i", difference, difference)
        distances[rows] = chunk
    return distances


class RelocationHead:
    """Relocation head: an empty centroid takes the farthest point.

    Notes
    -----
    The query of centroid ``j`` is "I am empty": its update attention found no
    weight. The score of point ``i`` is its squared distance to its own
    centroid, ``||x_i - c_{y_i}||^2``; hardmax picks the farthest point (with
    ``m`` empty centroids, the ``m`` farthest, one each). The value is the
    point's weighted data and weight: they move from the statistics of the
    cluster that owned the point to the empty one, as if the point's slot had
    been rewritten to name the empty centroid before the update attention.
    This matches scikit-learn's Lloyd iteration. When every point already sits
    on its centroid, nothing is moved and the empty centroids keep their place.
    """

    def __call__(self, statistics, points, labels, centers, chunk_n_rows):
        empty = np.flatnonzero(statistics.weights == 0)
        if empty.size == 0:
            return
        distances = squared_distances_to_assigned(points, centers, labels, chunk_n_rows)
        if distances.max() == 0:
            return
        farthest = np.argpartition(distances, -empty.size)[-empty.size :][::-1]
        weights = points.sample_weight[farthest].astype(np.float64)
        values = points.dense_rows(farthest) * weights[:, None]
        donors = labels[farthest]
        np.subtract.at(statistics.sums, donors, values)
        np.subtract.at(statistics.weights, donors, weights)
        statistics.sums[empty] = values
        statistics.weights[empty] = weights
