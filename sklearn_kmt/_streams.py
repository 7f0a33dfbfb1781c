"""The point stream: the data as a layer reads it, chunk by chunk.

A layer of the k-means transformer touches the point tokens in a few ways
only: the assignment attention maps each chunk to its slots, the update
attention reduces slots and points to a few numbers per centroid, a gate or
a relocation head reduces the stream to one global decision and maps it back
over the tokens, and the labels are held from one layer to the next. A
:class:`PointStream` offers exactly these operations; the layer
(:class:`~sklearn_kmt._network.Block`) is written once against them, and
each backend says how to run them: :class:`InMemoryStream` here, on threads,
and a Dask stream (``sklearn_kmt._dask``) on the blocks of a Dask array.

The in-memory stream decides how the work is cut and shared: the size of
the chunks (:func:`chunk_n_rows` for the point stream,
:func:`label_chunk_n_rows` for the update attention reading one-hot labels),
whether a layer is worth sharing among worker threads (:func:`threaded`),
and the threads themselves (:func:`stream`), with BLAS held at one thread
while they run and forgotten in a forked child. The results never depend on
the number of threads.
"""

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
from sklearn import get_config
from sklearn.utils.extmath import row_norms
from threadpoolctl import ThreadpoolController

from ._gemm import KMEANS_BLOCK_ROWS
from ._routing import largest_norm_of
from ._tokens import CACHE_BYTES, CHUNK_BYTES, CentroidTokens, OneHotSlots


