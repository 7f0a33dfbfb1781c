"""TransformerKMeans: the k-means transformer itself, no component swapped."""

from sklearn.utils._param_validation import StrOptions

from ._base import BaseTransformerKMeans
from ._network import kmeans_block
from ._routing import TokenRouter


class TransformerKMeans(BaseTransformerKMeans):
    """K-means clustering run by a transformer with hand-set weights.

    Points and centroids are tokens; in each layer an assignment attention
    with hardmax gives every point its nearest centroid, an update attention
    moves every centroid to the weighted mean of its points, and residual
    connections replace the old values. One layer is one iteration of Lloyd's
    algorithm, so the result is that of :class:`sklearn.cluster.KMeans` with
    ``algorithm="lloyd"``: the same labels and iteration count, and the same
    centers and inertia up to rounding.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters, that is of centroid tokens.

    init : {"k-means++", "random"}, callable or array-like of shape \
            (n_clusters, n_features), default="k-means++"
        How the centroid tokens are seeded, with the meaning it has in
        :class:`sklearn.cluster.KMeans`: "k-means++" is the greedy k-means++
        of :func:`sklearn.cluster.kmeans_plusplus`, "random" draws
        ``n_clusters`` distinct samples with probability proportional to their
        weight; a callable is called as ``init(X, n_clusters,
        random_state=random_state)`` on the data (centred on its mean when
        dense) and returns the centers; an array gives them directly.

    n_init : "auto" or int, default="auto"
        Number of seedings to run, the one with the lowest inertia being kept.
        "auto" means 1 for "k-means++" or an array, 10 for "random" or a
        callable.

    max_iter : int, default=300
        Maximum number of layers (Lloyd iterations) in one run.

    tol : float, default=1e-4
        Tolerance on the summed squared shift of the centroids between two
        layers, relative to the mean variance of the features.

    verbose : int, default=0
        Print the objective after each layer when positive.

    random_state : int, RandomState instance or None, default=None
        Seeds the centroid tokens. Pass an int for reproducible results.

    copy_x : bool, default=True
        Dense data is centred on its mean before the layers run, which makes
        the distances more accurate. With ``copy_x=False`` the caller's array
        is centred in place and restored afterwards, also when the fit is
        interrupted, if it is C-contiguous float data; the restored values may
        differ by rounding. Other data (sparse, integer, Fortran-ordered) is
        converted on a copy and never changes.

    algorithm : {"auto", "lloyd", "elkan"}, default="auto"
        Every value gives the same, exact Lloyd iterations. ``"auto"`` (and
        ``"elkan"``, accepted so that the parameters of a
        :class:`sklearn.cluster.KMeans` pass unchanged) puts a token router
        before the assignment attention: each point token carries bounds on
        its distances to the centroids, and only the tokens whose slot the
        bounds leave undecided go through the attention, so that later
        layers score few points. ``"lloyd"`` sends every token through every
        layer, the textbook pass.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The centroid tokens' data part after the last layer.

    labels_ : ndarray of shape (n_samples,)
        Cluster index of each training sample, consistent with
        ``cluster_centers_``.

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
        The transformer that ran: the block with its components, looped.

    init_centers_ : ndarray of shape (n_clusters, n_features)
        The centroids the kept run started from (its seeding), in the
        coordinates of the data: ``network_.forward(X, init_centers_,
        n_iter_)`` replays the fit, to rounding (see
        :meth:`~sklearn_kmt._network.Network.forward`).

    See Also
    --------
    sklearn.cluster.KMeans : The compiled Lloyd algorithm this estimator equals.

    Notes
    -----
    Point tokens are ``[x_i ; y_i]`` (sample and assignment slot) and centroid
    tokens ``[c_j ; e_j]`` (center and identity). The assignment attention
    scores ``x_i . c_j - ||c_j||^2 / 2``, which is ``-||x_i - c_j||^2 / 2`` up
    to a term constant per point, and its hardmax writes ``e_j`` of the
    nearest centroid into the slot. The update attention scores
    ``log y_ij + log w_i``, whose softmax over points gives each centroid the
    weighted mean of its cluster. A relocation head gives an empty centroid the
    point farthest from its own centroid. The layer repeats until the
    assignments no longer change, the centroids move by less than the scaled
    ``tol``, or ``max_iter`` layers have run [1]_.

    Empty centroids differ from scikit-learn in one respect: a centroid that
    ends a layer with no weight keeps its place. That happens when it cannot
    be relocated because every point already sits on its centroid (fewer
    distinct points than clusters), or when the relocation head took its only
    point. scikit-learn moves such a centroid instead, meaning to put it on
    the heaviest centroid, but when the heaviest comes later in order it puts
    it at that cluster's unnormalised sum, which is no centroid at all. The
    move counts as a centroid shift and may create ties, so in these cases
    scikit-learn may run one layer more or number the clusters differently.

    References
    ----------
    .. [1] C. Park, K. L. Clarkson, L. Horesh, P. Ram and T. Ito, "Finding
       Clustering Algorithms in the Transformer Architecture",
       arXiv:2506.19125, 2025.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt import TransformerKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> kmeans = TransformerKMeans(n_clusters=2, random_state=0).fit(X)
    >>> kmeans.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> kmeans.predict([[0, 0], [12, 3]])
    array([1, 0], dtype=int32)
    >>> kmeans.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    """

    _parameter_constraints: dict = {
        **BaseTransformerKMeans._parameter_constraints,
        "algorithm": [StrOptions({"auto", "lloyd", "elkan"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="auto",
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
        self.algorithm = algorithm

    def _make_block(self):
        return kmeans_block(router=None if self.algorithm == "lloyd" else TokenRouter())
