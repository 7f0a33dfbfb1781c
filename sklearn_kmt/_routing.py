"""The token router: point tokens whose slot is certain skip the assignment attention.

In a transformer a router may send a token around a block that cannot change
it (as in Mixture-of-Depths). For the assignment attention of k-means this
can be certified. Each point token carries two more numbers: an upper bound
``u_i`` on its distance to the centroid its slot names, and a lower bound
``l_i`` on its distance to every other centroid (Hamerly, 2010). When the
centroid stream's residual moves the centroids, the triangle inequality moves
the bounds by how far the centroids moved: ``u_i`` grows by the move of its
own centroid, ``l_i`` shrinks by the largest move of the others. A token
whose bounds keep apart, ``l_i > u_i``, is nearer its centroid than any
other: it takes the residual path and keeps its slot. The others go through
the attention.

The bounds are on Euclidean distances to the keys the attention's scores
rank by: the centroids for the squared Euclidean score, the centroids on the
unit sphere for the cosine score of spherical k-means, which ranks them as
the distances from a point on the sphere would (``x . k_j`` is ``(||x||^2 +
||k_j||^2 - ||x - k_j||^2) / 2``, the key's norm 1 up to rounding, or 0 for a
zero centroid); the score says which keys (``distance_keys``).

The router decides what the attention would have written, so the layer is the
same layer, with the same labels: it routes a token around only when the
bounds leave a margin larger than any rounding of the scores, KMeans' own
included, and whenever the attention's scores of a routed token leave its
best key near a tie, the token's block of ``KMEANS_BLOCK_ROWS`` rows is
scored again as KMeans scores it (see :mod:`sklearn_kmt._gemm`).
"""

import math
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
from sklearn.utils.extmath import row_norms

from ._gemm import KMEANS_BLOCK_ROWS
from ._tokens import dot_with_assigned

# The cost model of TokenRouter.worth_routing, in multiply-adds: a score
# costs as much as this many more beyond its product (as in
# sklearn_kmt._streams.SCORE_COST), moving and testing a token's bounds this
# many, and a token through a routed attention twice an unrouted one and
# this many over the number of centroids.
SCORE_COST = 3
BOOKKEEPING_COST = 400
MIN_ROUTED_TOKENS = 20_000
LONGEST_WAIT = 8
ROUTED_KEY_COST = 200

# Bounds are held in float64 whatever the data type, and rounded outwards:
# an upper bound up, a lower bound down, by a few units in the last place.
_UP = 1.0 + 4.0 * np.finfo(np.float64).eps
_DOWN = 1.0 - 4.0 * np.finfo(np.float64).eps


@lru_cache
def _gamma(dtype, n_terms):
    """``n u / (1 - n u)``, the relative error bound of a sum of ``n_terms``
    products in ``dtype`` (``u`` its unit roundoff), in any order."""
    terms = n_terms * float(np.finfo(dtype).eps) / 2
    return terms / (1 - terms)


