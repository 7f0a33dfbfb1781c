"""The estimator shared by every k-means transformer.

Validation, centring, tolerance, seeding and the best of ``n_init`` runs
happen here, once; everything below works on clean arrays. A variant says
which block it runs by overriding :meth:`_make_block`, and nothing else.
"""

import math
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real
from typing import NamedTuple

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

from ._components import pairwise_against
from ._network import Network
from ._streams import InMemoryStream, same_partition, single_threaded_blas
from ._tokens import (
    PointTokens,
    largest_magnitude,
    summed_duplicates,
    times_power_of_two,
    with_32bit_indices,
)


def is_dask_array(X):
    """Whether X is a Dask array, told without importing Dask."""
    return type(X).__module__.startswith("dask.array")


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
    indices : ndarray of shape (n_clusters,)
        The rows of ``X`` that are the centers.
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
    return (centers.toarray() if sp.issparse(centers) else centers), np.array(chosen)


def scale_exponent(largest_data, largest, dtype, n_features, total_weight):
    """The exponent ``e`` such that the data times ``2**e`` keep every digit
    of their squared distances in ``dtype``; 0 when they already do.

    k-means is equivariant under scaling, and multiplying by a power of two
    is exact, so the layers can run on scaled tokens and give the labels of
    the data as it is, and centers, inertia and distances that scale back
    exactly. The squared distances, summed with weights totalling
    ``total_weight`` as in the objective, must not overflow: every value at
    most ``sqrt(max / (8 n_features total_weight))``; and the square of the
    data's largest value must be a normal number with room for its digits:
    at least ``sqrt(tiny / eps)``. When both hold nothing is scaled (the
    arithmetic is then exactly that of scikit-learn's KMeans); otherwise
    the data's largest value is brought into [1, 2), or as near to it as the
    largest value of all (``largest``, which counts the initial centers)
    allows.

    Parameters
    ----------
    largest_data : float
        The largest magnitude of the data (0 for all zeros).
    largest : float
        The largest magnitude of the data and of any centers that will be
        scored against it.
    dtype : dtype
        The floating type of the computation.
    n_features : int
    total_weight : float

    Returns
    -------
    exponent : int or None
        None when no power of two fits both bounds: ``largest`` is too far
        from ``largest_data``.
    """
    info = np.finfo(dtype)
    upper = np.sqrt(float(info.max) / (8.0 * max(n_features, 1) * max(total_weight, 1)))
    lower = np.sqrt(float(info.tiny) / float(info.eps))
    if (largest_data == 0 or largest_data >= lower) and largest <= upper:
        return 0
    if largest == 0:
        return 0
    # Exponents keeping the largest value below the upper bound, and the
    # data's largest value above the lower one.
    highest = math.floor(math.log2(upper) - math.log2(largest))
    lowest = -math.inf
    target = 0
    if largest_data > 0:
        lowest = math.ceil(math.log2(lower) - math.log2(largest_data))
        target = 1 - math.frexp(largest_data)[1]  # largest_data * 2**target in [1, 2)
    if lowest > highest:
        return None
    return int(min(max(target, lowest), highest))


def weight_exponent(total, largest, dtype):
    """The exponent ``e`` such that weights of sum ``total`` (in float64,
    infinite if it overflows) and largest value ``largest`` times ``2**e`` sum
    to a finite number in ``dtype`` and keep their digits in products; 0 when
    they do.

    A common factor of every weight changes no label and no center (each is
    a weighted mean); sums over the weights scale back exactly.
    """
    info = np.finfo(dtype)
    if math.isfinite(total) and total <= float(info.max) / 4:
        if largest >= float(info.tiny) / float(info.eps):
            return 0
    return 1 - math.frexp(largest)[1]  # the largest weight in [1, 2)


class TestData(NamedTuple):
    """Test data as the layers score it (see ``_validate_test_data``)."""

    points: PointTokens
    centers: np.ndarray
    result_dtype: np.dtype
    exponent: int
    weight_exponent: int


