"""TransformerSoftKMeans: the k-means transformer with softmax in the assignment."""

import warnings
from numbers import Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval

from ._base import BaseTransformerKMeans
from ._components import AssignAttention, Softmax
from ._network import kmeans_block

# Two centroids whose responsibilities differ by less than this log-ratio
# (0.1%) for every training sample have merged.
MERGED_LOG_RATIO = 1e-3


def _largest_per_column(distances):
    """Each column's largest entry, of an array or of a Dask array's blocks
    (0 for none: a block may hold no rows)."""
    if not hasattr(distances, "to_delayed"):
        return np.max(distances, axis=0, initial=0.0)
    import dask

    blocks = distances.to_delayed().ravel().tolist()
    largest = [dask.delayed(np.max)(block, axis=0, initial=0.0) for block in blocks]
    return np.max(dask.compute(*largest), axis=0)


class TransformerSoftKMeans(BaseTransformerKMeans):
    """Soft k-means: the k-means transformer with a softmax assignment attention.

    The assignment attention normalises its scores ``-1/2 ||x_i - c_j||^2``
    with a softmax at inverse temperature ``beta`` instead of a hardmax, so each
    point's slot holds responsibilities ``r_ij``, proportional to
    ``exp(-beta/2 ||x_i - c_j||^2)``; the update attention, unchanged, moves
    each centroid to the responsibility- and sample-weight-weighted mean of all
    points. This is MacKay's soft k-means with stiffness ``beta``.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters, that is of centroid tokens.

    beta : float, default=1.0
        Inverse temperature (stiffness) of the softmax, in units of the inverse
        squared data scale: it multiplies squared distances, so rescaling the
        data by ``s`` calls for ``beta / s**2`` (see Notes for choosing it).
        Large values give :class:`TransformerKMeans`; values near 0 put every
        centroid at the weighted mean of the data, which a warning reports.

    init : {"k-means++", "random"}, callable or array-like of shape \
            (n_clusters, n_features), default="k-means++"
        How the centroid tokens are seeded, as in :class:`TransformerKMeans`.

    n_init : "auto" or int, default="auto"
        Number of seedings to run; the one with the lowest inertia is kept.
        "auto" means 1 for "k-means++" or an array, 10 otherwise.

    max_iter : int, default=300
        Maximum number of layers in one run.

    tol : float, default=1e-4
        Tolerance on the summed squared shift of the centroids between two
        layers, relative to the mean variance of the features. Soft slots never
        repeat exactly, so this is the only convergence test.

    verbose : int, default=0
        Print the objective after each layer when positive.

    random_state : int, RandomState instance or None, default=None
        Seeds the centroid tokens.

    copy_x : bool, default=True
        Whether the centring of dense data may be done on a copy (see
        :class:`TransformerKMeans`).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centroids after the last layer.

    labels_ : ndarray of shape (n_samples,)
        The most responsible centroid of each training sample.

    inertia_ : float
        The k-means inertia of ``labels_``: weighted squared distances of the
        samples to their most responsible centroid, comparable across the
        estimators of this package.

    free_energy_ : float
        The soft k-means objective at the final centroids,
        ``-1/beta sum_i w_i log sum_j exp(-beta/2 ||x_i - c_j||^2)``.

    n_iter_ : int
        Number of layers run in the kept seeding.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit. Defined only when `X` has feature
        names that are all strings.

    network_ : Network
        The transformer that ran.

    init_centers_ : ndarray of shape (n_clusters, n_features)
        The centroids the kept run started from (its seeding), in the
        coordinates of the data: ``network_.forward(X, init_centers_,
        n_iter_)`` replays the fit, to rounding (see
        :meth:`~sklearn_kmt._network.Network.forward`).

    See Also
    --------
    TransformerKMeans : The hard limit, ``beta -> inf``.
    sklearn.mixture.GaussianMixture : Soft clustering with fitted covariances
        and mixing weights.

    Notes
    -----
    Each layer is one step of soft k-means [1]_:

    .. math:: r_{ij} = \\frac{\\exp(-\\tfrac\\beta2 \\lVert x_i - c_j \\rVert^2)}
              {\\sum_l \\exp(-\\tfrac\\beta2 \\lVert x_i - c_l \\rVert^2)}, \\qquad
              c_j \\leftarrow \\frac{\\sum_i w_i r_{ij} x_i}{\\sum_i w_i r_{ij}} .

    The slot stores ``log r_ij``, computed as a log-sum-exp relative to each
    point's best score, and the update attention's softmax over points of
    ``log r_ij + log w_i`` yields the weights of the mean, accumulated as an
    online softmax over chunks of points: neither large ``beta`` nor large data
    overflow. Each layer does not increase the free energy

    .. math:: F = -\\frac1\\beta \\sum_i w_i \\log \\sum_j
              \\exp(-\\tfrac\\beta2 \\lVert x_i - c_j \\rVert^2),

    an equal-weight isotropic Gaussian mixture's negative log-likelihood up to
    constants, with variance ``1/beta``.

    **Choosing beta.** Two centroids at squared distances ``D_1 < D_2`` from a
    point share it in the ratio ``exp(beta (D_2 - D_1) / 2)``, so ``beta`` is
    read against the differences of squared distances in the data's own
    units. On standardized features (unit variance each) two clusters whose
    centers are a few units apart differ in squared distance by several
    units for their points, and ``beta`` around 1 gives soft boundaries and
    nearly hard interiors; ``beta`` of 0.1 or less lets every centroid take
    almost equal shares of every point, and the centroids merge into the
    mean of the data. On the standardized iris data (4 features):

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> X = StandardScaler().fit_transform(load_iris().data)
    >>> for beta in (2.0, 1.0):
    ...     soft = TransformerSoftKMeans(3, beta=beta, random_state=0).fit(X)
    ...     print(beta, soft.predict_proba(X).max(axis=1).mean().round(2))
    2.0 0.91
    1.0 0.79

    The same data in centimetres times 100 would need ``beta`` 10,000 times
    smaller. When the centroids merge (two of them share every training sample
    within 0.1%), ``fit`` warns: ``labels_`` then still names ``n_clusters``
    clusters, but the data support fewer at this ``beta``.

    References
    ----------
    .. [1] D. J. C. MacKay, "Information Theory, Inference, and Learning
       Algorithms", Cambridge University Press, 2003, chapter 20.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt import TransformerSoftKMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0], [4.0, 1.0]])
    >>> soft = TransformerSoftKMeans(n_clusters=2, beta=2.0, random_state=0).fit(X)
    >>> soft.predict_proba([[2.0, 0.5]]).round(3)
    array([[0.5, 0.5]])
    >>> sorted(soft.labels_.tolist())
    [0, 0, 1, 1]
    """

    _parameter_constraints: dict = {
        **BaseTransformerKMeans._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        beta=1.0,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
    ):
        super().__init__(
            n_clusters,
            init=init,
            n_init=n_init,
            max_iter=max_iter,
            tol=tol,
            verbose=verbose,
            random_state=random_state,
            copy_x=copy_x,
        )
        self.beta = beta

    def _make_block(self):
        return kmeans_block(
            assign_attention=AssignAttention(normaliser=Softmax(self.beta))
        )

    def _fit(self, X, sample_weight):
        super()._fit(X, sample_weight)
        self._warn_if_merged(X)
        return self

    def _warn_if_merged(self, X):
        """Warn when two centroids share every training sample within 0.1%.

        The responsibilities of centroids ``i`` and ``j`` for a point ``x``
        are in the ratio ``exp(beta (d_j^2 - d_i^2) / 2)``, and ``|d_j^2 -
        d_i^2| <= 2 ||c_i - c_j|| ||x - m||`` with ``m`` their midpoint, at most
        the largest distance of a sample to ``c_i`` plus half their gap.
        """
        centers = self.cluster_centers_.astype(np.float64)
        farthest = _largest_per_column(self.transform(X))
        # The gaps from the differences, scaled so that no square overflows.
        scale = np.max(np.abs(centers), initial=0.0) or 1.0
        differences = (centers[:, None, :] - centers[None, :, :]) / scale
        gaps = scale * np.sqrt(np.einsum("ijk,ijk->ij", differences, differences))
        with np.errstate(over="ignore"):
            log_ratio = self.beta * gaps * (farthest[:, None] + gaps / 2)
        merged = np.argwhere(np.triu(log_ratio < MERGED_LOG_RATIO, k=1))
        if merged.size == 0:
            return
        n_distinct = self.n_clusters - len({int(j) for i, j in merged if i != j})
        pairs = ", ".join(f"{i} and {j}" for i, j in merged[:5].tolist())
        warnings.warn(
            f"At beta={self.beta!r} centroids {pairs} have merged: they share "
            "every training sample within 0.1%, so labels_ names "
            f"{self.n_clusters} clusters where the data support about "
            f"{max(n_distinct, 1)} at this beta. beta multiplies squared "
            "distances in the data's units; increase it (see the Notes of "
            "TransformerSoftKMeans).",
            ConvergenceWarning,
            stacklevel=5,  # the caller of fit
        )

    def predict_proba(self, X):
        """Responsibilities of the centroids for each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        responsibilities : ndarray of shape (n_samples, n_clusters)
            The assignment attention's softmax weights; each row sums to 1.
        """
        data = self._validate_test_data(X)
        block = self.network_.block.rescaled(data.exponent)
        responsibilities = block.read_slots(
            data.points, data.centers, lambda slots: slots.dense()
        )
        return responsibilities.astype(data.result_dtype, copy=False)
