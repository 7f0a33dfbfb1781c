"""TransformerRobustKMeans: the k-means transformer with a sparsemax update."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import BaseTransformerKMeans
from ._components import Sparsemax, UpdateAttention
from ._network import kmeans_block


class TransformerRobustKMeans(BaseTransformerKMeans):
    """Robust k-means: the k-means transformer whose update attention is sparse.

    The assignment is that of k-means; the update attention normalises its
    scores over the points with a sparsemax instead of averaging them: each
    centroid moves to a weighted mean of its members in which the members
    near it weigh most and those beyond a distance weigh exactly zero, so
    that the far members of a cluster (outliers among them) stop pulling it,
    without a global fraction to trim.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters, that is of centroid tokens.

    beta : float, default=0.01
        Inverse temperature of the sparsemax, in inverse squared data units:
        a member at squared distance ``d`` from its centroid scores ``-beta d
        / sqrt(n_features)``. Larger values weigh fewer, nearer members; 0
        gives every member its sample weight, that is :class:`TransformerKMeans`.

    init : {"k-means++", "random"}, callable or array-like of shape \
            (n_clusters, n_features), default="k-means++"
        How the centroid tokens are seeded, as for :class:`TransformerKMeans`.

    n_init : "auto" or int, default="auto"
        Number of seedings to run; the one with the lowest inertia is kept.
        "auto" means 1 for "k-means++" or an array, 10 otherwise.

    max_iter : int, default=300
        Maximum number of layers in one run.

    tol : float, default=1e-4
        Tolerance on the summed squared shift of the centroids between two
        layers, relative to the mean variance of the features.

    verbose : int, default=0
        Print the inertia after each layer when positive.

    random_state : int, RandomState instance or None, default=None
        Seeds the centroid tokens.

    copy_x : bool, default=True
        Whether the centring of dense data may be done on a copy (see
        :class:`TransformerKMeans`).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centroids after the last layer: each the sparsemax-weighted mean of
        its members.

    labels_ : ndarray of shape (n_samples,)
        Index of the nearest centroid of each training sample.

    member_weights_ : ndarray of shape (n_samples,)
        The weight of each training sample in its centroid at the end of the
        fit: the sparsemax weights the update attention gives the members of
        each cluster (``labels_``) at ``cluster_centers_``. They sum to 1 in
        each cluster; the samples of weight 0 do not pull their centroid. On
        a Dask array, a Dask array.

    inertia_ : float
        Weighted sum of squared distances of the samples to their centroid.

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
        The centroids the kept run started from, in the coordinates of the
        data: ``network_.forward(X, init_centers_, n_iter_)`` replays the fit,
        to rounding (see :meth:`~sklearn_kmt._network.Network.forward`).

    See Also
    --------
    TransformerKMeans : The same transformer with the plain mean update.
    TransformerTrimmedKMeans : Robust by trimming a global fraction of the
        farthest points instead.

    Notes
    -----
    Each layer assigns every point to its nearest centroid, then moves each
    centroid ``c_j`` to ``sum_i p_i x_i`` over its members, with the weights

    .. math:: p_i = w_i \\left(-\\beta \\, \\lVert x_i - c_j \\rVert^2 /
              \\sqrt{D} - \\tau_j\\right)_+ , \\qquad \\textstyle\\sum_i p_i = 1 ,

    the sparsemax [1]_ of the members' scores (``w_i`` the sample weight,
    ``D`` the number of features; a sample of weight 2 counts as two
    samples). The threshold ``tau_j`` makes the weights sum to one. The
    members beyond the distance where the score meets the threshold get
    weight zero; the nearest members share the rest, the nearer the more.

    How many members keep a weight grows with ``sqrt(D) / beta`` (a squared
    distance times a sample weight: the members within the threshold
    distance ``t`` satisfy ``sum_i w_i (t - d_i) = sqrt(D) / beta``) and only
    slowly with the size of the cluster: a cluster with many members near
    its centroid spends its unit of weight on fewer, nearer ones, and a
    large cluster is summarised by its densest core. On 16 Gaussian blobs of
    unit variance in 16 dimensions, ``beta=0.01`` leaves a weight on about
    5% of 100,000 samples and 0.7% of 1,000,000. Choose ``beta`` in the
    units of the data, smaller for more samples, and read
    ``member_weights_``.

    As the weights depend on the centroid, a repeated assignment is not a
    fixed point: the loop stops when the centroids move by less than ``tol``
    (or after ``max_iter`` layers). An empty cluster takes the farthest
    point, as in :class:`TransformerKMeans`.

    The layer is that of :class:`TransformerKMeans` with one component
    changed, the normaliser over the keys of the update attention (see
    :class:`~sklearn_kmt._components.Sparsemax`).

    References
    ----------
    .. [1] A. F. T. Martins and R. F. Astudillo, "From Softmax to Sparsemax:
       A Sparse Model of Attention and Multi-Label Classification", ICML 2016.

    Examples
    --------
    One cluster of four points and a far member: k-means' centroid is pulled
    towards it, the robust centroid is not, and the far member gets no weight.

    >>> import numpy as np
    >>> from sklearn_kmt import TransformerKMeans, TransformerRobustKMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0],
    ...               [6.0, 6.0], [20.0, 20.0], [20.0, 21.0]])
    >>> init = np.array([[0.0, 0.0], [20.0, 20.0]])
    >>> TransformerKMeans(2, init=init).fit(X).cluster_centers_[0]
    array([1.6, 1.6])
    >>> robust = TransformerRobustKMeans(2, beta=0.1, init=init, tol=0).fit(X)
    >>> robust.cluster_centers_[0]
    array([0.5, 0.5])
    >>> robust.member_weights_.round(2)
    array([0.25, 0.25, 0.25, 0.25, 0.  , 0.5 , 0.5 ])
    """

    _parameter_constraints: dict = {
        **BaseTransformerKMeans._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        beta=0.01,
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
        sparse_update = UpdateAttention(normaliser=Sparsemax(self.beta))
        return kmeans_block(update_attention=sparse_update)
