"""The block (one Lloyd iteration) and the looped network.

A :class:`Block` composes the components of :mod:`sklearn_kmt._components`
into one transformer layer; the :class:`Network` applies the same block
(shared weights) layer after layer until the stopping rule holds. This module
holds the package's only iteration loop.
"""

import numpy as np
from sklearn import get_config

from ._components import (
    AssignAttention,
    ClusterStatistics,
    RelocationHead,
    UpdateAttention,
    squared_distances_to_assigned,
)

# Upper bound on the scores of one chunk: large enough that the per-chunk
# Python overhead is negligible, small enough to stay in cache-sized blocks.
CHUNK_BYTES = 8 * 2**20


def chunk_n_rows(points, n_clusters):
    """Rows of point tokens streamed together through one layer.

    The scores of one chunk, an ``(rows, n_clusters)`` matrix, take at most
    ``CHUNK_BYTES`` (8 MiB) and at most scikit-learn's ``working_memory``
    setting; they are the only per-chunk buffer that grows with ``n_clusters``.
    So the engine never holds the full ``n_samples x n_clusters`` score matrix
    when it is large.
    """
    budget = min(CHUNK_BYTES, get_config()["working_memory"] * 2**20)
    rows = int(budget // (n_clusters * points.dtype.itemsize))
    return max(1, min(points.n_tokens, rows))


class Block:
    """One layer of the k-means transformer: one Lloyd iteration.

    Parameters
    ----------
    assign_attention : AssignAttention
        Points attend to centroids and write their new assignment slot.
    update_attention : UpdateAttention
        Centroids attend to the points that name them and move to their mean.
    relocation_head : RelocationHead
        Empty centroids take the farthest points.

    Notes
    -----
    Point stream then centroid stream, each with its residual connection::

        y_i <- assign_attention(x_i ; centroids)         (overwrites the slot)
        c_j <- c_j + update_attention(c_j ; points)      (replaces c_j by a mean)

    On the fast path the two attentions are fused: each chunk of point tokens
    is assigned and immediately added to the update attention's running sums,
    so the slots of a chunk are never needed again, the way FlashAttention
    streams keys.
    """

    def __init__(
        self,
        assign_attention=None,
        update_attention=None,
        relocation_head=None,
    ):
        self.assign_attention = assign_attention or AssignAttention()
        self.update_attention = update_attention or UpdateAttention()
        self.relocation_head = relocation_head or RelocationHead()

    def __call__(self, points, centers):
        """Apply the layer.

        Parameters
        ----------
        points : PointTokens
        centers : ndarray of shape (n_clusters, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            The assignment written by this layer (the slot, before relocation).
        centers : ndarray of shape (n_clusters, n_features)
            The centroids after this layer.
        """
        n_clusters, n_features = centers.shape
        rows_per_chunk = chunk_n_rows(points, n_clusters)
        key_bias = self.assign_attention.key_bias(centers)
        statistics = ClusterStatistics(n_clusters, n_features)
        labels = np.empty(points.n_tokens, dtype=np.int32)
        for rows in points.rows(rows_per_chunk):
            chunk = points.data[rows]
            labels[rows] = self.assign_attention(chunk, centers, key_bias)
            self.update_attention.accumulate(
                statistics, chunk, labels[rows], points.sample_weight[rows]
            )
        self.relocation_head(statistics, points, labels, centers, rows_per_chunk)
        new_centers = self.update_attention(statistics, centers).astype(
            centers.dtype, copy=False
        )
        return labels, new_centers

    def assign(self, points, centers):
        """The assignment attention alone: the labels, no update."""
        rows_per_chunk = chunk_n_rows(points, centers.shape[0])
        key_bias = self.assign_attention.key_bias(centers)
        labels = np.empty(points.n_tokens, dtype=np.int32)
        for rows in points.rows(rows_per_chunk):
            labels[rows] = self.assign_attention(points.data[rows], centers, key_bias)
        return labels

    def objective(self, points, centers, labels):
        """The k-means objective: weighted squared distances to assigned centroids."""
        rows_per_chunk = chunk_n_rows(points, centers.shape[0])
        distances = squared_distances_to_assigned(
            points, centers, labels, rows_per_chunk
        )
        return float(np.dot(points.sample_weight, distances))


class NetworkOutput:
    """What a forward pass of the network returns.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)
        Assignments consistent with ``centers``.
    centers : ndarray of shape (n_clusters, n_features)
    n_layers : int
        Number of layers applied (Lloyd iterations).
    strict_convergence : bool
        Whether the loop stopped because the assignment no longer changed.
    """

    def __init__(self, labels, centers, n_layers, strict_convergence):
        self.labels = labels
        self.centers = centers
        self.n_layers = n_layers
        self.strict_convergence = strict_convergence


class Network:
    """The k-means transformer: one block looped with shared weights.

    Parameters
    ----------
    block : Block
    max_layers : int
        At most this many layers (``max_iter``).
    tol : float
        Absolute tolerance on the summed squared shift of the centroids.
    verbose : int, default=0
        Print the objective after each layer when positive.

    Notes
    -----
    The loop stops after the first layer whose assignment equals the previous
    layer's ("strict convergence": the centroids it produced are then a fixed
    point), or whose centroids moved by at most ``tol`` in summed squared
    Euclidean shift, or after ``max_layers`` layers. Unless it stopped
    strictly, one more assignment attention makes the labels consistent with
    the final centroids. This is the stopping rule of scikit-learn's ``KMeans``.
    """

    def __init__(self, block, max_layers, tol, verbose=0):
        self.block = block
        self.max_layers = max_layers
        self.tol = tol
        self.verbose = verbose

    def __call__(self, points, centers):
        """Run the network from initial centroids.

        Parameters
        ----------
        points : PointTokens
        centers : ndarray of shape (n_clusters, n_features)

        Returns
        -------
        output : NetworkOutput
        """
        previous_labels = None
        strict_convergence = False
        for layer in range(self.max_layers):
            labels, new_centers = self.block(points, centers)
            if self.verbose:
                objective = self.block.objective(points, centers, labels)
                print(f"Layer {layer}: objective {objective:.6g}")
            shift = float(np.sum((new_centers - centers) ** 2))
            centers = new_centers
            if previous_labels is not None and np.array_equal(labels, previous_labels):
                strict_convergence = True
                if self.verbose:
                    print(f"Converged at layer {layer}: assignments unchanged.")
                break
            if shift <= self.tol:
                if self.verbose:
                    print(
                        f"Converged at layer {layer}: centroid shift {shift:.3g} "
                        f"within tolerance {self.tol:.3g}."
                    )
                break
            previous_labels = labels
        if not strict_convergence:
            labels = self.block.assign(points, centers)
        return NetworkOutput(labels, centers, layer + 1, strict_convergence)