class InMemoryData:
    """The data of a fit held in memory (a NumPy array or a CSR matrix), as
    the fit reads it; ``sklearn_kmt._dask.DaskData`` is the same for a Dask
    array.

    Parameters
    ----------
    X : {ndarray, csr_matrix} of shape (n_samples, n_features)
        Validated.

    Attributes
    ----------
    X : {ndarray, csr_matrix}
        The argument given.
    """

    def __init__(self, X):
        self.X = X
        self._normalised = None

    @classmethod
    def validated(cls, estimator, X, copy, block, reset=True):
        """X checked and converted as the layers of ``block`` read it
        (``n_features_in_`` set, or checked when not ``reset``); copied when
        ``copy``."""
        X = validate_data(
            estimator,
            X,
            accept_sparse="csr",
            reset=reset,
            dtype=[np.float64, np.float32],
            order="C",
            copy=copy,
            accept_large_sparse=True,
        )
        X = summed_duplicates(X)
        if not block.takes_64bit_sparse_indices:
            X = with_32bit_indices(X)
        return cls(X)

    @property
    def shape(self):
        return self.X.shape

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def is_sparse(self):
        return sp.issparse(self.X)

    def sample_weight(self, sample_weight):
        """Validated non-negative weights, in float64."""
        return _check_sample_weight(
            sample_weight, self.X, dtype=np.float64, ensure_non_negative=True
        )

    @staticmethod
    def weight_totals(sample_weight):
        """The sum of the weights in float64 (infinite when it overflows) and
        the largest weight."""
        with np.errstate(over="ignore"):
            total = float(np.sum(sample_weight, dtype=np.float64))
        return total, float(np.max(sample_weight, initial=0.0))

    @staticmethod
    def gathered(values):
        """Values held per sample, as an array in memory."""
        return values

    def astype(self, dtype):
        return InMemoryData(self.X.astype(dtype, copy=False))

    def largest_magnitude(self):
        return largest_magnitude(self.X)

    def mean(self):
        return self.X.mean(axis=0)

    def centred(self, mean):
        """The data less ``mean``, in place: the data is the fit's own copy,
        or the caller's array with ``copy_x=False`` (see :meth:`restore`)."""
        self.X -= mean
        return self

    def restore(self, user_data, mean):
        """Add ``mean`` back to the caller's array, if this is it."""
        if self.X is user_data.X:
            self.X += mean

    def times_power_of_two(self, exponent):
        return InMemoryData(times_power_of_two(self.X, exponent))

    def rows(self, indices):
        """Some samples, as a dense array."""
        return PointTokens(self.X, None).dense_rows(indices)

    def _points(self, sample_weight, normalisation):
        """The point tokens behind ``normalisation`` (computed once) and the
        normalisation's factor of each."""
        if self._normalised is None:
            normalised = normalisation.points(PointTokens(self.X, sample_weight))
            self._normalised = (normalised.chunk(slice(None)), normalised.scale)
        data, scale = self._normalised
        points = PointTokens(data, sample_weight, normalised=True)
        return points, scale

    def seeding(self, sample_weight, normalisation, n_clusters, random_state):
        """The rows and weights a seeding draws from: all the samples, seen
        through the normalisation (if any) as the first layer sees them; a
        token the normalisation zeroes has no direction to seed. Draws
        nothing from ``random_state``."""
        if normalisation is None:
            return self.X, sample_weight
        points, scale = self._points(sample_weight, normalisation)
        if np.any(sample_weight * scale > 0):
            sample_weight = sample_weight * (scale > 0)
        return points.data, sample_weight

    def tolerance(self, tol, sample_weight, block):
        """``tol`` times the mean variance of the features, as in scikit-learn.

        The variance is that of the data as the first layer sees it; behind
        a gate, that of the points the gate keeps around the data mean, so
        that outliers do not loosen the tolerance.
        """
        if tol == 0:
            return 0.0
        X = self.X
        if block.normalisation is not None:
            X = self._points(sample_weight, block.normalisation)[0].data
        if block.gate is not None:
            mean = np.asarray(X.mean(axis=0)).ravel()
            distances = row_norms(X, squared=True) - 2 * safe_sparse_dot(X, mean)
            X = X[block.gate.kept(distances, sample_weight)]
        if sp.issparse(X):
            variances = mean_variance_axis(X, axis=0)[1]
        else:
            variances = np.var(X, axis=0)
        return float(np.mean(variances) * tol)

    def stream(self, sample_weight, block, largest_value):
        """The point stream the layers of ``block`` read."""
        if block.normalisation is None:
            points = PointTokens(self.X, sample_weight, largest_value=largest_value)
        else:  # the layers' normalisation, computed once for the seeding
            points = self._points(sample_weight, block.normalisation)[0]
        return InMemoryStream(points)

    @staticmethod
    def objective(block, stream, output):
        """The objective of a run's final state."""
        return block.objective(
            stream.points, output.centers, output.labels, output.dissimilarities
        )

    same_partition = staticmethod(same_partition)

    @staticmethod
    def report(block, stream, output):
        """:meth:`Block.report` of a run's final state, and the number of
        centroids that hold a point."""
        report = block.report(
            stream.points,
            output.centers,
            output.labels,
            dissimilarities=output.dissimilarities,
        )
        assigned = output.labels[output.labels >= 0]
        return report, int(np.count_nonzero(np.bincount(assigned, minlength=1)))


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
            it is not C-contiguous float); a sparse matrix is converted to CSR,
            and copied into canonical format (sorted indices, duplicate entries
            summed) when it is not in it.
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
            For invalid parameters, shapes or values (NaN, infinity, text,
            negative or all-zero weights), and when an ``init`` array lies so
            far from the data that no common scale makes their squared
            distances computable.

        Notes
        -----
        Data at any magnitude is fitted: where the squared distances of the
        data (centred when the layers centre it), summed over the samples,
        would overflow the floating type or lose their digits, the layers
        run on the data times a power of two (an exact scaling) and the
        results are scaled back; weights whose total overflows are scaled
        likewise. The labels are then those of the well-scaled data. Data
        within range is not scaled, and is computed on exactly as
        scikit-learn's KMeans computes on it.
        """
        # validate_data sets the feature attributes before any work; a fit
        # that does not finish (an error, KeyboardInterrupt, MemoryError)
        # restores them, so that a previous model stays whole and usable.
        feature_attributes = ("n_features_in_", "feature_names_in_")
        previous = {
            name: vars(self)[name] for name in feature_attributes if name in vars(self)
        }
        try:
            return self._fit(X, sample_weight)
        except BaseException:
            for name in feature_attributes:
                vars(self).pop(name, None)
            vars(self).update(previous)
            raise

    def _fit(self, X, sample_weight):
        block = self._make_block()
        sampler = None
        if not block.update_attention.deterministic:
            # A sampling update draws from a stream of its own, seeded from
            # random_state before the seeding draws from it.
            seed = check_random_state(self.random_state).randint(2**31 - 1)
            sampler = check_random_state(seed)
        if is_dask_array(X):
            from ._dask import DaskData as Data
        else:
            Data = InMemoryData
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
        data = Data.validated(self, X, self.copy_x and centring, block)
        # A data frame of sparse columns is sparse once validated.
        centring = centring and not data.is_sparse
        n_samples, n_features = data.shape
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        input_dtype = data.dtype
        # The floating type of the layers: uncentred, the expanded distances
        # of float32 data far from the origin lose their digits; float64
        # keeps them, and centers cast back exactly where they are data
        # points.
        dtype = data.dtype
        if dtype == np.float32 and not centring and not data.is_sparse:
            dtype = np.dtype(np.float64)
        # Weights and initial centers are read in float64 and scaled by a
        # power of two where their magnitude needs it (see scale_exponent);
        # otherwise they are cast to X's type as KMeans casts them.
        sample_weight = data.sample_weight(sample_weight)
        weight_shift = weight_exponent(*data.weight_totals(sample_weight), data.dtype)
        sample_weight = np.ldexp(sample_weight, weight_shift).astype(data.dtype)
        sample_weight = sample_weight.astype(dtype, copy=False)
        if block.gate is not None:
            block.gate.check_enough_kept(data.gathered(sample_weight), self.n_clusters)
        init = self.init
        if self._init_is_array():
            init = check_array(
                init, dtype=np.float64, copy=True, order="C", input_name="init"
            )
            self._check_center_shape(data, init)
            with np.errstate(over="ignore"):
                cast = init.astype(data.dtype)
            if np.all(np.isfinite(cast)):  # else scaled with the data first
                init = cast
        n_init = self._resolve_n_init()
        random_state = check_random_state(self.random_state)

        user_data = data
        # The init as given: _embedded centres and scales ``init`` in place.
        given_init = init.copy() if self._init_is_array() else None
        data = data.astype(dtype)
        data, init, data_mean, data_shift, largest_value = self._embedded(
            data, init, sample_weight, centring
        )
        # The layers see the data scaled; behind a normalisation, on the unit
        # sphere whatever its scale.
        token_shift = data_shift if block.normalisation is None else 0
        if self._init_is_array():
            init = self._cast_centers(init, dtype)
        try:
            # Seeding and the tolerance see the data as the first layer does.
            seeding_data, seeding_weight = data.seeding(
                sample_weight,
                block.normalisation,
                self.n_clusters,
                None if self._init_is_array() else random_state,
            )
            network = Network(
                block,
                self.max_iter,
                data.tolerance(self.tol, sample_weight, block),
                self.verbose,
                self._patience,
                n_features=n_features,
                n_clusters=self.n_clusters,
                scale_exponent=data_shift,
                weight_exponent=weight_shift,
                random_state=sampler,
                data_offset=data_mean,
            )
            stream = data.stream(sample_weight, network.scaled_block, largest_value)
            output, init_centers, init_rows = self._best_of_runs(
                network,
                data,
                stream,
                seeding_data,
                seeding_weight,
                init,
                n_init,
                random_state,
            )
            report, n_distinct = data.report(network.scaled_block, stream, output)
            report.update(network.scaled_block.point_report(stream, output.centers))
        finally:
            if data_mean is not None and not self.copy_x:
                data.restore(user_data, data_mean)
        report = network.scaled_block.report_in_data_units(
            report, token_shift, weight_shift
        )
        # Seeds that are samples, or given, are reported as such rather than
        # through the centring and back, which may round them: the replay
        # from them (Network.forward) then starts where the layers started.
        if given_init is not None:
            init_centers = given_init
        elif (
            data_mean is not None
            and init_rows is not None
            and seeding_data is getattr(data, "X", None)  # rows of the data
        ):
            # The caller's rows: the layers' data is a centred copy (an
            # array is read as it is; a list or a data frame is converted
            # again, for its rows).
            init_centers = check_array(np.asarray(X)[init_rows], dtype=input_dtype)
        else:
            if data_mean is not None:
                init_centers = init_centers + data_mean
            init_centers = times_power_of_two(init_centers, -data_shift)
        centers = output.centers
        if data_mean is not None:
            # Added at the scale of the layers, then scaled back once.
            centers = centers + data_mean
            data_mean = times_power_of_two(data_mean, -data_shift)
        centers = times_power_of_two(centers, -token_shift)
        if "medoid_indices" in report:
            # Rows of the data as given, whatever the scaling rounded away.
            centers = user_data.rows(report["medoid_indices"])
        centers = centers.astype(input_dtype, copy=False)
        with np.errstate(over="ignore"):
            cast = init_centers.astype(input_dtype, copy=False)
        # An init beyond the range of float32 data (the layers scaled both)
        # is kept in float64.
        init_centers = cast if np.all(np.isfinite(cast)) else init_centers
        return self._set_fitted(
            network, output, centers, init_centers, data_mean, report, n_distinct
        )

    def _embedded(self, data, init, sample_weight, centring):
        """The data and initial centers as the layers see them: centred on the
        data mean (when ``centring``) and scaled by a power of two where their
        magnitude needs it (:func:`scale_exponent`).

        Returns the data, ``init``, the data mean at the scale of the layers
        (None when not centred), the exponent of the scale and the largest
        magnitude of the returned data. Scaled data is new; the caller's
        array, centred in place when ``copy_x=False``, is then restored at
        once.
        """
        n_samples, n_features = data.shape
        total_weight, _ = data.weight_totals(sample_weight)
        given = data
        centers = init if self._init_is_array() else None
        first_shift = 0
        data_mean = None
        largest_given = None
        if centring:
            # The mean must neither overflow nor lose the digits of subnormal
            # values: where it would, the data are brought near 1 first.
            largest = largest_given = data.largest_magnitude()
            info = np.finfo(data.dtype)
            if largest * n_samples > float(info.max) / 4 or (
                0 < largest < float(info.tiny) / float(info.eps)
            ):
                first_shift = 1 - math.frexp(largest)[1]
                data = data.times_power_of_two(first_shift)
                if centers is not None:
                    with np.errstate(over="ignore"):
                        centers = np.ldexp(centers, first_shift)
                    if not np.all(np.isfinite(centers)):
                        raise self._too_far_error(init, largest, data.dtype)
            data_mean = data.mean()
            data = data.centred(data_mean)
            if centers is not None:
                centers -= data_mean
        largest_data = data.largest_magnitude()
        largest = largest_data
        if centers is not None:
            largest = max(largest, largest_magnitude(centers))
        shift = scale_exponent(
            largest_data, largest, data.dtype, n_features, total_weight
        )
        # The caller's array, centred in place, is given back as soon as
        # the layers will not read it: on failure, or once scaled anew.
        centred_in_place = centring and data is given and not self.copy_x
        if shift is None:
            if centred_in_place:
                given.restore(given, data_mean)
            if largest_given is None:
                largest_given = math.ldexp(largest_data, -first_shift)
            raise self._too_far_error(init, largest_given, data.dtype)
        if shift:
            scaled = data.times_power_of_two(shift)
            if centred_in_place:
                given.restore(given, data_mean)
            data = scaled
            if centers is not None:
                centers = np.ldexp(centers, shift)
        if data_mean is not None:
            data_mean = times_power_of_two(data_mean, shift)
        centers = init if centers is None else centers
        largest_data = math.ldexp(largest_data, shift)
        return data, centers, data_mean, first_shift + shift, largest_data

    @staticmethod
    def _too_far_error(init, largest_data, dtype):
        return ValueError(
            f"init holds values of magnitude up to {largest_magnitude(init):.3g}, "
            f"too far from the data's {largest_data:.3g} for squared distances "
            f"between them to be computed in {dtype}: no common scaling fits both."
        )

    def _cast_centers(self, centers, dtype):
        """Initial centers in the floating type of the layers."""
        cast = centers.astype(dtype)
        if not np.all(np.isfinite(cast)):
            raise ValueError(
                f"init holds values of magnitude up to {largest_magnitude(centers):.3g}"
                f", beyond {dtype} even after scaling with the data."
            )
        return cast

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
            and network.block.assign_attention.normaliser.one_hot
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
        self,
        network,
        data,
        stream,
        seeding_data,
        seeding_weight,
        init,
        n_init,
        random_state,
    ):
        """Run the network from ``n_init`` seedings; keep the lowest objective.

        Returns the kept run's output, its initial centroids and, when they
        are samples of ``seeding_data``, their indices (else None).
        """
        squared_norms = None
        if isinstance(init, str) and init == "k-means++":
            squared_norms = row_norms(seeding_data, squared=True)
        best, best_objective = None, None
        for _ in range(n_init):
            centers, rows = self._initial_centers(
                seeding_data,
                squared_norms,
                seeding_weight,
                init,
                random_state,
                network.block,
            )
            if self.verbose:
                print("Initialization complete")
            output = network(stream, centers)
            if best is None:
                best, best_init, best_rows = output, centers, rows
            if n_init == 1:
                break  # the objective is only computed once, for the report
            objective = data.objective(network.scaled_block, stream, output)
            # A lower objective with the same partition is only rounding.
            if best_objective is None or (
                objective < best_objective
                and not data.same_partition(output.labels, best.labels)
            ):
                best, best_objective = output, objective
                best_init, best_rows = centers, rows
        network.sampling_state = best.sampling_state
        return best, best_init, best_rows

    def _initial_centers(
        self, X, squared_norms, sample_weight, init, random_state, block
    ):
        """Seed the centroid tokens, drawing from ``random_state``.

        "k-means++" is scikit-learn's, unless the block has a gate or ranks by
        another dissimilarity ("k-medoids++"): then the greedy seeding of
        :func:`greedy_plusplus` draws with the block's dissimilarity among the
        points its gate keeps. Returns the centers and, when they are rows
        of ``X``, their indices (else None).
        """
        rows = None
        plain = block.gate is None and init == "k-means++"
        if isinstance(init, str) and init.endswith("++") and not plain:
            # Its products, of the data with a few candidates, are too thin
            # for BLAS threads, which then spin between them on the cores
            # the seeding needs.
            with single_threaded_blas():
                centers, rows = greedy_plusplus(
                    X,
                    self.n_clusters,
                    sample_weight,
                    random_state,
                    pairwise_against(block.assign_attention.score, X),
                    block.gate,
                )
        elif isinstance(init, str) and init == "k-means++":
            centers, rows = kmeans_plusplus(
                X,
                self.n_clusters,
                sample_weight=sample_weight,
                x_squared_norms=squared_norms,
                random_state=random_state,
            )
        elif isinstance(init, str) and init == "random":
            rows = self._random_seeds(sample_weight, random_state)
            centers = X[rows]
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
        return np.ascontiguousarray(centers, dtype=X.dtype), rows

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

    def _validate_test_data(self, X, sample_weight=None):
        """Point tokens of X and the centers, as the layers score them.

        X and the centers are in the dtype of the computation, centred as in
        fit, and scaled alike by a power of two where their magnitude needs
        it (the weights by another); each sample is scored alone, so their
        number does not matter.

        Returns
        -------
        data : TestData
        """
        check_is_fitted(self)
        X = InMemoryData.validated(self, X, False, self.network_.block, reset=False).X
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        dtype = result_dtype = np.result_type(X.dtype, self.cluster_centers_.dtype)
        data_mean = getattr(self, "_data_mean", None)
        if dtype == np.float32 and data_mean is None and not sp.issparse(X):
            dtype = np.float64  # as in fit: uncentred float32 loses digits
        X = X.astype(dtype, copy=False)
        centers = self.cluster_centers_.astype(dtype, copy=False)
        if data_mean is not None and not sp.issparse(X):
            # The layers ran on data centred on its mean, where the expanded
            # distances lose no digits to a large offset; so does prediction.
            X = X - data_mean.astype(dtype)
            centers = centers - data_mean.astype(dtype)
        weight_shift = weight_exponent(
            *InMemoryData.weight_totals(sample_weight), dtype
        )
        sample_weight = np.ldexp(sample_weight, weight_shift).astype(dtype)
        # Behind a normalisation only the data's scale counts: the tokens,
        # centroids included, are then on the unit sphere.
        normalised = self.network_.block.normalisation is not None
        largest_data = largest = largest_magnitude(X)
        if not normalised:
            largest = max(largest, largest_magnitude(centers))
        total_weight = float(np.sum(sample_weight, dtype=np.float64))
        exponent = scale_exponent(largest, largest, dtype, X.shape[1], total_weight)
        X = times_power_of_two(X, exponent)
        if not normalised:
            centers = times_power_of_two(centers, exponent)
        points = PointTokens(
            X, sample_weight, largest_value=math.ldexp(largest_data, exponent)
        )
        return TestData(points, centers, result_dtype, exponent, weight_shift)

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
        data = self._validate_test_data(X)
        return self._predict(data.points, data.centers, data.exponent)

    def _predict(self, points, centers, exponent=0):
        """The labels of point tokens whose data part is times ``2**exponent``."""
        return self.network_.block.rescaled(exponent).assign(points, centers)

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
        data = self._validate_test_data(X)
        score = self.network_.block.assign_attention.score
        distances = score.distances(data.points.data, data.centers)
        distances = times_power_of_two(
            distances, -data.exponent * score.distance_degree
        )
        return distances.astype(data.result_dtype, copy=False)

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
        data = self._validate_test_data(X, sample_weight)
        labels = self._predict(data.points, data.centers, data.exponent)
        block = self.network_.block.rescaled(data.exponent)
        objective = block.objective(data.points, data.centers, labels)
        report = block.report_in_data_units(
            {"inertia": objective}, data.exponent, data.weight_exponent
        )
        return -report["inertia"]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
