"""Point tokens and centroid tokens of the k-means transformer.

A point token is the column ``[x_i ; y_i]`` of length ``n_features + n_clusters``:
the sample and its assignment slot. A centroid token is ``[c_j ; e_j]``: the
center and its identity, the j-th standard basis vector.

On the fast path the two parts are kept apart: the data part is the caller's
(validated) matrix, dense or CSR, never copied into a wider one, and a hard
assignment slot, a one-hot row, is held as the index of its one. ``dense()``
assembles the literal token matrix for small inputs.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import row_norms


def one_hot(labels, n_clusters, weights=None):
    """Hard assignment slots as a sparse matrix.

    Parameters
    ----------
    labels : ndarray of shape (n_points,)
        Index of the one in each slot.
    n_clusters : int
        Length of a slot.
    weights : ndarray of shape (n_points,), default=None
        Value of the one in each row (1 when None).

    Returns
    -------
    slots : scipy.sparse.csr_array of shape (n_points, n_clusters)
    """
    n_points = labels.shape[0]
    if weights is None:
        weights = np.ones(n_points)
    return sp.csr_array(
        (weights, labels, np.arange(n_points + 1)), shape=(n_points, n_clusters)
    )


class PointTokens:
    """The point tokens ``[x_i ; y_i]``, data part and sample weights.

    Parameters
    ----------
    data : {ndarray, csr_matrix} of shape (n_samples, n_features)
        The data part, already validated (C-ordered float, or CSR).
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weight of each point token; the update attention adds
        ``log(sample_weight)`` to its scores.
    """

    def __init__(self, data, sample_weight):
        self.data = data
        self.sample_weight = sample_weight

    @property
    def n_tokens(self):
        return self.data.shape[0]

    @property
    def n_features(self):
        return self.data.shape[1]

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_sparse(self):
        return sp.issparse(self.data)

    def rows(self, chunk_n_rows):
        """Consecutive row slices of at most ``chunk_n_rows`` tokens."""
        for start in range(0, self.n_tokens, chunk_n_rows):
            yield slice(start, min(start + chunk_n_rows, self.n_tokens))

    def dense_rows(self, rows):
        """Data part of a slice of tokens as a dense array."""
        block = self.data[rows]
        return block.toarray() if sp.issparse(block) else block

    def squared_norms(self):
        return row_norms(self.data, squared=True)

    def dense(self, slots):
        """The literal token matrix ``[X, Y]`` of shape (n, n_features + n_clusters).

        Parameters
        ----------
        slots : ndarray of shape (n_samples, n_clusters)
            The assignment slots ``y_i`` as rows.
        """
        data = self.data.toarray() if self.is_sparse else self.data
        return np.hstack([data, slots])


class CentroidTokens:
    """The centroid tokens ``[c_j ; e_j]``.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        The data part; the identity part ``e_j`` is implicit in the row order.
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
