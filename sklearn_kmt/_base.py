"""The estimator shared by every k-means transformer.

Validation, centring, tolerance, seeding and the best of ``n_init`` runs
happen here, once; everything below works on clean arrays. A variant says
which block it runs by overriding :meth:`_make_block`, and nothing else.
"""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import row_norms, safe_sparse_dot
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._network import Network
from ._tokens import PointTokens, summed_duplicates


def is_dask_array(X):
    """Whether X is a Dask array, told without importing Dask."""
    return type(X).__module__.startswith("dask.array")


def same_partition(labels, other_labels):
    """Whether two labelings are the same partition up to renaming the clusters."""
    pairs = np.unique(np.stack([labels, other_labels]), axis=1)
    return (
        np.unique(pairs[0]).size == pairs.shape[1]
        and np.unique(pairs[1]).size == pairs.shape[1]
    )


def greedy_plusplus(X, n_clusters, sample_weight, random_state, dissimilarity, gate):
    """Greedy k-means++ seeding with any dissimilarity, among the points a gate keeps.

    Each center is the best of ``2 + log(n_clusters)`` candidates, drawn with
    probability proportional to weight times dissimilarity to the nearest
    center chosen so far (squared Euclidean distance: k-means++; a metric:
    k-medoids++), where the gate, if any, first removes the farthest points,
    so that far outliers are never drawn; the best candidate is the one with
    the lowest (gated) potential. The first center is the best of candidates
    drawn by weight alone.

    Parameters
    ----------
    X : {ndarray, csr_matrix} of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : ndarray of shape (n_samples,)
    random_state : RandomState instance
    dissimilarity : callable
        ``dissimilarity(X, Y)`` gives the matrix of dissimilarities.
    gate : TrimmingGate or None

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    """
    n_samples = X.shape[0]
    n_trials = 2 + int(np.log(n_clusters))

    def gated(distances):
        if gate is None:
            return distances
        return np.where(gate.kept(distances, sample_weight), distances, 0.0)

    probability = sample_weight.astype(np.float64)
    chosen, nearest = [], None
    for _ in range(n_clusters):
        if probability.sum() <= 0:  # every kept point already is a center
            probability = sample_weight + (sample_weight.sum() == 0)
        candidates = random_state.choice(
            n_samples, size=n_trials, p=probability / probability.sum()
        )
        distances = dissimilarity(X, X[candidates])
        if nearest is not None:
            np.minimum(distances, nearest[:, None], out=distances)
        potentials = [sample_weight @ gated(column) for column in distances.T]
        best = int(np.argmin(potentials))
        chosen.append(candidates[best])
        nearest = distances[:, best]
        probability = sample_weight * gated(nearest)
    centers = X[chosen]
    return centers.toarray() if sp.issparse(centers) else centers


def check_magnitude(X, n_samples, input_name="X", centers=None):
    """Raise a ValueError when squared distances on X cannot be represented.

    The squared distances between the rows of X (and ``centers``), summed
    over ``n_samples`` samples as in the objective, must neither overflow nor
    underflow the floating type of X; the check bounds them by the largest
    magnitude among the values, before any work is done.
    """
    values = [X.data if sp.issparse(X) else X]
    if centers is not None:
        values.append(centers)
    # Two reductions rather than np.abs, which would copy the data.
    largest = max(
        (max(float(v.max()), -float(v.min())) for v in values if v.size), default=0.0
    )
    if largest == 0.0:
        return
    info = np.finfo(X.dtype)
    # Any squared distance is at most n_features * (2 * largest) ** 2.
    upper = float(np.sqrt(info.max / (4.0 * X.shape[1] * max(n_samples, 1))))
    lower = float(np.sqrt(info.tiny))
    if largest > upper:
        raise ValueError(
            f"{input_name} holds values of magnitude up to {largest:.3g}: the "
            f"squared distances between {n_samples} samples of {X.shape[1]} "
            f"features would overflow {X.dtype} beyond magnitude {upper:.3g}. "
            "Rescale the data, for instance with sklearn.preprocessing."
            "StandardScaler."
        )
    if largest < lower:
        raise ValueError(
            f"{input_name} holds values of magnitude at most {largest:.3g}: the "
            f"squared distances would underflow {X.dtype} below magnitude "
            f"{lower:.3g}. Rescale the data, for instance with "
            "sklearn.preprocessing.StandardScaler."
        )