@dataclass(frozen=True)
class RoutingPlan:
    """What the router reads of the centroid stream, once a layer.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        The centroids of this layer, as the attention takes them.
    key_bias : ndarray of shape (n_clusters,)
        The attention's bias.
    keys : ndarray of shape (n_clusters, n_features)
        The keys whose products with the points the scores are (the
        centroids, or for the cosine score the centroids on the unit
        sphere): the bounds are on the distances to them.
    score_shift : ndarray of shape (n_clusters,) or None
        What each key's score (with its bias) lacks of ``(||x||^2 -
        ||x - k_j||^2) / 2``; None for nothing.
    own_drift : ndarray of shape (n_clusters,) or None
        How far each centroid moved since the bounds were made (rounded up);
        None when no bounds exist yet: every token is routed through.
    near_drift : ndarray of shape (n_clusters,) or None
        For a token of centroid ``j``, the largest move among the
        ``n_near`` centroids nearest ``c_j``.
    others_drift : ndarray of shape (n_clusters,) or None
        For a token of centroid ``j``, the largest move of any other.
    far_gap : ndarray of shape (n_clusters,) or None
        The distance from ``c_j`` to the nearest of the other centroids
        (rounded down; infinite when there are none): a token within ``u``
        of ``c_j`` is at least ``far_gap - u`` from each of them.
    half_gap : ndarray of shape (n_clusters,) or None
        Half the distance from each centroid to its nearest other one
        (rounded down): a token nearer its centroid than that keeps it.
    label_margin : ndarray of shape (n_clusters,) or None
        For a token of centroid ``a``, ``score_margin`` and twice the most
        that ``a``'s shift exceeds another key's: the squared distances must
        be apart by this much for the scores to be apart by ``score_margin``;
        None where the keys have no shifts.
    batch_rows : int
        The most tokens scored together (a whole number of KMeans' blocks).
    distance_error : float
        A bound on the rounding error of a squared distance computed from a
        score and the squared norm of the point.
    score_margin : float
        The difference of squared distances (of twice the scores) above which
        every rounding of the scores, KMeans' included, names the same best
        key.
    """

    centers: np.ndarray
    key_bias: np.ndarray
    keys: np.ndarray
    score_shift: np.ndarray | None
    own_drift: np.ndarray | None
    near_drift: np.ndarray | None
    others_drift: np.ndarray | None
    far_gap: np.ndarray | None
    half_gap: np.ndarray | None
    label_margin: np.ndarray | None
    batch_rows: int
    distance_error: float
    score_margin: float

    @property
    def fresh(self):
        """Whether no bounds exist yet: every token goes through."""
        return self.own_drift is None


