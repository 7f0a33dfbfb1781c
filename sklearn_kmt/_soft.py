"""TransformerSoftKMeans: the k-means transformer with softmax in the assignment."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import BaseTransformerKMeans
from ._components import AssignAttention, Softmax
from ._network import kmeans_block


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
        squared data scale. Large values give :class:`TransformerKMeans`; values
        near 0 put every centroid at the weighted mean of the data.

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
        n_iter_)`` replays the fit.

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
