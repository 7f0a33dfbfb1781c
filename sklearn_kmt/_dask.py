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
from functools import partial

import dask
import dask.array as da
import numpy as np
from dask import delayed
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from sklearn.utils import check_array, check_random_state
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, validate_data

from ._components import ClusterStatistics
from ._network import Network, same_partition
from ._streams import chunk_n_rows
from ._tokens import OneHotSlots, PointTokens

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

    def labels_array(self, label_blocks):
        """One delayed labels array per block, as a Dask array chunked as the
        rows of the data, empty blocks included (``da.concatenate`` would
        drop them, and the blocks of the labels would no longer pair with
        those of the data)."""
        name = "labels-" + tokenize(*label_blocks)
        layer = {(name, index): labels.key for index, labels in enumerate(label_blocks)}
        graph = HighLevelGraph.from_collections(name, layer, dependencies=label_blocks)
        return da.Array(graph, name, chunks=(tuple(self.block_rows),), dtype=np.int32)


def _block_points(block, data, sample_weight):
    """The point tokens of one block, seen through the block's normalisation."""
    points = PointTokens(np.ascontiguousarray(data), sample_weight)
    if block.normalisation is not None:
        points = block.normalisation.points(points)
    return points


def _assigned(block, points, centers, statistics=None):
    """The assignment attention over one block of point tokens, chunk by chunk.

    With ``statistics``, the update attention reads each chunk's new slots
    into them while the chunk is at hand: one pass over the block, where
    :class:`~sklearn_kmt._network.Block` reads many one-hot labels after its
    stream, in large chunks.
    """
    n_clusters = centers.shape[0]
    key_bias = block.assign_attention.key_bias(centers)
    keys = np.ascontiguousarray(centers)
    labels = np.empty(points.n_tokens, dtype=np.int32)
    for rows in points.rows(chunk_n_rows(points, n_clusters)):
        chunk = points.chunk(rows)
        slots = block.assign_attention(chunk, keys, key_bias)
        labels[rows] = slots.labels
        if statistics is not None:
            statistics.add(
                *block.update_attention.partial(
                    chunk, slots, points.sample_weight[rows]
                )
            )
    return labels


def _summary(statistics):
    """The running sums of a block, to be combined with those of the others."""
    if statistics is None:
        return None
    return statistics.sums, statistics.weights, statistics.log_scale


def _combined_summaries(*summaries):
    n_clusters, n_features = summaries[0][0].shape
    statistics = ClusterStatistics(n_clusters, n_features)
    for sums, weights, log_scale in summaries:
        statistics.add(sums, weights, log_scale)
    return _summary(statistics)


def _statistics(summary):
    n_clusters, n_features = summary[0].shape
    statistics = ClusterStatistics(n_clusters, n_features)
    statistics.sums, statistics.weights, statistics.log_scale = summary
    return statistics


def _assign_block(block, data, sample_weight, centers, update):
    """Labels of one block and, with ``update``, its update statistics."""
    points = _block_points(block, data, sample_weight)
    statistics = None
    if update:
        statistics = block.update_attention.statistics(*centers.shape)
    labels = _assigned(block, points, centers, statistics)
    return labels, _summary(statistics)


def _measure_block(block, data, sample_weight, centers):
    """Labels of one block and each point's dissimilarity to its centroid."""
    points = _block_points(block, data, sample_weight)
    labels = _assigned(block, points, centers)
    dissimilarities = block.assign_attention.score.dissimilarity_to_assigned(
        points, centers, labels, chunk_n_rows(points, centers.shape[0])
    )
    return labels, dissimilarities


def _gate_block(block, data, sample_weight, measured, start, cutoff, shape, update):
    """Labels of one block after the trimming gate, and its update statistics.

    ``cutoff`` is ``(radius, last)``: trimmed are the points farther than
    ``radius``, and those at ``radius`` whose index is at most ``last``, so
    that ties are trimmed in order of the sample index, as in memory.
    ``shape`` is that of the centroids.
    """
    labels, dissimilarities = measured
    trimmed = block.gate.trimmed(dissimilarities, cutoff, start)
    labels = np.where(trimmed, -1, labels).astype(np.int32)
    if not update:
        return labels, None
    points = _block_points(block, data, sample_weight)
    statistics = block.update_attention.statistics(*shape)
    for rows in points.rows(chunk_n_rows(points, shape[0])):
        statistics.add(
            *block.update_attention.partial(
                points.chunk(rows),
                OneHotSlots(labels[rows], shape[0]),
                points.sample_weight[rows],
            )
        )
    return labels, _summary(statistics)


