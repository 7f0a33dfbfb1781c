"""The forward pass on a Dask array: blockwise layers, one reduction each.

A layer of the k-means transformer is a map and a reduce: the assignment
attention reads each point token on its own, and the update attention only
needs, per centroid, the weighted sum and the total weight of the points that
name it. On a Dask array chunked by rows, each block of point tokens is
assigned where it lives and reduced to those partial statistics, which a tree
of tasks adds up; the centroids, small, come back to the caller and go out
again with the next layer. The data is never gathered.

This module is imported only when ``fit``, ``predict``, ``transform`` or
``score`` receives a ``dask.array.Array``: the core install does not need
Dask.
"""

import copy
import functools
import operator

import dask
import dask.array as da
import numpy as np
from dask import delayed
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, validate_data

from ._routing import largest_norm_of
from ._streams import (
    InMemoryStream,
    PointStream,
    budget_chunk_n_rows,
    routing_sample_step,
    same_partition,
    squared_norms_of,
)
from ._tokens import PointTokens, largest_magnitude, times_power_of_two

# The k-means++ seeding of a Dask array runs on a uniform sample of rows of
# this size (at most the whole data).
SEEDING_SAMPLE_MIN = 10_000
SEEDING_SAMPLE_PER_CLUSTER = 100

# Partial results combined by one task of a tree reduction.
REDUCTION_ARITY = 8


def tree_reduce(nodes, combine):
    """Combine delayed results in a tree of tasks, ``REDUCTION_ARITY`` at a time.

    The order of the operands is fixed (block order), so the result does not
    depend on which worker finishes first.
    """
    while len(nodes) > 1:
        nodes = [
            delayed(combine)(*nodes[start : start + REDUCTION_ARITY])
            for start in range(0, len(nodes), REDUCTION_ARITY)
        ]
    return nodes[0]


class DaskPoints:
    """Point tokens whose data part is a Dask array chunked by rows.

    Parameters
    ----------
    data : dask.array.Array of shape (n_samples, n_features)
        One chunk along the features; NumPy blocks.
    sample_weight : dask.array.Array of shape (n_samples,)
        Chunked as the rows of ``data``.
    """

    def __init__(self, data, sample_weight):
        self.data = data
        self.sample_weight = sample_weight
        self.data_blocks = data.to_delayed().ravel().tolist()
        self.weight_blocks = sample_weight.to_delayed().ravel().tolist()
        self.block_rows = data.chunks[0]
        self.starts = np.concatenate([[0], np.cumsum(self.block_rows)[:-1]])
        self._total_weight = None

    @property
    def n_samples(self):
        return self.data.shape[0]

    @property
    def n_features(self):
        return self.data.shape[1]

    @property
    def dtype(self):
        return self.data.dtype

    is_sparse = False

    @property
    def total_weight(self):
        """The sum of the sample weights (computed once)."""
        if self._total_weight is None:
            self._total_weight = float(self.sample_weight.sum(dtype=np.float64))
        return self._total_weight

    def blocks(self):
        """``(data, sample_weight, start)`` of each block: two delayed, one int."""
        return zip(
            self.data_blocks, self.weight_blocks, self.starts.tolist(), strict=True
        )

    def per_point_array(self, blocks, dtype=np.int32):
        """One delayed array per block of values held per point (labels,
        say), as a Dask array chunked as the rows of the data, empty blocks
        included (``da.concatenate`` would drop them, and the blocks of the
        values would no longer pair with those of the data)."""
        name = "per-point-" + tokenize(*blocks)
        layer = {(name, index): values.key for index, values in enumerate(blocks)}
        graph = HighLevelGraph.from_collections(name, layer, dependencies=blocks)
        return da.Array(graph, name, chunks=(tuple(self.block_rows),), dtype=dtype)


def _block_points(normalisation, data, sample_weight, start):
    """The point tokens of one block, seen through the normalisation (if any)."""
    points = PointTokens(np.ascontiguousarray(data), sample_weight, start=start)
    if normalisation is not None:
        points = normalisation.points(points)
    return points


def _read_block(normalisation, data, sample_weight, start, read, options, *held):
    """``map_reduce`` of one block: its chunks read in turn, on this worker."""
    block = InMemoryStream(
        _block_points(normalisation, data, sample_weight, start),
        threads=False,
        budget_chunks=True,
    )
    return block.map_reduce(read, *held, **options)


