"""TransformerSphericalKMeans: the k-means transformer behind a normalisation layer."""

from sklearn.utils._param_validation import StrOptions

from ._base import BaseTransformerKMeans
from ._components import AssignAttention, CosineScore, UnitSphereNormalisation
from ._network import kmeans_block
from ._routing import TokenRouter


class TransformerSphericalKMeans(BaseTransformerKMeans):
    """Spherical k-means: the k-means transformer with a normalisation layer.

    A normalisation layer (layer normalisation without centring) puts point and
    centroid tokens on the unit sphere, so the assignment attention's score is
    the cosine similarity, and the update attention's mean, renormalised, is
    the direction of the cluster's (weighted) sum: Dhillon and Modha's
    spherical k-means, for data where direction matters and length does not,
    such as TF-IDF text vectors.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters, that is of centroid tokens.

    init : {"k-means++", "random"}, callable or array-like of shape \
            (n_clusters, n_features), default="k-means++"
        How the centroid tokens are seeded. "k-means++" seeds on the
        normalised samples; every seeding is normalised by the first layer.

    n_init : "auto" or int, default="auto"
        Number of seedings to run; the one with the lowest inertia is kept.

    max_iter : int, default=300
        Maximum number of layers in one run.

    tol : float, default=1e-4
        Tolerance on the summed squared shift of the (unit) centroids between
        two layers, relative to the mean variance of the normalised samples.

    verbose : int, default=0
        Print the objective after each layer when positive.

    random_state : int, RandomState instance or None, default=None
        Seeds the centroid tokens.

    copy_x : bool, default=True
        Kept for a uniform interface; the data is never changed in place, since
        the normalisation is applied as a per-sample factor.

    algorithm : {"auto", "lloyd"}, default="auto"
        ``"auto"`` routes around the assignment attention the point tokens
        whose bounds certify their slot, ``"lloyd"`` sends every token
        through every layer; the result is the same (see Notes).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Unit-norm centroids.

    labels_ : ndarray of shape (n_samples,)
        Index of the most similar centroid of each training sample.

    inertia_ : float
        Weighted sum of the cosine dissimilarities ``1 - cos(x_i, c)`` of the
        samples to their centroid.

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
        n_iter_)`` replays the fit.

    See Also
    --------
    TransformerKMeans : The same transformer without the normalisation layer.

    Notes
    -----
    Each layer is one step of spherical k-means [1]_ on ``x_i / ||x_i||``:

    .. math:: y_i = \\arg\\max_j \\, \\hat x_i \\cdot c_j, \\qquad
              c_j \\leftarrow \\frac{\\sum_{y_i = j} w_i \\hat x_i}
              {\\lVert \\sum_{y_i = j} w_i \\hat x_i \\rVert} .

    Sparse input stays sparse: the normalisation multiplies each chunk of
    rows as it streams through, and the data is never densified. A row of
    zeros has no direction: it stays zero, its similarity to every centroid
    is 0, so it joins the first centroid (ties go to the first), adds nothing
    to any direction and counts 1 in ``inertia_``; ``transform`` gives it
    cosine distance 1 to every centroid. Empty clusters take the least
    similar samples. A centroid whose members are all zero rows has no
    direction either and stays at zero.

    On the unit sphere ``x . c = 1 - ||x - c||^2 / 2``: the most similar
    centroid is the nearest, so the token router of :class:`TransformerKMeans`
    applies, bounding each token's Euclidean distances to the unit
    centroids, and the layers it routes are the same layers (the same labels,
    centroids and number of layers as with ``algorithm="lloyd"``). A zero row,
    equally similar to every centroid, always goes through the attention.

    References
    ----------
    .. [1] I. S. Dhillon and D. S. Modha, "Concept decompositions for large
       sparse text data using clustering", Machine Learning 42, 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt import TransformerSphericalKMeans
    >>> X = np.array([[1.0, 0.1], [3.0, 0.2], [0.1, 1.0], [0.2, 5.0]])
    >>> spherical = TransformerSphericalKMeans(n_clusters=2, random_state=0).fit(X)
    >>> spherical.labels_[0] == spherical.labels_[1] != spherical.labels_[2]
    np.True_
    >>> np.linalg.norm(spherical.cluster_centers_, axis=1).round(6)
    array([1., 1.])
    """

    _parameter_constraints: dict = {
        **BaseTransformerKMeans._parameter_constraints,
        "algorithm": [StrOptions({"auto", "lloyd"})],
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
        return kmeans_block(
            normalisation=UnitSphereNormalisation(),
            assign_attention=AssignAttention(score=CosineScore()),
            router=None if self.algorithm == "lloyd" else TokenRouter(),
        )