# -- the trimming radius: a reduction the gate owns ---------------------------


def trimming_cutoff(points, dissimilarity_blocks, gate):
    """The delayed ``(radius, last)`` of a gate, from each block's
    dissimilarities: each block offers, a tree of tasks combines the offers
    (see :meth:`TrimmingGate.offer`)."""
    budget = gate.budget(points.total_weight, points.n_samples)
    offers = [
        delayed(gate.offer)(dissimilarities, weight, budget, start)
        for dissimilarities, (_, weight, start) in zip(
            dissimilarity_blocks, points.blocks(), strict=True
        )
    ]
    merged = tree_reduce(offers, partial(gate.combined, budget))
    return delayed(gate.cutoff)(merged, budget)


# -- the relocation head: the globally farthest points ------------------------


def _farthest_block(block, data, sample_weight, labels, start, centers, n_empty):
    """A block's offer to the relocation head (see ``RelocationHead.offer``),
    with the weights, data rows (as the normalisation sees them) and labels
    of the offered points."""
    points = _block_points(block, data, sample_weight)
    head = block.relocation_head
    ranked = head.ranked(
        points,
        labels,
        centers,
        block.assign_attention.score,
        chunk_n_rows(points, len(centers)),
    )
    dissimilarities, index = head.offer(ranked, n_empty, start)
    rows = index - start
    return (
        dissimilarities,
        index,
        points.sample_weight[rows].astype(np.float64),
        points.dense_rows(rows),
        labels[rows],
    )


def _changed(labels, previous_labels):
    return not np.array_equal(labels, previous_labels)


def _any(*flags):
    return any(flags)