def _map_block(normalisation, data, sample_weight, start, function, *held):
    return function(_block_points(normalisation, data, sample_weight, start), *held)


def _largest(values):
    return float(np.max(values, initial=0.0))


def _changed(labels, previous_labels):
    return not np.array_equal(labels, previous_labels)


def _any(*flags):
    return any(flags)


def labels_changed(label_blocks, previous_blocks):
    """Whether any block of labels differs from its previous one: a delayed
    bool, compared where the blocks live."""
    return tree_reduce(
        [
            delayed(_changed)(new, old)
            for new, old in zip(label_blocks, previous_blocks, strict=True)
        ],
        _any,
    )


class DaskStream(PointStream):
    """The point stream of tokens held in a Dask array, block by block.

    Each block is read where it lives, as an in-memory stream of its own;
    partial results (the update attention's sums, a gate's or a relocation
    head's offers) are combined by a tree of tasks, in block order, and only
    the combined result comes back. What is held per point (labels,
    dissimilarities) stays on the workers, persisted: Dask recomputes a lost
    block from the data and the centroids. The update attention always
    reads a block's slots while they are written: one pass over the data a
    layer.

    A token router's bounds are held per point as the labels are: blocks
    persisted on the workers, read with their block by the next layer's
    tasks (the router runs in each block's chunks, see
    :meth:`routing_batch_rows`). Per point the workers hold its squared
    norm and two bounds (float64), its label and whether it was routed.

    Parameters
    ----------
    points : DaskPoints
    normalisation : UnitSphereNormalisation, default=None
        The layer's normalisation, applied to each block where it lives.
    """

    routes = True

    def __init__(self, points, normalisation=None):
        self.dask_points = points
        self.normalisation = normalisation
        # The labels of the last layer, and whether those of this layer
        # differ from them (compared in this layer's reduction).
        self._last_labels = None
        self._changed = None
        self._squared_norms = None
        self._routing_norm = None

    @property
    def n_tokens(self):
        return self.dask_points.n_samples

    @property
    def total_weight(self):
        return self.dask_points.total_weight

    def fuses(self, slots):
        return True

    def routing_sample(self):
        """Every so many point tokens, evenly spread (as in memory), brought
        here: their data part as the layer sees it and their squared norms."""
        data = self.dask_points.data[:: routing_sample_step(self.n_tokens)]
        data = np.asarray(data.compute())
        points = _block_points(
            self.normalisation, data, np.ones(data.shape[0], data.dtype), 0
        )
        return points.chunk(slice(None)), squared_norms_of(points)

    @property
    def squared_norms(self):
        """The squared norm of every point token, persisted blocks."""
        if self._squared_norms is None:
            self._squared_norms = self.map(squared_norms_of)
        return self._squared_norms

    @property
    def routing_norm(self):
        """The largest norm of the point tokens, reduced over the blocks."""
        if self._routing_norm is None:
            largest = [delayed(_largest)(block) for block in self.squared_norms]
            largest = tree_reduce(largest, max).compute()
            self._routing_norm = largest_norm_of(largest, self.dask_points)
        return self._routing_norm

    @property
    def entries_per_token(self):
        """The features: the blocks are dense."""
        return self.dask_points.n_features

    def routing_batch_rows(self, n_clusters):
        """The rows of the chunks each block is read in, the same in every
        block (see ``InMemoryStream(budget_chunks=True)``)."""
        return budget_chunk_n_rows(self.dask_points, n_clusters)

    def n_through_attention(self):
        """How many tokens the last assignment sent through the attention,
        counted where the blocks live."""
        if self.routed is None:
            return self.n_tokens
        counts = dask.compute(*(delayed(np.count_nonzero)(b) for b in self.routed))
        return int(sum(counts))

    def assign(self, attention, centers, with_labels=True, router=None):
        self._changed = None
        return super().assign(attention, centers, with_labels, router)

    def sums(self, update, slots, key_weight=None):
        """As :meth:`PointStream.sums`; the same tasks compare the layer's
        labels with those of the layer before, where they live."""
        return super().sums(update, slots, key_weight, compared=True)

    def _blocks(self, held):
        """Per block: its data, weights, first index and its part of ``held``."""
        for index, (data, weight, start) in enumerate(self.dask_points.blocks()):
            yield (data, weight, start, *(values[index] for values in held))

    def map_reduce(
        self,
        read,
        *held,
        n_outputs,
        n_keys,
        accumulate=None,
        scores=True,
        chunk_factor=1,
        compared=False,
    ):
        """As :meth:`InMemoryStream.map_reduce`, each block a task; the
        per-point arrays are persisted blocks, the partial results combined
        by :func:`tree_reduce`.

        With ``compared``, the labels the pass writes (its first output) or
        reads (its first held value) are those of a layer: they are compared
        with the last layer's in the same computation, for :meth:`unchanged`.
        """
        options = dict(
            n_outputs=n_outputs,
            n_keys=n_keys,
            accumulate=accumulate,
            scores=scores,
            chunk_factor=chunk_factor,
        )
        tasks = [
            delayed(_read_block, nout=2)(
                self.normalisation, data, weight, start, read, options, *values
            )
            for data, weight, start, *values in self._blocks(held)
        ]
        outputs = [
            [
                delayed(operator.getitem)(block_outputs, index)
                for block_outputs, _ in tasks
            ]
            for index in range(n_outputs)
        ]
        reduced = {}
        if accumulate is not None:
            # Each task of the tree adds its operands into a new accumulator
            # (at least one task, for a single block).
            add = functools.partial(accumulate, None)
            partials = [partial for _, partial in tasks]
            if len(partials) == 1:
                partials = [delayed(add)(partials[0])]
            reduced["partials"] = tree_reduce(partials, add)
        labels = None
        if compared and (n_outputs or held):
            labels = outputs[0] if n_outputs else held[0]
            if self._last_labels is not None:
                reduced["changed"] = labels_changed(labels, self._last_labels)
        outputs, reduced = dask.persist(outputs, reduced)
        (reduced,) = dask.compute(reduced)
        if labels is not None:
            self._last_labels = outputs[0] if n_outputs else held[0]
            self._changed = reduced.get("changed")
        return tuple(outputs), reduced.get("partials")

    def map(self, function, *held):
        blocks = [
            delayed(_map_block)(
                self.normalisation, data, weight, start, function, *values
            )
            for data, weight, start, *values in self._blocks(held)
        ]
        (blocks,) = dask.persist(blocks)
        return blocks

    def reduce(self, reduction, *held):
        offers = [
            delayed(_map_block)(
                self.normalisation, data, weight, start, reduction.offer, *values
            )
            for data, weight, start, *values in self._blocks(held)
        ]
        merged = tree_reduce(offers, reduction.combine)
        if reduction.finish is not None:
            merged = delayed(reduction.finish)(merged)
        return merged.compute()

    def output_labels(self, labels):
        """Labels as the network returns them: a Dask array of the blocks."""
        return self.dask_points.per_point_array(labels)

    def output_values(self, values):
        """Floats held per point, as a Dask array of the blocks."""
        return self.dask_points.per_point_array(values, dtype=np.float64)

    def unchanged(self, labels, previous_labels):
        """Whether every block's assignment is that of the layer before,
        compared where the blocks live (in the layer's own reduction, when
        it read the labels)."""
        if previous_labels is None:
            return False
        if self._changed is not None:
            return not self._changed
        changed = labels_changed(
            labels.to_delayed().ravel().tolist(),
            previous_labels.to_delayed().ravel().tolist(),
        )
        return not changed.compute()

    def members(self, slots):
        raise NotImplementedError(
            "An update attention that samples each cluster's candidates among "
            "all the members scores them against every member: it needs the "
            "whole point stream in one place in each layer, not a sum of "
            "blockwise statistics."
        )