def chunk_n_rows(points, n_clusters):
    """Rows of point tokens streamed together through one layer.

    A chunk's buffers hold, per row, its scores against the ``n_clusters``
    centroids and one copy of its data part with a constant coordinate
    (dense data) or a few arrays the size of its non-zeros (sparse data,
    which is sliced, never densified). They take at most ``CHUNK_BYTES``
    (4 MiB) and at most scikit-learn's ``working_memory`` setting, so the
    engine never holds the full ``n_samples x n_clusters`` score matrix when
    it is large; each worker thread holds one chunk at a time. When the
    layer is worth sharing among threads (:func:`threaded`), a chunk also
    holds at most an eighth of the tokens (but at least ``MIN_CHUNK_ROWS``),
    so that worker threads have chunks to share. The chunks are of nearly
    equal size, so that no thread waits on a long one: a whole number of
    KMeans' blocks of ``KMEANS_BLOCK_ROWS`` rows (at least one, whatever the
    budget), so that the score product rounds as KMeans' does (see
    :mod:`sklearn_kmt._gemm`). The size does not depend on the number of
    threads, so neither do the results.
    """
    rows = budget_chunk_n_rows(points, n_clusters)
    if threaded(points, n_clusters):
        rows = min(rows, _shared_rows(points))
    blocks = max(1, rows // KMEANS_BLOCK_ROWS)
    n_blocks = -(-points.n_tokens // KMEANS_BLOCK_ROWS)
    rows = KMEANS_BLOCK_ROWS * _balanced(n_blocks, blocks)
    return max(1, min(rows, points.n_tokens))


def budget_chunk_n_rows(points, n_clusters):
    """The rows of a chunk within the budget of :func:`chunk_n_rows`,
    whatever the number of tokens: a whole number of KMeans' blocks, at
    least one. ``points`` needs ``is_sparse``, ``n_features`` and ``dtype``
    (and, sparse, ``data.nnz`` and ``n_tokens``)."""
    if points.is_sparse:
        row_items = n_clusters + 4 * points.data.nnz // max(points.n_tokens, 1)
    else:
        row_items = n_clusters + points.n_features + 1
    budget = min(CHUNK_BYTES, get_config()["working_memory"] * 2**20)
    rows = max(1, int(budget // (row_items * points.dtype.itemsize)))
    return KMEANS_BLOCK_ROWS * max(1, rows // KMEANS_BLOCK_ROWS)


def label_chunk_n_rows(points):
    """Rows of point tokens the update attention reads together from labels.

    Per row, the sparse weights of a chunk hold a label, a weight and a
    column pointer, and the chunk a copy of the data part where it is not a
    view (normalised or sparse points); within ``CACHE_BYTES``: larger
    temporaries are mapped afresh by the allocator in every layer. This pass
    is read on threads when the layer is (:func:`threaded`); when an eighth
    of the tokens is worth a thread on its own (its data part has at least
    ``MIN_THREADED_PRODUCT`` entries), a chunk holds at most that many, so
    that more worker threads can share them; smaller chunks cost more than
    they share. The performance page of the documentation gives the
    measurements behind these bounds.
    """
    row_bytes = 24
    if points.is_sparse:
        row_bytes += 12 * points.data.nnz // max(points.n_tokens, 1)
    elif points.scale is not None:
        row_bytes += points.n_features * points.dtype.itemsize
    rows = CACHE_BYTES // row_bytes
    shared = _shared_rows(points)
    if shared * points.entries_per_token >= MIN_THREADED_PRODUCT:
        rows = min(rows, shared)
    return _balanced(points.n_tokens, rows)


def _shared_rows(points):
    """An eighth of the tokens, but at least ``MIN_CHUNK_ROWS``."""
    return min(points.n_tokens, max(MIN_CHUNK_ROWS, -(-points.n_tokens // 8)))


def _balanced(n_rows, most):
    """The size of equal chunks of at most ``most`` rows covering ``n_rows``."""
    n_chunks = -(-n_rows // max(most, 1))
    return max(1, -(-n_rows // max(n_chunks, 1)))


def threaded(points, n_clusters):
    """Whether the chunks of a layer are worth reading on threads.

    NumPy and SciPy release the GIL inside each operation, but the Python
    between operations holds it, so threads gain only when a chunk's work is
    mostly long operations: its score product, of ``n_clusters *
    (n_features + 1)`` multiply-adds per row (non-zeros for sparse data),
    and the bias and hardmax over its scores, about as much per score as
    ``SCORE_COST`` multiply-adds. The layer is threaded when an eighth of
    it (see ``chunk_n_rows``) has ``MIN_THREADED_PRODUCT`` of that work
    (the performance page of the documentation gives the measurements).
    """
    if points.is_sparse:
        per_row = points.data.nnz / max(points.n_tokens, 1)
    else:
        per_row = points.n_features + 1
    work = _shared_rows(points) * n_clusters * (per_row + SCORE_COST)
    return work >= MIN_THREADED_PRODUCT


# Below this, splitting a layer's work among threads costs more than it saves.
MIN_CHUNK_ROWS = 4096
MIN_THREADED_PRODUCT = 2**21
SCORE_COST = 3

_POOLS = {}
_BLAS = []


def _blas():
    """The BLAS libraries loaded in the process (found once)."""
    if not _BLAS:
        _BLAS.append(ThreadpoolController().select(user_api="blas"))
    return _BLAS[0]


def _blas_threads():
    """The number of threads BLAS may use now: the number of chunk workers."""
    return max((lib.num_threads for lib in _blas().lib_controllers), default=1)


_LIMITED = {"lock": threading.Lock(), "users": 0, "limiter": None, "threads": 1}


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while layers run.

    Counted, so that layers running at once in several threads (concurrent
    ``predict`` calls) restore the original limits only when the last ends,
    and nested uses (a stream within a run of the network) cost a counter.
    """
    with _LIMITED["lock"]:
        if _LIMITED["users"] == 0:
            _LIMITED["threads"] = _blas_threads()
            _LIMITED["limiter"] = _blas().limit(limits=1)
        _LIMITED["users"] += 1
    try:
        yield
    finally:
        with _LIMITED["lock"]:
            _LIMITED["users"] -= 1
            if _LIMITED["users"] == 0:
                _LIMITED["limiter"].restore_original_limits()


def _worker_threads():
    """The number of chunk workers: the threads BLAS may use outside our limit."""
    with _LIMITED["lock"]:
        if _LIMITED["users"]:
            return _LIMITED["threads"]
    return _blas_threads()


def _forget_inherited_threads():
    """Drop, in a forked child, the parent's worker threads and BLAS limit.

    A child process inherits the thread pools as objects but not their
    threads: work handed to them would wait forever. It inherits the lock of
    the BLAS limit in whatever state a parent's thread left it, and the
    limit itself when the fork came during a threaded layer.
    """
    _POOLS.clear()
    limiter = _LIMITED["limiter"] if _LIMITED["users"] else None
    _LIMITED.update(lock=threading.Lock(), users=0, limiter=None, threads=1)
    if limiter is not None:
        limiter.restore_original_limits()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_inherited_threads)


def stream(read, chunks, threads=True):
    """``read`` each chunk of point tokens; the results come in chunk order.

    When ``threads`` and BLAS may use several threads, the chunks go out to
    as many worker threads, each with a single-threaded BLAS, the way
    scikit-learn's OpenMP loop does: NumPy and SciPy release the GIL in the
    work of a chunk. A worker takes the next chunk as soon as it is done
    with one (no barrier between rounds); the results, small next to the
    chunks, are used in chunk order, so the outcome does not depend on the
    number of workers. Otherwise the chunks are read in turn, BLAS still on
    one thread: a layer too small to share among worker threads has products
    too small for BLAS's own threads, whose start costs more than they save.
    """
    chunks = list(chunks)
    n_workers = min(len(chunks), _worker_threads()) if threads else 1
    with single_threaded_blas():
        if n_workers <= 1:
            yield from map(read, chunks)
            return
        if n_workers not in _POOLS:
            _POOLS[n_workers] = ThreadPoolExecutor(n_workers)
        yield from _POOLS[n_workers].map(read, chunks)


# -- the stream a layer reads -----------------------------------------------------


class Slots:
    """The assignment slots a layer writes, as the point stream holds them.

    Nothing is computed when the assignment attention is applied: the stream
    runs it when its result is first read, together with what is read at
    the same time (the update attention's sums, the dissimilarities a gate
    needs), so that the point tokens are read as few times as possible.

    Parameters
    ----------
    attention : AssignAttention
    centers : ndarray of shape (n_clusters, n_features)
        The keys, as the layer sees them.
    with_labels : bool, default=True
        Whether the caller reads the labels: soft slots, summed into the
        update attention's statistics as they are written, name no centroid
        unless asked (an argmax over every score).
    router : TokenRouter, default=None
        Sends around the attention the tokens whose slot is certain, on a
        stream that carries their bounds from layer to layer.

    Attributes
    ----------
    attention, centers, with_labels, router
        The arguments given.
    labels, dissimilarities : held per point, or None
        The centroid each slot names (-1 where a gate zeroed it) and each
        point's dissimilarity to it (before the gate), in the stream's form
        (an array in memory, blocks on Dask); None until read.
    """

    def __init__(self, attention, centers, with_labels=True, router=None):
        self.attention = attention
        self.centers = centers
        self.with_labels = with_labels
        self.router = router
        self.labels = None
        self.dissimilarities = None

    def gated(self, labels):
        """The same slots, with some zeroed: ``labels`` -1 there."""
        slots = Slots(self.attention, self.centers, self.with_labels, self.router)
        slots.labels, slots.dissimilarities = labels, self.dissimilarities
        return slots


class Reduction(NamedTuple):
    """A global decision read from the whole point stream, as a reduction.

    Each chunk makes an ``offer(points, *values)``; offers are combined,
    several at a time, in chunk order (``combine(*offers)``, one offer for
    the points of all), and ``finish`` turns the last into the decision. A
    stream holding all the points at once makes one offer of them all, or
    applies ``whole(points, *values)`` where the component gives a rule of
    its own for that case.
    """

    offer: Callable
    combine: Callable
    finish: Callable = None
    whole: Callable = None


class RoutingBounds(NamedTuple):
    """The two numbers a router adds to each point token, and what they
    refer to: the centroids they were made against and the slot each names."""

    centers: np.ndarray
    labels: object
    upper: object
    lower: object


class PointStream:
    """The point tokens of a layer, offered through a few operations.

    The layer applies each of its sublayers through the stream
    (:meth:`normalise`, :meth:`assign`, :meth:`gate`, :meth:`collect`,
    :meth:`relocate`, :meth:`update`); here each applies the component's
    fast form, which reads the point tokens through three primitives that
    a backend implements: :meth:`map_reduce` (a function over the chunks,
    per-point results held and partial results combined), :meth:`map` and
    :meth:`reduce` (over values held per point). The literal stream
    (:class:`LiteralStream`) applies the components' dense weights instead.

    Attributes
    ----------
    n_tokens : int
    total_weight : float
        The sum of the sample weights.
    largest_norm : float or None
        A bound on the norm of every point token's data part, when known
        (the certified hardmax reads it instead of each chunk's values).
    routes : bool
        Whether the stream carries a router's bounds from layer to layer;
        such a stream also offers what a router reads of the tokens:
        ``routing_sample()``, ``squared_norms`` (held per point),
        ``routing_norm``, ``routing_batch_rows(n_clusters)`` and
        ``entries_per_token`` (what a score costs, see
        :meth:`TokenRouter.worth_routing`).
    bounds : RoutingBounds or None
        The bounds of the last assignment that went through a router.
    routed : held per point, or None
        Which tokens that assignment sent through the attention.
    """

    largest_norm = None
    routes = False
    bounds = None
    routed = None
    schedule = None

    # -- the sublayers, in the order a layer applies them

    def normalise(self, normalisation, centers):
        """The normalisation layer on both streams: the point tokens were
        seen through it once, when the stream was made (it is idempotent);
        the centroids now."""
        return normalisation(centers)

    def normalised_centers(self, normalisation, centers):
        """The normalisation layer on the centroid stream alone."""
        return normalisation(centers)

    def assign(self, attention, centers, with_labels=True, router=None):
        """``y <- assign_attention(x ; c)``: the slots, run when first read,
        the tokens routed around the attention by ``router`` if any."""
        return Slots(attention, np.ascontiguousarray(centers), with_labels, router)

    def gate(self, gate, slots):
        """``y <- gate(y)``."""
        return gate(self, slots)

    def collect(self, update, slots):
        """What the update attention reads of the point stream."""
        return update.collect(self, slots)

    def relocate(self, head, collected, slots):
        """The relocation head, on what the update attention collected."""
        head(self, collected, slots)

    def update(self, update, collected, centers, random_state=None):
        """``c' <- update_attention(c ; x, y)``: the new centroids."""
        return update(collected, centers, random_state)

    def attention_maps(self):
        """The attention maps of the last layer: None, the fast forms
        never build them."""
        return None

    # -- what the components read of the point tokens

    def labels(self, slots):
        """The held labels of ``slots``, computed now if need be."""
        if slots.labels is None:
            self._assignment(slots, with_labels=True)
        return slots.labels

    def dissimilarities(self, slots):
        """Each point's dissimilarity to the centroid it chose (held)."""
        if slots.dissimilarities is None:
            self._assignment(slots, with_labels=True, with_dissimilarities=True)
        return slots.dissimilarities

    def sums(self, update, slots, key_weight=None, **options):
        """The running sums an averaging update attention reads of the slots.

        ``update.partial`` of each chunk, added up in chunk order by
        ``update.accumulated``. The stream reads them while the assignment
        is written (:meth:`fuses`), or after it, from the labels; then
        ``key_weight``, held per point, may replace the sample weights.
        ``options`` go to :meth:`map_reduce`.
        """
        if slots.labels is None and self.fuses(slots) and key_weight is None:
            return self._assignment(slots, slots.with_labels, update=update, **options)
        n_clusters = slots.centers.shape[0]

        def read(points, labels, *key_weight):
            chunk = points.chunk(slice(None))
            weight = points.sample_weight
            if key_weight:
                # A point of no weight is never attended: its row is not read.
                weight = key_weight[0]
                labels = np.where(weight > 0, labels, -1)
            return (), update.partial(chunk, OneHotSlots(labels, n_clusters), weight)

        _, statistics = self.map_reduce(
            read,
            self.labels(slots),
            *(() if key_weight is None else (key_weight,)),
            n_outputs=0,
            n_keys=n_clusters,
            accumulate=update.accumulated,
            scores=False,
            **options,
        )
        return statistics

    def read_slots(self, attention, centers, read):
        """``read(slots)`` of each chunk's slots, held per point."""
        slots = self.assign(attention, centers, with_labels=False)
        (values,), _ = self.map_reduce(
            self._assigning(slots, read=read), n_outputs=1, n_keys=len(slots.centers)
        )
        return values

    def _assigning(
        self,
        slots,
        with_labels=False,
        with_dissimilarities=False,
        update=None,
        read=None,
        plan=None,
    ):
        """The work of the assignment attention on one chunk, and what is
        read of the chunk while it is at hand. With a routing ``plan``, the
        chunk's tokens go through the router first (it reads their bounds,
        held) and its bounds come out after the other outputs."""
        attention, centers, router = slots.attention, slots.centers, slots.router
        key_bias = attention.key_bias(centers)

        def update_partial(chunk, written, sample_weight):
            if plan is None or plan.fresh:
                return update.partial(chunk, written, sample_weight)
            # A plain chunk at a time, however long the chunks of a routed
            # pass: the same sums, added in the same order, as unrouted.
            step = plan.batch_rows
            return [
                update.partial(
                    chunk[start : start + step],
                    OneHotSlots(written.labels[start : start + step], n_clusters),
                    sample_weight[start : start + step],
                )
                for start in range(0, max(chunk.shape[0], 1), step)
            ]

        largest_norm = self.largest_norm
        score = attention.score
        n_clusters = len(centers)

        def assign(points, *bounds):
            chunk = points.chunk(slice(None))
            routing = ()
            if plan is None:
                written = attention(chunk, centers, key_bias, largest_norm)
            else:
                labels, *routing = router(attention, plan, chunk, *bounds)
                written = OneHotSlots(labels, n_clusters)
            outputs = []
            if with_labels or with_dissimilarities:
                labels = written.labels.astype(np.int32, copy=False)
            if with_labels:
                outputs.append(labels)
            if with_dissimilarities:
                outputs.append(
                    score.dissimilarity_to_assigned(
                        points, centers, labels, points.n_tokens
                    )
                )
            if read is not None:
                outputs.append(read(written))
            outputs.extend(routing)
            partial = None
            if update is not None:
                partial = update_partial(chunk, written, points.sample_weight)
            return tuple(outputs), partial

        return assign

    def _routing(self, slots):
        """The router's plan for ``slots`` and the bounds it reads; None
        when nothing routes."""
        if slots.router is None or not self.routes:
            return None, ()
        if self.schedule is None:
            self.schedule = slots.router.schedule(
                self.routing_sample,
                self.n_tokens,
                self.entries_per_token,
                len(slots.centers),
            )
        if self.bounds is None and not self.schedule.may_pay:
            return None, ()
        key_bias = slots.attention.key_bias(slots.centers)
        bounds = self.bounds
        plan = self.schedule.plan(
            slots.attention,
            slots.centers,
            key_bias,
            self.routing_norm,
            self.routing_batch_rows(len(slots.centers)),
            None if bounds is None else bounds.centers,
        )
        if plan is None:
            return None, ()
        if plan.fresh:
            return plan, (self.squared_norms,)
        return plan, (self.squared_norms, bounds.labels, bounds.upper, bounds.lower)

    def n_through_attention(self):
        """How many tokens the last assignment sent through the attention."""
        if self.routed is None:
            return self.n_tokens
        return int(np.count_nonzero(self.routed))

    def routed_fraction(self):
        """The fraction of the tokens the last assignment sent through the
        attention."""
        return self.n_through_attention() / max(self.n_tokens, 1)

    def _assignment(
        self,
        slots,
        with_labels=False,
        with_dissimilarities=False,
        update=None,
        **options,
    ):
        """Run the assignment attention of ``slots``, through its router if
        any; hold what was asked. With ``update``, its sums are read in the
        same pass and returned."""
        plan, bounds = self._routing(slots)
        with_labels = with_labels or plan is not None
        if plan is not None and not plan.fresh:
            # Few tokens of a chunk are scored: longer chunks, fewer steps.
            options["chunk_factor"] = slots.router.chunk_batches
        outputs, reduced = self.map_reduce(
            self._assigning(
                slots, with_labels, with_dissimilarities, update=update, plan=plan
            ),
            *bounds,
            n_outputs=with_labels + with_dissimilarities + 3 * (plan is not None),
            n_keys=len(slots.centers),
            accumulate=None if update is None else _adding_each(update.accumulated),
            **options,
        )
        outputs = list(outputs)
        if with_labels:
            slots.labels = outputs.pop(0)
        if with_dissimilarities:
            slots.dissimilarities = outputs.pop(0)
        if plan is not None:
            upper, lower, self.routed = outputs
            self.bounds = None
            if self.schedule.measured(plan, self.routed_fraction()):
                self.bounds = RoutingBounds(slots.centers, slots.labels, upper, lower)
        elif slots.router is not None:
            self.routed = None
        return reduced


# The tokens a router's schedule tries routing on, to decide whether it
# pays: every ROUTING_SAMPLE_SHARE-th token, at most ROUTING_SAMPLE of them.
ROUTING_SAMPLE = 2048
ROUTING_SAMPLE_SHARE = 32


def routing_sample_step(n_tokens):
    """The step between the tokens of a router's sample (see ``ROUTING_SAMPLE``)."""
    return max(ROUTING_SAMPLE_SHARE, -(-n_tokens // ROUTING_SAMPLE))


def squared_norms_of(points):
    """The squared norm of the data part of each point token, as the layer
    sees it, in float64: what a router reads of every token."""
    return row_norms(points.chunk(slice(None)), squared=True).astype(np.float64)


class InMemoryStream(PointStream):
    """The point stream of tokens held in memory, read on worker threads.

    Parameters
    ----------
    points : PointTokens
        As the layer sees them (through its normalisation, if any).
    threads : bool, default=True
        Whether chunks may be read on worker threads (:func:`stream`); a
        Dask task reads its block on its own thread.
    budget_chunks : bool, default=False
        Whether scored chunks hold :func:`budget_chunk_n_rows` rows each
        (the last one the rest) rather than :func:`chunk_n_rows`: the same
        rows in every stream of tokens of the same kind, as the blocks of a
        Dask array are read, so that a router can score each block's chunks
        as an unrouted layer does, whatever its length.

    Attributes
    ----------
    points, threads, budget_chunks
        The arguments given.
    """

    routes = True

    def __init__(self, points, threads=True, budget_chunks=False):
        self.points = points
        self.threads = threads
        self.budget_chunks = budget_chunks
        self._routing_norm = None
        self._squared_norms = None

    @property
    def n_tokens(self):
        return self.points.n_tokens

    @property
    def total_weight(self):
        return float(np.sum(self.points.sample_weight, dtype=np.float64))

    @property
    def largest_norm(self):
        return self.points.largest_norm

    def routing_sample(self):
        """Every so many point tokens, evenly spread: the data part of a
        ``ROUTING_SAMPLE_SHARE`` of the tokens, at most ``ROUTING_SAMPLE``,
        and their squared norms."""
        rows = slice(0, self.n_tokens, routing_sample_step(self.n_tokens))
        return self.points.chunk(rows), self.squared_norms[rows]

    @property
    def squared_norms(self):
        """The squared norm of every point token, in float64, read once."""
        if self._squared_norms is None:
            self._squared_norms = squared_norms_of(self.points)
        return self._squared_norms

    @property
    def routing_norm(self):
        """The largest norm of the point tokens, read once, for a router."""
        if self._routing_norm is None:
            largest = float(np.max(self.squared_norms, initial=0.0))
            self._routing_norm = largest_norm_of(largest, self.points)
        return self._routing_norm

    @property
    def entries_per_token(self):
        return self.points.entries_per_token

    def routing_batch_rows(self, n_clusters):
        """The most tokens a router scores together: the rows of a plain
        chunk, so that a routed layer adds its sums in the order of an
        unrouted one."""
        if self.budget_chunks:
            return budget_chunk_n_rows(self.points, n_clusters)
        return chunk_n_rows(self.points, n_clusters)

    def fuses(self, slots):
        """Whether the update attention reads the slots while they are written.

        One-hot slots are an index per point. When a chunk's scores outweigh
        its data part, the update attention reads them after the stream, in
        a few large chunks: one more read of the data part saves building
        sparse weights for every chunk of the stream.
        """
        return not (
            slots.attention.normaliser.one_hot
            and len(slots.centers) >= self.points.entries_per_token
        )

    def map_reduce(
        self,
        read,
        *held,
        n_outputs,
        n_keys,
        accumulate=None,
        scores=True,
        chunk_factor=1,
    ):
        """``read(points, *values)`` of every chunk, in chunk order.

        Parameters
        ----------
        read : callable
            Takes the chunk's :class:`PointTokens` (its data part as the
            layer sees it) and its rows of each held value; returns a tuple
            of ``n_outputs`` per-point arrays and a partial result.
        *held : ndarray
            Values held per point.
        n_outputs : int
        n_keys : int
            The number of centroids the chunks are scored against.
        accumulate : callable, default=None
            ``accumulate(into, *partials)`` adds partial results, in chunk
            order, into an accumulator it may change (``into``, None for a
            new one) and returns it; None: nothing is reduced.
        scores : bool, default=True
            Whether ``read`` scores the chunk against the centroids (chunks
            of :func:`chunk_n_rows`) or reads labels (:func:`label_chunk_n_rows`).
        chunk_factor : int, default=1
            Chunks of this many times those rows, for a ``read`` that scores
            a few of them at a time.

        Returns
        -------
        outputs : tuple of ndarray
            The per-point arrays of the chunks, gathered.
        reduced : object or None
        """
        points = self.points
        if scores:
            rows_per_chunk = self.routing_batch_rows(n_keys) * chunk_factor
        else:
            rows_per_chunk = label_chunk_n_rows(points)

        def read_chunk(rows):
            return read(points.part(rows), *(values[rows] for values in held))

        chunks = list(points.rows(rows_per_chunk))
        results = stream(read_chunk, chunks, self.threads and threaded(points, n_keys))
        outputs, reduced = None, None
        for rows, (chunk_outputs, partial) in zip(chunks, results, strict=True):
            if outputs is None:  # arrays for all the points, of the chunks' types
                outputs = tuple(
                    np.empty((points.n_tokens, *part.shape[1:]), dtype=part.dtype)
                    for part in chunk_outputs
                )
            for output, part in zip(outputs, chunk_outputs, strict=True):
                output[rows] = part
            if accumulate is not None:
                # Added as they come, while the workers read on.
                reduced = accumulate(reduced, partial)
        return outputs, reduced

    def map(self, function, *held):
        """``function(points, *values)`` of all the tokens at once."""
        return function(self.points, *held)

    def reduce(self, reduction, *held):
        """A :class:`Reduction` of all the tokens: one offer, or its rule for
        the whole stream."""
        if reduction.whole is not None:
            return reduction.whole(self.points, *held)
        offer = reduction.offer(self.points, *held)
        return offer if reduction.finish is None else reduction.finish(offer)

    def output_labels(self, labels):
        """Labels as the network returns them: the array itself."""
        return labels

    def output_values(self, values):
        """Values held per point, as the estimator returns them: the array
        itself."""
        return values

    unchanged = staticmethod(np.array_equal)

    def members(self, slots):
        """Every point token and its label, for an update that compares
        members with each other."""
        return self.points, self.labels(slots)


def _adding_each(accumulated):
    """``accumulated`` for partial results some of which come as lists of
    parts, added in order."""

    def accumulate(into, *partials):
        parts = [
            part
            for partial in partials
            for part in (partial if isinstance(partial, list) else [partial])
        ]
        return accumulated(into, *parts)

    return accumulate


def same_partition(labels, other_labels):
    """Whether two labelings are the same partition up to renaming the clusters."""
    pairs = np.unique(np.stack([labels, other_labels]), axis=1)
    return (
        np.unique(pairs[0]).size == pairs.shape[1]
        and np.unique(pairs[1]).size == pairs.shape[1]
    )


class LiteralStream:
    """The point tokens as one dense matrix ``[X, Y]``, each sublayer applied
    to the token matrices with its dense weights, as written.

    It holds the point tokens between layers (the slots are erased and
    rewritten by each layer) and builds the centroid tokens ``[C, I]`` from
    the centroids. It costs ``O(n^2)`` memory for the erase heads: small
    inputs only.

    Parameters
    ----------
    points : PointTokens
        The data part and the sample weights.
    n_clusters : int
    """

    def __init__(self, points, n_clusters):
        self.points = points
        self.point_tokens = points.dense(np.zeros((points.n_tokens, n_clusters)))
        self._attention = {}

    @property
    def n_features(self):
        return self.points.n_features

    def _centroid_tokens(self, centers):
        return CentroidTokens(centers).dense()

    def _slots(self, slots, normaliser):
        """``slots`` naming what the point tokens' slots now name."""
        labels = normaliser.labels(self.point_tokens[:, self.n_features :])
        if slots is None:
            return labels
        return slots.gated(labels)

    def normalise(self, normalisation, centers):
        """The normalisation layer on both token matrices."""
        n_features = self.n_features
        self.point_tokens = normalisation.literal(self.point_tokens, n_features)
        # The points the normalisation zeroed have no direction.
        directed = (self.point_tokens[:, :n_features] != 0).any(axis=1)
        self.points = self.points.normalised(directed.astype(float))
        return self.normalised_centers(normalisation, centers)

    def normalised_centers(self, normalisation, centers):
        tokens = normalisation.literal(self._centroid_tokens(centers), self.n_features)
        return tokens[:, : self.n_features]

    def n_through_attention(self):
        """Every token: the literal pass routes none around the attention."""
        return self.points.n_tokens

    def assign(self, attention, centers, with_labels=True, router=None):
        """Every token through the attention: the literal pass routes none."""
        self.point_tokens, self._attention["assign_attention"] = attention.literal(
            self.point_tokens, self._centroid_tokens(centers), self.n_features
        )
        slots = Slots(attention, centers, with_labels)
        slots.labels = self._slots(None, attention.normaliser)
        return slots

    def gate(self, gate, slots):
        self.point_tokens = gate.literal(
            self.point_tokens,
            self._centroid_tokens(slots.centers),
            self.points,
            slots.attention.score,
        )
        return self._slots(slots, slots.attention.normaliser)

    def collect(self, update, slots):
        """The point tokens are what the update attention reads: nothing to
        collect beforehand."""
        return slots

    def relocate(self, head, collected, slots):
        self.point_tokens = head.literal(
            self.point_tokens,
            self._centroid_tokens(slots.centers),
            self.points,
            slots.attention.score,
            slots.attention.normaliser,
        )

    def update(self, update, slots, centers, random_state=None):
        centroid_tokens, self._attention["update_attention"] = update.literal(
            self._centroid_tokens(centers),
            self.point_tokens,
            self.points,
            slots.attention.score,
            slots.attention.normaliser,
            random_state,
        )
        return centroid_tokens[:, : self.n_features]

    def attention_maps(self):
        """The attention maps of the last layer, by sublayer."""
        return dict(self._attention)

    def labels(self, slots):
        return slots.labels

    def dissimilarities(self, slots):
        return None

    def output_labels(self, labels):
        return labels

    unchanged = staticmethod(np.array_equal)