class DaskPass:
    """Layers applied blockwise to point tokens held in a Dask array.

    Each layer maps the point stream over the Dask blocks, each block of
    point tokens reducing to the partial statistics of the update attention
    (weighted sums, weights and their log-scale: the online softmax of soft
    slots combines across blocks as across chunks), and a tree of tasks adds
    them up: one reduction per layer. The same reduction tells whether any
    block's assignment changed. Behind a gate the radius is a weighted
    quantile of every point's dissimilarity, so the point stream takes two
    reductions: the farthest points of each block first, then the gated
    statistics. A layer in which a centroid finds no weight takes one more,
    for the relocation head. The assignment of the last layer stays on the
    workers, persisted (Dask recomputes a lost block from the data and the
    centroids); only the centroids come back.

    Parameters
    ----------
    block : Block
    points : DaskPoints
    """

    def __init__(self, block, points):
        self.block = block
        self.points = points
        self.labels = None
        self.changed = True

    def unchanged(self, labels, previous_labels):
        """Whether the last layer left every block's assignment as it was.

        Compared blockwise in that layer's reduction.
        """
        if previous_labels is None or labels is not self.labels:
            return False
        return not self.changed

    def layer(self, centers, with_labels=True):
        # The labels stay persisted on the workers whatever ``with_labels``
        # says: the next layer's convergence check compares them blockwise.
        block = self.block
        if block.normalisation is not None:
            centers = block.normalisation(centers)
        labels, statistics, changed = self._point_stream(centers, update=True)
        if block.relocation_head is not None:
            self._relocate(statistics, labels, centers)
        # The reduced statistics hold all that the update attention reads of
        # the point tokens.
        new_centers = block.update_attention(
            statistics, centers, None, None, None, None
        )
        if block.normalisation is not None:
            new_centers = block.normalisation(new_centers)
        self.labels, self.changed = labels, changed
        return labels, new_centers.astype(centers.dtype, copy=False), None

    def final_labels(self, centers):
        if self.block.normalisation is not None:
            centers = self.block.normalisation(centers)
        labels, _, _ = self._point_stream(centers, update=False)
        return labels, None

    def _point_stream(self, centers, update):
        """Assignment (and gate) over every block; with ``update``, the
        reduced statistics and whether the assignment changed.

        Returns the labels as a persisted Dask array.
        """
        block, points = self.block, self.points
        shared_block, shared_centers = delayed(block), delayed(centers)
        if block.gate is None:
            assigned = [
                delayed(_assign_block, nout=2)(
                    shared_block, data, weight, shared_centers, update
                )
                for data, weight, _ in points.blocks()
            ]
        else:
            measured = [
                delayed(_measure_block, nout=2)(
                    shared_block, data, weight, shared_centers
                )
                for data, weight, _ in points.blocks()
            ]
            cutoff = trimming_cutoff(
                points,
                [dissimilarities for _, dissimilarities in measured],
                block.gate,
            )
            assigned = [
                delayed(_gate_block, nout=2)(
                    shared_block,
                    data,
                    weight,
                    measured_block,
                    start,
                    cutoff,
                    centers.shape,
                    update,
                )
                for measured_block, (data, weight, start) in zip(
                    measured, points.blocks(), strict=True
                )
            ]
        label_blocks = [labels for labels, _ in assigned]
        reduced = {}
        if update:
            reduced["statistics"] = tree_reduce(
                [summary for _, summary in assigned], _combined_summaries
            )
            if self.labels is not None and block.converges_strictly:
                previous = self.labels.to_delayed().ravel().tolist()
                reduced["changed"] = tree_reduce(
                    [
                        delayed(_changed)(new, old)
                        for new, old in zip(label_blocks, previous, strict=True)
                    ],
                    _any,
                )
        label_blocks, reduced = dask.persist(label_blocks, reduced)
        (reduced,) = dask.compute(reduced)
        statistics = None
        if update:
            statistics = _statistics(reduced["statistics"])
        labels = points.labels_array(label_blocks)
        return labels, statistics, reduced.get("changed", True)

    def _relocate(self, statistics, labels, centers):
        """The relocation head: empty centroids take the farthest points."""
        empty = np.flatnonzero(statistics.weights == 0)
        if empty.size == 0:
            return
        shared_block, shared_centers = delayed(self.block), delayed(centers)
        farthest = [
            delayed(_farthest_block)(
                shared_block,
                data,
                weight,
                block_labels,
                start,
                shared_centers,
                len(empty),
            )
            for block_labels, (data, weight, start) in zip(
                labels.to_delayed().ravel().tolist(), self.points.blocks(), strict=True
            )
        ]
        combined = partial(self.block.relocation_head.combined, len(empty))
        merged = tree_reduce(farthest, combined)
        dissimilarities, _, weights, rows, owners = merged.compute()
        n_moved = min(empty.size, dissimilarities.shape[0])
        if n_moved == 0 or dissimilarities.max() <= 0:
            return
        statistics.move(
            owners[:n_moved],
            empty[:n_moved],
            rows[:n_moved] * weights[:n_moved, None],
            weights[:n_moved],
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


def validated_sample_weight(sample_weight, X):
    """Non-negative sample weights of X's dtype, chunked as its rows."""
    n_samples = X.shape[0]
    if sample_weight is None:
        return da.ones(n_samples, chunks=(X.chunks[0],), dtype=X.dtype)
    if not isinstance(sample_weight, da.Array):
        sample_weight = np.asarray(sample_weight)
        if sample_weight.ndim == 0:
            sample_weight = np.full(n_samples, sample_weight)
        sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},)!"
        )
    sample_weight = sample_weight.astype(X.dtype).rechunk((X.chunks[0],))
    if bool((sample_weight < 0).any()):
        raise ValueError("Negative values in data passed to sample_weight")
    return sample_weight


def _normalised_rows(data, block):
    points = _block_points(block, data, np.ones(data.shape[0], data.dtype))
    return points.dense_rows(slice(None))