# -- the estimator on a Dask array ---------------------------------------------


def validated(estimator, X, reset):
    """X as a Dask array of floats chunked by rows only; ``n_features_in_`` checked."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D Dask array, got one of {X.ndim} dimensions.")
    if any(np.isnan(n_rows) for n_rows in X.chunks[0]):
        raise ValueError(
            "The Dask array has unknown chunk sizes; call X.compute_chunk_sizes() "
            "first."
        )
    if not isinstance(X._meta, np.ndarray):
        raise TypeError(
            "Only Dask arrays of NumPy blocks are supported, got blocks of type "
            f"{type(X._meta).__name__}."
        )
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def validated_sample_weight(sample_weight, X, dtype=None):
    """Non-negative sample weights of ``dtype`` (X's by default), chunked as
    its rows."""
    n_samples = X.shape[0]
    dtype = X.dtype if dtype is None else dtype
    if sample_weight is None:
        return da.ones(n_samples, chunks=(X.chunks[0],), dtype=dtype)
    if not isinstance(sample_weight, da.Array):
        sample_weight = np.asarray(sample_weight)
        if sample_weight.ndim == 0:
            sample_weight = np.full(n_samples, sample_weight)
        sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},)!"
        )
    sample_weight = sample_weight.astype(dtype).rechunk((X.chunks[0],))
    if bool((sample_weight < 0).any()):
        raise ValueError("Negative values in data passed to sample_weight")
    return sample_weight


def _normalised_rows(data, normalisation):
    points = _block_points(normalisation, data, np.ones(data.shape[0], data.dtype), 0)
    return points.dense_rows(slice(None))


def seeding_sample(points, n_clusters, normalisation, random_state):
    """A uniform sample of rows, drawn with replacement, and their weights.

    A row drawn ``m`` times weighs ``m`` times its sample weight, so that the
    weighted sample stands for the whole data. Its size is
    ``max(SEEDING_SAMPLE_MIN, SEEDING_SAMPLE_PER_CLUSTER * n_clusters)``
    (all rows when there are fewer). The rows are seen through the
    normalisation (if any), as the first layer sees them; a token the normalisation
    zeroes has no direction to seed.
    """
    n_samples = points.n_samples
    size = max(SEEDING_SAMPLE_MIN, SEEDING_SAMPLE_PER_CLUSTER * n_clusters)
    if size >= n_samples:
        indices, counts = np.arange(n_samples), np.ones(n_samples)
    else:
        drawn = random_state.randint(n_samples, size=size)
        indices, counts = np.unique(drawn, return_counts=True)
    data, sample_weight = dask.compute(
        points.data[indices], points.sample_weight[indices]
    )
    sample_weight = sample_weight * counts.astype(sample_weight.dtype)
    if normalisation is not None:
        normalised = normalisation.points(PointTokens(data, sample_weight))
        data = normalised.dense_rows(slice(None))
        if np.any(sample_weight * normalised.scale > 0):
            sample_weight = sample_weight * (normalised.scale > 0)
    return np.ascontiguousarray(data), sample_weight


def scaled_tolerance(tol, points, block):
    """``tol`` times the mean variance of the features, as in memory, lazily.

    The variance is that of the data as the first layer sees it; behind a
    gate, that of the points the gate keeps around the data mean.
    """
    if tol == 0:
        return 0.0
    data = points.data
    if block.normalisation is not None:
        data = data.map_blocks(_normalised_rows, block.normalisation, dtype=data.dtype)
    if block.gate is not None:
        mean = data.mean(axis=0).compute()
        distances = [
            delayed(_distances_to_mean)(rows, mean)
            for rows in data.to_delayed().ravel().tolist()
        ]
        # The gate's own reduction, around the mean rather than centroids.
        gate, stream = block.gate, DaskStream(points)
        cutoff = stream.reduce(
            gate.radius(points.total_weight, points.n_samples), distances
        )

        def kept(points, distances):
            return ~gate.trimmed(distances, cutoff, points.start)

        kept = da.concatenate(
            [
                da.from_delayed(block_kept, shape=(n_rows,), dtype=bool)
                for block_kept, n_rows in zip(
                    stream.map(kept, distances), points.block_rows, strict=True
                )
            ]
        )
        data = data[kept]
    # Dask's moments come out NaN for some layouts of empty blocks (one
    # leading and one trailing, say); without them the variance is the same.
    data = da.concatenate(
        [data.blocks[index] for index, n_rows in enumerate(data.chunks[0]) if n_rows]
    )
    return data.var(axis=0).mean() * tol


def _distances_to_mean(data, mean):
    # Squared distances less ||mean||^2, which does not change their ranking.
    return row_norms(data, squared=True) - 2 * data @ mean


def _report_block(block, data, sample_weight, centers, labels, components):
    points = PointTokens(np.ascontiguousarray(data), sample_weight)
    report = block.report(points, centers, labels, components=components)
    report["cluster_sizes"] = np.bincount(
        labels[labels >= 0], minlength=centers.shape[0]
    )
    return report


def _combined_reports(*reports):
    # Every report is a sum over points but the gate's radius, a maximum.
    return {
        name: (max if name == "radius" else sum)(report[name] for report in reports)
        for name in reports[0]
    }


def report(block, points, centers, labels, components=True):
    """What ``Block.report`` says of a final state, reduced over the blocks.

    Adds ``cluster_sizes``, the number of points each centroid holds.
    """
    shared_block, shared_centers = delayed(block), delayed(centers)
    reports = [
        delayed(_report_block)(
            shared_block, data, weight, shared_centers, block_labels, components
        )
        for block_labels, (data, weight, _) in zip(
            labels.to_delayed().ravel().tolist(), points.blocks(), strict=True
        )
    ]
    return tree_reduce(reports, _combined_reports).compute()


def _label_pairs(labels, other_labels):
    return np.unique(np.stack([labels, other_labels]), axis=1)


def _merged_label_pairs(*pairs):
    return np.unique(np.concatenate(pairs, axis=1), axis=1)


def same_dask_partition(labels, other_labels):
    """Whether two Dask labelings are the same partition up to renaming."""
    pairs = tree_reduce(
        [
            delayed(_label_pairs)(block, other_block)
            for block, other_block in zip(
                labels.to_delayed().ravel().tolist(),
                other_labels.to_delayed().ravel().tolist(),
                strict=True,
            )
        ],
        _merged_label_pairs,
    ).compute()
    return same_partition(pairs[0], pairs[1])


class DaskData:
    """The data of a fit held in a Dask array chunked by rows, as the fit
    reads it: :class:`~sklearn_kmt._base.InMemoryData`'s operations, each a
    reduction or a lazy map over the blocks; the data is never gathered.

    Three things differ from memory: a "k-means++" or "random" seeding (or
    a callable init) draws from a uniform sample of rows
    (:func:`seeding_sample`); the labels are a Dask array, persisted on the
    workers; and a verbose fit prints no per-layer objective (it would cost
    a pass over the data).

    Centring, as in memory, may make a copy (``copy``): where the data is
    held in the workers' memory (persisted), the centred data is persisted
    too, one more copy of the data, so that each layer reads it instead of
    centring every block anew; lazy data (possibly larger than the workers'
    memory) and ``copy_x=False`` keep the centring in each layer's tasks.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Validated: floats, NumPy blocks, one chunk along the features.
    centred : bool, default=False
        Whether ``X`` is centred on its mean.
    copy : bool, default=False
        Whether the fit may keep a centred copy of data held in memory.
    """

    is_sparse = False

    def __init__(self, X, centred=False, copy=False):
        self.X = X
        self._centred = centred
        self._copy = copy
        self._moments = None

    @classmethod
    def validated(cls, estimator, X, copy, block):
        """X checked as the layers of ``block`` read it (``n_features_in_``
        set); a Dask array is never changed: ``copy`` says whether a centred
        copy of it may be kept."""
        if not block.update_attention.averages:
            raise NotImplementedError(
                f"{type(estimator).__name__} does not run on Dask arrays: its "
                "update attention samples each cluster's candidates among all "
                "the members and scores them against every member, which needs "
                "the whole point stream in one place in each layer, not a sum "
                "of blockwise statistics."
            )
        return cls(validated(estimator, X, reset=True), copy=copy)

    @property
    def shape(self):
        return self.X.shape

    @property
    def dtype(self):
        return self.X.dtype

    def sample_weight(self, sample_weight):
        """Validated non-negative weights in float64, chunked as the rows."""
        return validated_sample_weight(sample_weight, self.X, np.float64)

    @staticmethod
    def weight_totals(sample_weight):
        total, largest = dask.compute(
            sample_weight.sum(dtype=np.float64), sample_weight.max()
        )
        return float(total), float(largest)

    @staticmethod
    def gathered(values):
        return np.asarray(values.compute())

    def astype(self, dtype):
        return self if self.X.dtype == dtype else DaskData(self.X.astype(dtype))

    def _largest_and_mean(self):
        """The largest magnitude and the mean of the data, read in one pass
        (a fit that centres asks for both); centred data, whose magnitude
        alone the fit asks for, is read for that alone."""
        if self._moments is None:
            # Block by block: an empty block has no maximum of its own.
            blocks = self.X.to_delayed().ravel().tolist()
            largest, mean = dask.compute(
                [delayed(largest_magnitude)(block) for block in blocks],
                None if self._centred else self.X.mean(axis=0),
            )
            self._moments = max(largest), mean
        return self._moments

    def largest_magnitude(self):
        return self._largest_and_mean()[0]

    def mean(self):
        if self._centred:
            return self.X.mean(axis=0).compute()
        return self._largest_and_mean()[1]

    def centred(self, mean):
        centred = self.X - mean
        if self._copy and _held_in_memory(self.X):
            centred = centred.persist()
        return DaskData(centred, centred=True)

    def restore(self, user_data, mean):
        """Nothing: the caller's Dask array is never changed."""

    def times_power_of_two(self, exponent):
        return DaskData(
            self.X.map_blocks(times_power_of_two, exponent, dtype=self.X.dtype)
        )

    def seeding(self, sample_weight, normalisation, n_clusters, random_state):
        """A weighted uniform sample of rows (:func:`seeding_sample`), drawn
        from ``random_state``; none when it is None (the centers are given)."""
        if random_state is None:
            return np.empty((0, self.shape[1]), self.dtype), np.empty(0)
        points = DaskPoints(self.X, sample_weight)
        return seeding_sample(points, n_clusters, normalisation, random_state)

    def tolerance(self, tol, sample_weight, block):
        return float(scaled_tolerance(tol, DaskPoints(self.X, sample_weight), block))

    def stream(self, sample_weight, block, largest_value):
        # The weights, one number per sample, are read by every layer:
        # computed once, not in each layer's tasks.
        sample_weight = sample_weight.persist()
        return DaskStream(DaskPoints(self.X, sample_weight), block.normalisation)

    @staticmethod
    def objective(block, stream, output):
        return report(block, stream.dask_points, output.centers, output.labels, False)[
            "inertia"
        ]

    same_partition = staticmethod(same_dask_partition)

    @staticmethod
    def report(block, stream, output):
        final = report(block, stream.dask_points, output.centers, output.labels)
        return final, int(np.count_nonzero(final.pop("cluster_sizes")))


def _held_in_memory(X):
    """Whether every block of ``X`` is already computed and held in memory
    (a persisted array: its graph is one array, or one future of a
    distributed cluster, per block)."""
    held = (np.ndarray,)
    try:
        from distributed import Future
    except ImportError:  # Dask's local schedulers hold arrays
        pass
    else:
        held += (Future,)
    graph = X.__dask_graph__()
    return len(graph) == X.npartitions and all(
        isinstance(value, held) for value in graph.values()
    )


def _test_data(estimator, X):
    """Validated X, and a copy of the estimator light enough to send with
    every task (no training labels)."""
    check_is_fitted(estimator)
    X = validated(estimator, X, reset=False)
    predictor = copy.copy(estimator)
    predictor.__dict__.pop("labels_", None)
    return X, predictor


# Each block is scored by the in-memory method, so that a sample gets the
# answer it gets in memory (centred on the training mean, scaled alike). An
# empty block answers with no rows, where scikit-learn's validation refuses
# an array without samples.


def _predicted_labels(data, predictor):
    if data.shape[0] == 0:
        return np.empty(0, dtype=np.int32)
    return predictor.predict(data)


def _distances(data, predictor):
    if data.shape[0] == 0:
        return np.empty((0, predictor.n_clusters), dtype=data.dtype)
    return predictor.transform(data)


def _block_objective(data, sample_weight, predictor):
    if data.shape[0] == 0:
        return 0.0
    return -predictor.score(data, sample_weight=sample_weight)


def predict(estimator, X):
    """``estimator.predict`` on a Dask array: a lazy Dask array of labels."""
    X, predictor = _test_data(estimator, X)
    return X.map_blocks(
        _predicted_labels,
        predictor,
        drop_axis=1,
        dtype=np.int32,
        meta=np.empty(0, dtype=np.int32),
    )


def transform(estimator, X):
    """``estimator.transform`` on a Dask array: a lazy Dask array of distances."""
    X, predictor = _test_data(estimator, X)
    dtype = np.result_type(X.dtype, estimator.cluster_centers_.dtype)
    return X.map_blocks(
        _distances,
        predictor,
        chunks=(X.chunks[0], (estimator.n_clusters,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def _sum(*values):
    return sum(values)


def score(estimator, X, sample_weight):
    """``estimator.score`` on a Dask array, reduced over the blocks."""
    X, predictor = _test_data(estimator, X)
    points = DaskPoints(X, validated_sample_weight(sample_weight, X))
    shared_predictor = delayed(predictor)
    objectives = [
        delayed(_block_objective)(data, weight, shared_predictor)
        for data, weight, _ in points.blocks()
    ]
    return -float(tree_reduce(objectives, _sum).compute())