class BaseTransformerKMeans(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
    """Base class of the k-means transformers; not for direct use."""

    # Consecutive layers without a centroid shift beyond tol before stopping.
    _patience = 1
    # Seedings run for n_init="auto" with a ++ seeding.
    _auto_n_init_plusplus = 1
    # Whether a fit that max_iter ends before the stopping rule holds warns
    # (KMeans does not; a sampled search that has not settled should).
    _warns_when_unconverged = False

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
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
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x

    @abstractmethod
    def _make_block(self):
        """The transformer layer this estimator loops (a ``Block``)."""

    # -- fitting ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering by running the transformer's forward pass.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances. Dense data is converted to C order (a copy when
            it is not C-contiguous float); a sparse matrix is converted to CSR.
            Dense float32 data that the layers do not centre (a normalised or
            a non-averaging variant) is computed on in float64; the results
            keep float32.
            A ``dask.array.Array`` chunked by rows is fitted blockwise on its
            Dask cluster, the data never gathered (not for k-medoids).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; None means equal weights. Not
            used by the seeding when ``init`` is a callable or an array.

        Returns
        -------
        self : object
            Fitted estimator.

        Raises
        ------
        ValueError
            Besides invalid parameters, shapes or values (NaN, infinity,
            text, negative or all-zero weights), when the magnitude of X is so
            large that squared distances overflow its floating type, or so
            small that they underflow: the data must then be rescaled.
        """
        # validate_data sets the feature attributes before any work; a fit
        # that does not finish (an error, KeyboardInterrupt, MemoryError)
        # restores them, so that a previous model stays whole and usable.
        feature_attributes = ("n_features_in_", "feature_names_in_")
        previous = {
            name: vars(self)[name] for name in feature_attributes if name in vars(self)
        }
        try:
            if is_dask_array(X):
                from ._dask import fit

                return fit(self, X, sample_weight)
            return self._fit(X, sample_weight)
        except BaseException:
            for name in feature_attributes:
                vars(self).pop(name, None)
            vars(self).update(previous)
            raise

    def _fit(self, X, sample_weight):
        block = self._make_block()
        # Centring makes the expanded distances of a mean update more
        # accurate; it needs a translation-invariant score and no
        # normalisation, and would only blur centroids that are data points.
        # It is the only change made to the data (sparse data is never
        # changed), so only a centred fit copies it.
        centring = (
            block.normalisation is None
            and block.assign_attention.score.translation_invariant
            and block.update_attention.averages
            and not sp.issparse(X)
        )
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            copy=self.copy_x and centring,
            accept_large_sparse=True,
        )
        X = summed_duplicates(X)
        n_samples = X.shape[0]
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        if block.gate is not None:
            block.gate.check_enough_kept(sample_weight, self.n_clusters)
        init = self.init
        if self._init_is_array():
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._check_center_shape(X, init)
        check_magnitude(X, n_samples, centers=init if self._init_is_array() else None)
        n_init = self._resolve_n_init()
        random_state = check_random_state(self.random_state)

        data_mean = None
        input_dtype = X.dtype
        if X.dtype == np.float32 and not centring and not sp.issparse(X):
            # Uncentred, the expanded distances of float32 data far from the
            # origin lose their digits; float64 keeps them, and centers cast
            # back exactly where they are data points.
            X = X.astype(np.float64)
            sample_weight = sample_weight.astype(np.float64)
            if self._init_is_array():
                init = init.astype(np.float64)
        seeding_data, seeding_weight = X, sample_weight
        if block.normalisation is not None:
            # Seeding and the tolerance see the data as the first layer does;
            # a token the normalisation zeroes has no direction to seed.
            normalised = block.normalisation.points(PointTokens(X, sample_weight))
            seeding_data = normalised.chunk(slice(None))
            if np.any(sample_weight * normalised.scale > 0):
                seeding_weight = sample_weight * (normalised.scale > 0)
        tol = self._scaled_tolerance(seeding_data, sample_weight, block.gate)
        if centring:
            data_mean = X.mean(axis=0)
            X -= data_mean
            if self._init_is_array():
                init -= data_mean
        try:
            network = Network(
                block,
                self.max_iter,
                tol,
                self.verbose,
                self._patience,
                n_features=X.shape[1],
                n_clusters=self.n_clusters,
            )
            if block.normalisation is None:
                points = PointTokens(X, sample_weight)
            else:  # the layers' normalisation, computed once for the seeding
                points = PointTokens(seeding_data, sample_weight, normalised=True)
            output, init_centers = self._best_of_runs(
                network,
                points,
                seeding_data,
                seeding_weight,
                init,
                n_init,
                random_state,
            )
            report = block.report(
                points,
                output.centers,
                output.labels,
                dissimilarities=output.dissimilarities,
            )
        finally:
            if data_mean is not None and not self.copy_x:
                X += data_mean
        centers = output.centers
        if data_mean is not None:
            centers = centers + data_mean
            init_centers = init_centers + data_mean
        centers = centers.astype(input_dtype, copy=False)
        init_centers = init_centers.astype(input_dtype, copy=False)

        assigned = output.labels[output.labels >= 0]
        n_distinct = np.count_nonzero(np.bincount(assigned, minlength=1))
        return self._set_fitted(
            network, output, centers, init_centers, data_mean, report, n_distinct
        )

    def _set_fitted(
        self, network, output, centers, init_centers, data_mean, report, n_distinct
    ):
        """Warn when fewer clusters than asked hold points; set the fitted attributes.

        Shared by the in-memory and the Dask fit. ``centers`` and
        ``init_centers`` are in the caller's coordinates (``data_mean`` added
        back), ``report`` is :meth:`Block.report`'s.
        """
        # Soft slots merge centroids by design at small beta; only hard
        # assignments point to duplicated samples.
        if (
            n_distinct < self.n_clusters
            and network.block.assign_attention.normalisation.one_hot
        ):
            warnings.warn(
                f"Number of distinct clusters ({n_distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=5,  # the caller of fit
            )
        if self._warns_when_unconverged and not output.converged:
            warnings.warn(
                "Maximum number of iteration reached before convergence. "
                "Consider increasing max_iter to improve the fit.",
                ConvergenceWarning,
                stacklevel=5,
            )
        self.network_ = network
        self.cluster_centers_ = centers
        self._n_features_out = centers.shape[0]
        self.labels_ = output.labels
        self.n_iter_ = output.n_layers
        self.init_centers_ = init_centers
        self._data_mean = data_mean
        for name, value in report.items():
            setattr(self, f"{name}_", value)
        return self

    def _best_of_runs(
        self, network, points, seeding_data, seeding_weight, init, n_init, random_state
    ):
        """Run the network from ``n_init`` seedings; keep the lowest objective."""
        squared_norms = None
        if isinstance(init, str) and init == "k-means++":
            squared_norms = row_norms(seeding_data, squared=True)
        best, best_objective = None, None
        for _ in range(n_init):
            centers = self._initial_centers(
                seeding_data,
                squared_norms,
                seeding_weight,
                init,
                random_state,
                network.block,
            )
            if self.verbose:
                print("Initialization complete")
            output = network(points, centers)
            if best is None:
                best, best_init = output, centers
            if n_init == 1:
                break  # the objective is only computed once, for the report
            objective = network.block.objective(
                points, output.centers, output.labels, output.dissimilarities
            )
            # A lower objective with the same partition is only rounding.
            if best_objective is None or (
                objective < best_objective
                and not same_partition(output.labels, best.labels)
            ):
                best, best_objective, best_init = output, objective, centers
        network.sampling_state = best.sampling_state
        return best, best_init

    def _initial_centers(
        self, X, squared_norms, sample_weight, init, random_state, block
    ):
        """Seed the centroid tokens, drawing from ``random_state``.

        "k-means++" is scikit-learn's, unless the block has a gate or ranks by
        another dissimilarity ("k-medoids++"): then the greedy seeding of
        :func:`greedy_plusplus` draws with the block's dissimilarity among the
        points its gate keeps.
        """
        plain = block.gate is None and init == "k-means++"
        if isinstance(init, str) and init.endswith("++") and not plain:
            centers = greedy_plusplus(
                X,
                self.n_clusters,
                sample_weight,
                random_state,
                block.assign_attention.score.pairwise,
                block.gate,
            )
        elif isinstance(init, str) and init == "k-means++":
            centers, _ = kmeans_plusplus(
                X,
                self.n_clusters,
                sample_weight=sample_weight,
                x_squared_norms=squared_norms,
                random_state=random_state,
            )
        elif isinstance(init, str) and init == "random":
            centers = X[self._random_seeds(sample_weight, random_state)]
        elif callable(init):
            centers = init(X, self.n_clusters, random_state=random_state)
            centers = check_array(
                centers, dtype=X.dtype, copy=True, order="C", input_name="init"
            )
            self._check_center_shape(X, centers)
        else:
            centers = init
        if sp.issparse(centers):
            centers = centers.toarray()
        return np.ascontiguousarray(centers, dtype=X.dtype)

    def _random_seeds(self, sample_weight, random_state):
        """``n_clusters`` distinct samples drawn with probability proportional
        to their weight, as KMeans draws them.

        When fewer samples than clusters have weight (behind a normalisation:
        a direction), all of them are seeds, and the others are drawn
        uniformly among the rest, where KMeans would fail.
        """
        probability = sample_weight / sample_weight.sum()
        drawable = np.flatnonzero(probability > 0)
        if drawable.size >= self.n_clusters:
            return random_state.choice(
                sample_weight.shape[0],
                size=self.n_clusters,
                replace=False,
                p=probability,
            )
        rest = random_state.choice(
            np.flatnonzero(probability == 0),
            size=self.n_clusters - drawable.size,
            replace=False,
        )
        return np.concatenate([drawable, rest])

    def _init_is_array(self):
        return not (isinstance(self.init, str) or callable(self.init))

    def _resolve_n_init(self):
        if self.n_init != "auto":
            n_init = self.n_init
        elif callable(self.init) or (
            isinstance(self.init, str) and self.init == "random"
        ):
            n_init = 10
        elif isinstance(self.init, str):
            n_init = self._auto_n_init_plusplus
        else:
            n_init = 1
        if self._init_is_array() and n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one "
                f"init in {type(self).__name__} instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=5,
            )
            n_init = 1
        return n_init

    def _scaled_tolerance(self, X, sample_weight, gate=None):
        """``tol`` times the mean variance of the features, as in scikit-learn.

        Behind a gate, the variance is that of the points the gate keeps
        around the data mean, so that outliers do not loosen the tolerance.
        """
        if self.tol == 0:
            return 0.0
        if gate is not None:
            mean = np.asarray(X.mean(axis=0)).ravel()
            distances = row_norms(X, squared=True) - 2 * safe_sparse_dot(X, mean)
            X = X[gate.kept(distances, sample_weight)]
        if sp.issparse(X):
            variances = mean_variance_axis(X, axis=0)[1]
        else:
            variances = np.var(X, axis=0)
        return float(np.mean(variances) * self.tol)

    def _check_center_shape(self, X, centers):
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of features of the data {X.shape[1]}."
            )

    # -- using the fitted model ----------------------------------------------------

    def _validate_test_data(self, X):
        """Validated X and the centers, in the dtype of the computation, and
        the floating dtype of the results (the common one of X and centers)."""
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            reset=False,
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=True,
        )
        X = summed_duplicates(X)
        dtype = result_dtype = np.result_type(X.dtype, self.cluster_centers_.dtype)
        data_mean = getattr(self, "_data_mean", None)
        if dtype == np.float32 and data_mean is None and not sp.issparse(X):
            dtype = np.float64  # as in fit: uncentred float32 loses digits
        X = X.astype(dtype, copy=False)
        centers = self.cluster_centers_.astype(dtype, copy=False)
        # Each sample is scored alone: the batch size does not matter here.
        check_magnitude(X, 1, centers=centers)
        if data_mean is not None and not sp.issparse(X):
            # The layers ran on data centred on its mean, where the expanded
            # distances lose no digits to a large offset; so does prediction.
            X = X - data_mean.astype(dtype)
            centers = centers - data_mean.astype(dtype)
        return X, centers, result_dtype

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the cluster index of each training sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Index of the nearest centroid of each sample: the assignment attention.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to (a Dask array when X
            is one).
        """
        if is_dask_array(X):
            from ._dask import predict

            return predict(self, X)
        X, centers, result_dtype = self._validate_test_data(X)
        return self._predict(PointTokens(X, np.ones(X.shape[0], X.dtype)), centers)

    def _predict(self, points, centers):
        return self.network_.block.assign(points, centers)

    def transform(self, X):
        """Distances of each sample to every centroid.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
            Distance to each centroid, in the metric of the assignment attention
            (a Dask array when X is one).
        """
        if is_dask_array(X):
            from ._dask import transform

            return transform(self, X)
        X, centers, result_dtype = self._validate_test_data(X)
        distances = self.network_.block.assign_attention.score.distances(X, centers)
        return distances.astype(result_dtype, copy=False)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of each training sample to the centroids.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the objective of X under the fitted centroids.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample.

        Returns
        -------
        score : float
            Minus the weighted sum of squared distances to the nearest centroid.
        """
        if is_dask_array(X):
            from ._dask import score

            return score(self, X, sample_weight)
        X, centers, result_dtype = self._validate_test_data(X)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        points = PointTokens(X, sample_weight)
        labels = self._predict(points, centers)
        return -self.network_.block.objective(points, centers, labels)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