def seeding_sample(points, n_clusters, block, random_state):
    """A uniform sample of rows, drawn with replacement, and their weights.

    A row drawn ``m`` times weighs ``m`` times its sample weight, so that the
    weighted sample stands for the whole data. Its size is
    ``max(SEEDING_SAMPLE_MIN, SEEDING_SAMPLE_PER_CLUSTER * n_clusters)``
    (all rows when there are fewer). The rows are seen through the block's
    normalisation, as the first layer sees them; a token the normalisation
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
    if block.normalisation is not None:
        normalised = block.normalisation.points(PointTokens(data, sample_weight))
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
        data = data.map_blocks(_normalised_rows, block, dtype=data.dtype)
    if block.gate is not None:
        mean = data.mean(axis=0).compute()
        distances = [
            delayed(_distances_to_mean)(rows, mean)
            for rows in data.to_delayed().ravel().tolist()
        ]
        cutoff = trimming_cutoff(points, distances, block.gate)
        kept = da.concatenate(
            [
                da.from_delayed(
                    delayed(_kept)(block.gate, block_distances, start, cutoff),
                    shape=(n_rows,),
                    dtype=bool,
                )
                for block_distances, start, n_rows in zip(
                    distances, points.starts.tolist(), points.block_rows, strict=True
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


def _kept(gate, distances, start, cutoff):
    return ~gate.trimmed(distances, cutoff, start)


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


def fit(estimator, X, sample_weight):
    """``estimator.fit`` on a Dask array chunked by rows.

    As in memory, with three differences: a "k-means++" or "random" seeding
    (or a callable init) draws from a uniform sample of rows
    (:func:`seeding_sample`); ``labels_`` is a Dask array, persisted on the
    workers; and ``verbose`` prints no per-layer objective (it would cost a
    pass over the data).
    """
    block = estimator._make_block()
    if not block.update_attention.averages:
        raise NotImplementedError(
            f"{type(estimator).__name__} does not run on Dask arrays: its update "
            "attention samples each cluster's candidates among all the members "
            "and scores them against every member, which needs the whole point "
            "stream in one place in each layer, not a sum of blockwise "
            "statistics."
        )
    X = validated(estimator, X, reset=True)
    n_samples, n_features = X.shape
    if n_samples < estimator.n_clusters:
        raise ValueError(
            f"n_samples={n_samples} should be >= n_clusters={estimator.n_clusters}."
        )
    sample_weight = validated_sample_weight(sample_weight, X)
    init = estimator.init
    if estimator._init_is_array():
        init = check_array(init, dtype=X.dtype, copy=True, order="C")
        estimator._check_center_shape(X, init)
    n_init = estimator._resolve_n_init()
    random_state = check_random_state(estimator.random_state)
    points = DaskPoints(X, sample_weight)
    # The same centring as in memory, for the same rounding.
    centring = (
        block.normalisation is None
        and block.assign_attention.score.translation_invariant
        and block.update_attention.averages
    )
    # One pass over the data for both.
    tol, data_mean = dask.compute(
        scaled_tolerance(estimator.tol, points, block),
        X.mean(axis=0) if centring else None,
    )
    tol = float(tol)
    if centring:
        points = DaskPoints(X - data_mean, sample_weight)
        if estimator._init_is_array():
            init -= data_mean
    seeding_data = seeding_weight = None
    if not estimator._init_is_array():
        seeding_data, seeding_weight = seeding_sample(
            points, estimator.n_clusters, block, random_state
        )
    network = Network(
        block,
        estimator.max_iter,
        tol,
        0,
        estimator._patience,
        n_features=n_features,
        n_clusters=estimator.n_clusters,
    )
    best = final_report = None
    for _ in range(n_init):
        if seeding_data is None:
            centers = init
        else:
            centers = estimator._initial_centers(
                seeding_data,
                row_norms(seeding_data, squared=True),
                seeding_weight,
                init,
                random_state,
                block,
            )
        if estimator.verbose:
            print("Initialization complete")
        output = network._run(
            DaskPass(block, points), None, centers, estimator.max_iter, True, False
        )
        # The whole report in one pass over the data, kept for the best run.
        run_report = report(block, points, output.centers, output.labels)
        # A lower objective with the same partition is only rounding.
        if best is None or (
            run_report["inertia"] < final_report["inertia"]
            and not same_dask_partition(output.labels, best.labels)
        ):
            best, final_report, best_init = output, run_report, centers
    n_distinct = int(np.count_nonzero(final_report.pop("cluster_sizes")))
    centers, init_centers = best.centers, best_init
    if data_mean is not None:
        centers = centers + data_mean
        init_centers = init_centers + data_mean
    return estimator._set_fitted(
        network, best, centers, init_centers, data_mean, final_report, n_distinct
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