@dataclass(frozen=True, repr=False)
class TokenRouter:
    """Routes around the assignment attention the point tokens whose slot is
    certain; the others go through it.

    The router of a hardmax over scores that rank the keys as Euclidean
    distances do (the squared Euclidean score; the cosine score, whose keys
    are the centroids on the unit sphere): each point token carries an upper
    bound on its distance to the key of the centroid it is assigned to and a
    lower bound on its distance to any other (see the module docstring). Bounds
    are made wherever a token goes through the attention, from its best and
    second best scores, and moved after each layer by how far the centroids
    moved.

    Parameters
    ----------
    min_undecided_to_gather : float, default=0.5
        When at least this fraction of a chunk's tokens is undecided, the
        whole chunk goes through the attention, which costs less than
        gathering the undecided rows; the bounds of the tokens that keep
        their slot stay, the others' are void until renewed.
    most_undecided : float, default=None
        Bounds are made for every token once a sample of them says that at
        most this fraction would be undecided in the next layer (see
        :class:`RoutingSchedule`); None takes :meth:`worth_routing`, 1 makes
        them from the second layer on.
    most_routed : float, default=None
        A routed layer that sends more than this fraction of the tokens
        through the attention drops the bounds; None takes
        :meth:`worth_routing`, 1 keeps them whatever.
    chunk_batches : int, default=8
        A routed layer reads its chunks this many times as long as an
        unrouted one (few of their tokens are scored), in batches of the
        unrouted length.

    See Also
    --------
    AssignAttention : The sublayer it routes tokens around.

    Notes
    -----
    A token of centroid ``a`` keeps its slot when ``l > u`` and
    ``l^2 - u^2`` exceeds ``score_margin`` (the squared distances then
    differ by more than any rounding; for keys whose scores are shifted from
    half the squared distances, by more than any rounding and the shifts'
    differences, ``label_margin``), where ``l`` is the largest of three
    lower bounds, each valid for every other centroid: the last one less the
    largest move of the others; the last one less the largest move of the
    ``round(sqrt(n_clusters))`` centroids nearest ``c_a`` where those are
    the nearer, ``g_a - u`` for the rest (``g_a`` the distance from ``c_a``
    to the nearest of them); and ``2 h_a - u``, ``h_a`` half the distance
    from ``c_a`` to its nearest other centroid. A token that fails is first
    tightened: its
    distance to its own centroid is computed (one product), and the test is
    repeated; only tokens that still fail are scored against every centroid.
    The literal pass routes nothing: every token goes through every layer,
    which is how the tests show that routing changes no label.

    References
    ----------
    G. Hamerly, "Making k-means even faster", SIAM International Conference
    on Data Mining, 2010.
    """

    min_undecided_to_gather: float = 0.5
    most_undecided: float | None = None
    most_routed: float | None = None
    chunk_batches: int = 8

    def worth_routing(self, n_tokens, n_features, n_clusters):
        """The largest fraction of the tokens through the attention at which
        a routed layer costs less than an unrouted one; 0 for fewer than
        ``MIN_ROUTED_TOKENS`` tokens, whose layers cost less than the
        router's own work on the centroids and its sample.

        ``n_features`` is what one score reads of a token: its features, or
        for sparse data its mean number of non-zeros. A cost model in
        multiply-adds per token: an unrouted token's scores cost
        ``n_clusters * (n_features + 1 + SCORE_COST)``; routing costs
        every token about ``BOOKKEEPING_COST`` (moving and testing its
        bounds), and a token sent through a routed attention about
        ``2 + ROUTED_KEY_COST / n_clusters`` times an unrouted one (it is
        gathered, tightened, and its second best score read). The constants
        are measured (see the performance page of the documentation).
        """
        if n_tokens < MIN_ROUTED_TOKENS:
            return 0.0
        scores = n_clusters * (n_features + 1 + SCORE_COST)
        routed = 2 + ROUTED_KEY_COST / n_clusters
        return max(0.0, (1 - BOOKKEEPING_COST / scores) / routed)

    def parameters(self, n_features, n_clusters):
        """No weights: the router compares two numbers each token carries."""
        return {}

    def __repr__(self):
        # Only what differs from the defaults, as scikit-learn prints.
        changed = [
            f"{field.name}={getattr(self, field.name)!r}"
            for field in fields(self)
            if getattr(self, field.name) != field.default
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def schedule(self, sample, n_tokens, n_features, n_clusters):
        """The state of a run's routing over ``n_tokens`` tokens and
        ``n_clusters`` centroids: which layers route (see
        :class:`RoutingSchedule`), decided on ``sample``."""
        return RoutingSchedule(self, sample, n_tokens, n_features, n_clusters)

    def plan(
        self,
        attention,
        centers,
        key_bias,
        largest_norm,
        batch_rows,
        previous_centers=None,
    ):
        """What the router reads of this layer's centroids.

        Parameters
        ----------
        attention : AssignAttention
            The attention routed around; its score says which keys the
            bounds are on (``distance_keys``).
        centers : ndarray of shape (n_clusters, n_features)
            The centroids, as the attention takes them.
        key_bias : ndarray of shape (n_clusters,)
            The attention's bias (``-||c_j||^2 / 2`` for the squared
            Euclidean score).
        largest_norm : float
            An upper bound on the norm of every point token.
        batch_rows : int
            The most tokens scored together.
        previous_centers : ndarray of shape (n_clusters, n_features), default=None
            The centroids the tokens' bounds were made against; None when
            they have none.

        Returns
        -------
        plan : RoutingPlan
        """
        keys, score_shift = attention.score.distance_keys(centers)
        n_clusters, n_features = keys.shape
        wide = keys.astype(np.float64, copy=False)
        largest_center = float(np.sqrt(np.max(row_norms(wide, squared=True))))
        largest_center *= 1 + _gamma(np.dtype(np.float64), n_features + 2)
        gamma = _gamma(keys.dtype, n_features + 2)
        # |x|^2 - 2 (x.c + b) rounds within gamma of the sum of the
        # magnitudes of its terms, at most 3 (|x| + |c|)^2; the bias (or
        # the shift) too.
        reach = (largest_norm + largest_center) ** 2
        distance_error = 3.5 * gamma * reach
        # KMeans' ||c||^2 - 2 x.c is within gamma (|c|^2 + 2 |x| |c|) of the
        # exact value, for each of the two centroids compared.
        kmeans_error = gamma * (largest_center**2 + 2 * largest_norm * largest_center)
        score_margin = 4.5 * kmeans_error
        label_margin = None
        if score_shift is not None:
            # Twice a score is the squared distance's complement less twice
            # the key's shift: a token's best key by distance leads the
            # others in score by half the distances' gap less the excess of
            # its shift over theirs. The shifts round within gamma |c|^2.
            excess = score_shift + _largest_of_others(-score_shift, -np.inf)
            rounding = 4 * _gamma(np.dtype(np.float64), n_features + 2)
            label_margin = 2 * np.maximum(excess, 0.0) * _UP
            label_margin += score_margin + rounding * largest_center**2
        if previous_centers is None:
            return RoutingPlan(
                centers,
                key_bias,
                keys,
                score_shift,
                *[None] * 5,
                label_margin,
                batch_rows,
                distance_error,
                score_margin,
            )
        previous_keys, _ = attention.score.distance_keys(previous_centers)
        moves = wide - previous_keys.astype(np.float64, copy=False)
        drift = np.sqrt(row_norms(moves, squared=True)) * _UP
        drift *= 1 + _gamma(np.dtype(np.float64), n_features + 2)
        drift += np.finfo(np.float64).tiny
        gaps = centroid_gaps(wide, largest_center)
        # Each centroid's others, nearest first: the first n_near are its
        # near ones, the rest far.
        n_near = min(n_clusters - 1, max(1, round(math.sqrt(n_clusters))))
        order = np.argsort(gaps, axis=1)[:, :-1]
        near_drift = np.max(drift[order[:, :n_near]], axis=1, initial=0.0)
        others_drift = _largest_of_others(drift, 0.0)
        far_gap = np.full(n_clusters, np.inf)
        if n_near < n_clusters - 1:
            far_gap = np.take_along_axis(gaps, order[:, n_near : n_near + 1], 1)[:, 0]
        return RoutingPlan(
            centers,
            key_bias,
            keys,
            score_shift,
            drift,
            near_drift,
            others_drift,
            far_gap,
            0.5 * np.min(gaps, axis=1) * _DOWN,
            label_margin,
            batch_rows,
            distance_error,
            score_margin,
        )

    def __call__(
        self,
        attention,
        plan,
        points,
        squared_norms,
        labels=None,
        upper=None,
        lower=None,
    ):
        """Route a chunk of point tokens.

        Parameters
        ----------
        attention : AssignAttention
            The attention the undecided tokens go through.
        plan : RoutingPlan
        points : {ndarray, csr_matrix} of shape (m, n_features)
            The chunk's data part; a whole number of KMeans' blocks from the
            start of one.
        squared_norms : ndarray of shape (m,)
            The squared norm of each point, in float64.
        labels, upper, lower : ndarray of shape (m,), default=None
            The tokens' slots and bounds from the last layer (None for a
            fresh plan).

        Returns
        -------
        labels : ndarray of shape (m,) of int32
            The slots the attention would write.
        upper, lower : ndarray of shape (m,) of float64
            The bounds against this layer's centroids.
        routed : ndarray of shape (m,) of bool
            Which tokens went through the attention.
        """
        n_points = points.shape[0]
        if plan.fresh:
            written = self._scored(
                attention, plan, points, points, squared_norms, np.arange(n_points)
            )
            return (*written, np.ones(n_points, dtype=bool))
        upper, lower, terms, rows = self.undecided(plan, labels, upper, lower)
        near, far_gap, double_half_gap, any_other = terms
        if rows.size >= self.min_undecided_to_gather * n_points:
            # Cheaper through the attention whole than gathered; the bounds
            # of a token that keeps its slot stay valid, the others' are void.
            batches = range(0, max(n_points, 1), plan.batch_rows)
            written = np.concatenate(
                [
                    attention(
                        points[start : start + plan.batch_rows],
                        plan.centers,
                        plan.key_bias,
                    ).labels
                    for start in batches
                ]
            )
            moved = written != labels
            upper[moved], lower[moved] = np.inf, 0.0
            return written, upper, lower, np.ones(n_points, dtype=bool)
        routed = np.zeros(n_points, dtype=bool)
        if rows.size == 0:
            return labels, upper, lower, routed
        # Tighten: the distance to the own centroid, one product a token.
        queries = points[rows]
        own = labels[rows]
        own_scores = dot_with_assigned(queries, plan.keys, own) + plan.key_bias[own]
        upper[rows] = self._upper(squared_norms[rows], own_scores, own, plan)
        lower[rows] = self._lower_bound(
            near[rows],
            far_gap[rows],
            double_half_gap[rows],
            any_other[rows],
            upper[rows],
        )
        uncertain = ~self._apart(lower[rows], upper[rows], own, plan)
        rows = rows[uncertain]
        if rows.size == 0:
            return labels, upper, lower, routed
        labels = labels.copy()
        routed[rows] = True
        written = self._scored(
            attention, plan, points, queries[uncertain], squared_norms[rows], rows
        )
        labels[rows], upper[rows], lower[rows] = written
        return labels, upper, lower, routed

    def undecided(self, plan, labels, upper, lower):
        """The router's test: the bounds moved by the centroids' moves, and
        the tokens whose slot they leave undecided.

        Returns
        -------
        upper, lower : ndarray of shape (m,)
            The moved bounds.
        terms : tuple of ndarray
            What the lower bound was made of, to make it again for a
            tighter upper bound (see :meth:`_lower_bound`).
        rows : ndarray of int
            The undecided tokens.
        """
        upper = (upper + plan.own_drift[labels]) * _UP
        # From the near centroids, the bound moved by their largest move;
        # from the far ones, the triangle through this token's centroid.
        terms = (
            lower - plan.near_drift[labels],
            plan.far_gap[labels],
            2 * plan.half_gap[labels],
            lower - plan.others_drift[labels],
        )
        lower = self._lower_bound(*terms, upper)
        rows = np.flatnonzero(~self._apart(lower, upper, labels, plan))
        return upper, lower, terms, rows

    @staticmethod
    def _lower_bound(near, far_gap, double_half_gap, any_other, upper):
        """The lower bound of a token within ``upper`` of its centroid: the
        largest of three, each valid for every other centroid: ``near`` for
        the near centroids and ``far_gap - upper`` for the far ones; ``2 h -
        upper``; ``any_other`` (the last bound less the largest move of the
        others). Rounded down."""
        # fmin and fmax skip the NaN of an infinite gap less an infinite
        # bound (no far centroids, a void bound): no constraint.
        with np.errstate(invalid="ignore"):
            bound = np.fmin(near, far_gap - upper)
            np.fmax(bound, double_half_gap - upper, out=bound)
        np.fmax(bound, any_other, out=bound)
        bound *= _DOWN
        return bound

    @staticmethod
    def _apart(lower, upper, labels, plan):
        """Which tokens of centroids ``labels`` keep their slot whatever the
        rounding: their bounds leave the squared distances apart by more
        than ``score_margin`` (``label_margin`` where the keys have shifts)."""
        margin = plan.score_margin
        if plan.label_margin is not None:
            margin = plan.label_margin[labels]
        with np.errstate(invalid="ignore"):
            gap = (lower - upper) * (lower + upper)
        return (lower > upper) & (gap * _DOWN > margin)

    @staticmethod
    def _upper(squared_norms, scores, labels, plan):
        """An upper bound on the distance to the keys ``labels`` from their
        scores."""
        terms = scores.astype(np.float64)
        if plan.score_shift is not None:
            terms += plan.score_shift[labels]
        distances = squared_norms - 2 * terms + plan.distance_error
        return np.sqrt(np.maximum(distances, 0.0)) * _UP

    @staticmethod
    def _lower(squared_norms, scores, plan):
        """A lower bound on the distance to every key whose score is at most
        ``scores``."""
        terms = scores.astype(np.float64)
        if plan.score_shift is not None:
            terms += np.max(plan.score_shift)
        distances = squared_norms - 2 * terms - plan.distance_error
        return np.sqrt(np.maximum(distances, 0.0)) * _DOWN

    def _scored(self, attention, plan, points, queries, squared_norms, rows):
        """Slots and bounds of the tokens ``rows`` of the chunk (their data
        ``queries``), through the attention, ``plan.batch_rows`` at a time."""
        batches = [
            self._scored_batch(
                attention,
                plan,
                points,
                queries[start : start + plan.batch_rows],
                squared_norms[start : start + plan.batch_rows],
                rows[start : start + plan.batch_rows],
            )
            for start in range(0, max(len(rows), 1), plan.batch_rows)
        ]
        if len(batches) == 1:
            return batches[0]
        return tuple(np.concatenate(parts) for parts in zip(*batches, strict=True))

    def _scored_batch(self, attention, plan, points, queries, squared_norms, rows):
        """:meth:`_scored` of one batch.

        The best key of a token is taken from scores rounded in any order,
        with the bounds from its best and second best scores; a token whose
        second best score is within ``score_margin`` of its best is near a
        tie, which the rounding may decide: its KMeans block of the chunk is
        scored again as KMeans scores it, and its lower bound is 0.
        """
        if queries.shape[0] < KMEANS_BLOCK_ROWS and not hasattr(queries, "multiply"):
            # Any rounding serves; a few rows take NumPy's product, whose
            # call costs less than the one rounded as KMeans'.
            scores = queries @ plan.keys.T
            scores += plan.key_bias
        else:
            scores = attention.scores(queries, plan.centers, plan.key_bias)
        n_queries = scores.shape[0]
        labels = np.argmax(scores, axis=1)
        everyone = np.arange(n_queries)
        best = scores[everyone, labels]
        upper = self._upper(squared_norms, best, labels, plan)
        if scores.shape[1] < 2:
            return labels.astype(np.int32), upper, np.full(n_queries, np.inf)
        scores[everyone, labels] = -np.inf
        second = np.max(scores, axis=1)
        lower = self._lower(squared_norms, second, plan)
        near = np.flatnonzero(
            (best.astype(np.float64) - second) * 2 <= plan.score_margin
        )
        if near.size:
            exact = self._kmeans_labels(attention, plan, points, rows[near])
            moved = exact != labels[near]
            # A near tie that KMeans' rounding decides the other way: the
            # score of its label is still in the matrix.
            scores_of_exact = scores[near[moved], exact[moved]]
            upper[near[moved]] = self._upper(
                squared_norms[near[moved]], scores_of_exact, exact[moved], plan
            )
            labels[near] = exact
            lower[near] = 0.0
        return labels.astype(np.int32), upper, lower

    @staticmethod
    def _kmeans_labels(attention, plan, points, rows):
        """The slots KMeans writes for the tokens ``rows`` of the chunk: their
        blocks of ``KMEANS_BLOCK_ROWS`` rows scored as KMeans scores them."""
        labels = np.empty(rows.size, dtype=np.intp)
        blocks = rows // KMEANS_BLOCK_ROWS
        for block in np.unique(blocks).tolist():
            start = block * KMEANS_BLOCK_ROWS
            block_rows = slice(start, start + KMEANS_BLOCK_ROWS)
            written = attention(points[block_rows], plan.centers, plan.key_bias)
            mine = blocks == block
            labels[mine] = written.labels[rows[mine] - start]
        return labels


def _largest_of_others(values, initial):
    """For each entry of ``values``, the largest of the others: the largest,
    or for the largest itself, the second largest (``initial`` when there is
    none)."""
    most = np.argmax(values)
    largest = np.full(values.shape, values[most])
    largest[most] = np.max(np.delete(values, most), initial=initial)
    return largest


def centroid_gaps(centers, largest_center):
    """Distances between centroids, rounded down, infinite on the diagonal.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features) of float64
    largest_center : float
        An upper bound on the norm of every centroid.
    """
    n_features = centers.shape[1]
    squared_norms = row_norms(centers, squared=True)
    gaps = squared_norms[:, None] + squared_norms[None, :]
    gaps -= 2 * (centers @ centers.T)
    gaps -= 3.5 * _gamma(np.dtype(np.float64), n_features + 2) * (4 * largest_center**2)
    gaps = np.sqrt(np.maximum(gaps, 0.0)) * _DOWN
    np.fill_diagonal(gaps, np.inf)
    return gaps


class RoutingSchedule:
    """Which layers of a run route their tokens, by what routing would save.

    Bounds cost a second best score of every token that goes through the
    attention, and pay only once the centroids move little between layers:
    in the first layers of a run, or on data without cluster structure, most
    tokens may change their slot. So the layers run unrouted while a sample
    of the tokens says routing would not pay: after each layer the sample's
    bounds are made against the centroids the layer started from and moved
    by how far the layer moved them, and the router's test is applied. Once
    at most ``router.most_undecided`` of the sample is undecided, one layer
    makes every token's bounds and the layers after it route. A routed layer
    that still sends more than ``router.most_routed`` of the tokens through
    the attention saved nothing: its bounds are dropped, and the sample
    decides again after one unrouted layer, after two the next time, four
    the time after, so that a run whose centroids never settle makes bounds
    a few times only. The sample is asked again one layer after it says no,
    then two, four, at most ``LONGEST_WAIT`` layers later.

    Parameters
    ----------
    router : TokenRouter
    sample : callable
        Returns the data part of a few tokens and their squared norms, read
        when the schedule first needs them.
    n_tokens, n_features, n_clusters : int
        The shape of the stream and of its centroids.

    Attributes
    ----------
    most_undecided, most_routed : float
        The router's thresholds, :meth:`TokenRouter.worth_routing` where it
        leaves them None.
    """

    def __init__(self, router, sample, n_tokens, n_features, n_clusters):
        self.router = router
        self.sample = sample
        worth = router.worth_routing(n_tokens, n_features, n_clusters)
        self.most_undecided, self.most_routed = (
            worth if threshold is None else threshold
            for threshold in (router.most_undecided, router.most_routed)
        )
        self.last_centers = None
        self.wait = 0
        self.next_wait = 1
        self.next_ask = 1

    def plan(self, attention, centers, key_bias, largest_norm, batch_rows, bounds):
        """The plan of this layer's assignment, or None: every token through
        the attention, the bounds (made against ``bounds``, the centroids of
        some earlier layer, or None) left as they are."""
        last, self.last_centers = self.last_centers, centers
        router = self.router
        if bounds is not None:
            return router.plan(
                attention, centers, key_bias, largest_norm, batch_rows, bounds
            )
        if self.wait:
            self.wait -= 1
            return None
        if last is None:
            return None
        if not self._would_pay(attention, last, centers, largest_norm):
            # The sample costs a little every time it is asked: after a no,
            # ask again after one layer, then two, ... at most every
            # LONGEST_WAIT layers.
            self.wait = self.next_ask
            self.next_ask = min(2 * self.next_ask, LONGEST_WAIT)
            return None
        return router.plan(attention, centers, key_bias, largest_norm, batch_rows)

    @property
    def may_pay(self):
        """Whether any layer may route: False where no share of undecided
        tokens is small enough (the stream then reads nothing for the
        router)."""
        return self.most_undecided > 0

    def _would_pay(self, attention, last, centers, largest_norm):
        """Whether bounds made against ``last`` would leave at most
        ``most_undecided`` of the sample undecided against ``centers``."""
        router = self.router
        if self.most_undecided >= 1:
            return True
        if self.most_undecided <= 0:
            return False
        if callable(self.sample):
            self.sample = self.sample()
        points, squared_norms = self.sample
        n_points = points.shape[0]
        fresh = router.plan(
            attention, last, attention.key_bias(last), largest_norm, n_points
        )
        labels, upper, lower, _ = router(attention, fresh, points, squared_norms)
        key_bias = attention.key_bias(centers)
        plan = router.plan(attention, centers, key_bias, largest_norm, n_points, last)
        undecided = router.undecided(plan, labels, upper, lower)[-1]
        return undecided.size <= self.most_undecided * n_points

    def measured(self, plan, routed_fraction):
        """Whether to keep the bounds after a layer that routed this fraction
        of the tokens through the attention."""
        if plan.fresh or routed_fraction <= self.most_routed:
            return True
        self.wait, self.next_wait = self.next_wait, 2 * self.next_wait
        return False


def largest_norm_of(largest_squared_norm, points):
    """An upper bound on the Euclidean norm of every row of ``points``, from
    the largest of their squared norms as computed."""
    error = _gamma(points.dtype, points.n_features + 1)
    return math.sqrt(largest_squared_norm * (1 + error)) * _UP
