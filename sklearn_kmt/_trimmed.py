"""TransformerTrimmedKMeans: the k-means transformer with a gate after assignment."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseTransformerKMeans
from ._components import TrimmingGate
from ._network import kmeans_block
from ._routing import TokenRouter


class TransformerTrimmedKMeans(BaseTransformerKMeans):
    """Trimmed k-means: the k-means transformer with an MLP gate after assignment.

    After the assignment attention, a gate zeroes the assignment slot of the
    points farthest from their centroid, which together carry
    ``trim_fraction`` of the total sample weight, so the update attention
    averages only the kept points: centroids are not dragged by outliers,
    and the trimmed points are reported as outliers (label -1).

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters, that is of centroid tokens.

    trim_fraction : float, default=0.1
        Fraction of the total sample weight trimmed in every layer, in [0, 1).
        With unit weights exactly ``floor(trim_fraction * n_samples)`` points
        are trimmed; with weights, the farthest points whose cumulative weight
        does not exceed ``trim_fraction`` times the total. 0 gives
        :class:`TransformerKMeans`.

    init : {"k-means++", "random"}, callable or array-like of shape \
            (n_clusters, n_features), default="k-means++"
        How the centroid tokens are seeded. "k-means++" is gated here: the
        candidates are drawn only among the points the gate would keep (see
        Notes). Other values mean what they mean for :class:`TransformerKMeans`.

    n_init : "auto" or int, default="auto"
        Number of seedings to run; the one with the lowest trimmed inertia is
        kept.

    max_iter : int, default=300
        Maximum number of layers in one run.

    tol : float, default=1e-4
        Tolerance on the summed squared shift of the centroids between two
        layers, relative to the mean variance of the features.

    verbose : int, default=0
        Print the objective after each layer when positive.

    random_state : int, RandomState instance or None, default=None
        Seeds the centroid tokens.

    copy_x : bool, default=True
        Whether the centring of dense data may be done on a copy (see
        :class:`TransformerKMeans`).

    algorithm : {"auto", "lloyd"}, default="auto"
        ``"auto"`` routes around the assignment attention the point tokens
        whose bounds certify their slot, ``"lloyd"`` sends every token
        through every layer; the result is the same (see
        :class:`TransformerKMeans`).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centroids of the kept points after the last layer.

    labels_ : ndarray of shape (n_samples,)
        Cluster index of each training sample, -1 for the trimmed ones.

    inertia_ : float
        Weighted sum of squared distances of the kept samples to their
        centroid (the trimmed k-means criterion).

    radius_ : float
        The trimming distance at convergence: the Euclidean distance of the
        farthest kept sample to its centroid.

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
    TransformerKMeans : The same transformer without the gate.

    Notes
    -----
    Each layer is one concentration step of trimmed k-means [1]_: assign every
    point to its nearest centroid, trim the farthest ``trim_fraction`` of the
    weight, and move each centroid to the weighted mean of its kept points.
    Ties in distance are trimmed in order of the sample index. With unit
    weights (more generally, whenever every layer trims the same weight) the
    trimmed criterion never increases from layer to layer; with unequal
    weights the trimmed weight may vary from layer to layer by less than the
    largest weight, and so may the criterion.

    ``tol`` is relative to the mean variance of the samples that the gate
    keeps around the data mean, so that the outliers do not loosen it.

    Plain k-means++ picks far outliers first, which is what trimming is meant
    to ignore. The gated k-means++ used here draws each new center only among
    the points the gate keeps given the centers so far, with probability
    proportional to weight times squared distance, and keeps the best of
    ``2 + log(n_clusters)`` candidates by the gated potential; even the first
    center is the best of such candidates, so a lone outlier is not chosen.

    ``predict`` gives -1 to samples farther than ``radius_`` from their
    nearest centroid, so the fitted model is also an outlier detector; on the
    training samples it reproduces ``labels_`` up to rounding at the boundary.

    References
    ----------
    .. [1] J. A. Cuesta-Albertos, A. Gordaliza and C. Matrán, "Trimmed
       k-means: an attempt to robustify quantizers", The Annals of Statistics
       25(2), 1997.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt import TransformerTrimmedKMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0],
    ...               [10.0, 10.0], [10.0, 11.0], [11.0, 10.0], [11.0, 11.0],
    ...               [100.0, -100.0], [50.0, 50.0]])
    >>> trimmed = TransformerTrimmedKMeans(n_clusters=2, trim_fraction=0.2,
    ...                                    random_state=0).fit(X)
    >>> trimmed.labels_[-2:]
    array([-1, -1], dtype=int32)
    >>> np.sort(trimmed.cluster_centers_, axis=0)
    array([[ 0.5,  0.5],
           [10.5, 10.5]])
    >>> trimmed.predict([[0.2, 0.3], [30.0, 30.0]]) == [trimmed.labels_[0], -1]
    array([ True,  True])
    """

    _parameter_constraints: dict = {
        **BaseTransformerKMeans._parameter_constraints,
        "trim_fraction": [Interval(Real, 0, 1, closed="left")],
        "algorithm": [StrOptions({"auto", "lloyd"})],
    }

    # A single seeding ends in a poor local optimum too often (two centroids
    # in one cluster); with outliers trimmed the restarts are cheap.
    _auto_n_init_plusplus = 5

    def __init__(
        self,
        n_clusters=8,
        *,
        trim_fraction=0.1,
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
        self.trim_fraction = trim_fraction
        self.algorithm = algorithm

    def _make_block(self):
        router = None if self.algorithm == "lloyd" else TokenRouter()
        return kmeans_block(gate=TrimmingGate(self.trim_fraction), router=router)

    def _predict(self, points, centers, exponent=0):
        block = self.network_.block
        labels = block.assign(points, centers)
        distances = np.sqrt(block.dissimilarities(points, centers, labels))
        # The radius is in the data's units, the tokens times 2**exponent.
        labels[np.ldexp(distances, -exponent) > self.radius_] = -1
        return labels
