"""The block (one Lloyd iteration) and the looped network.

A :class:`Block` composes the components of :mod:`sklearn_kmt._components`
into one transformer layer; the :class:`Network` applies the same block
(shared weights) layer after layer until the stopping rule holds. This module
holds the package's only iteration loop.
"""

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_random_state

from ._components import (
    AssignAttention,
    Gate,
    RelocationHead,
    UnitSphereNormalisation,
    Update,
    UpdateAttention,
)
from ._routing import TokenRouter
from ._streams import (
    InMemoryStream,
    LiteralStream,
    chunk_n_rows,
    single_threaded_blas,
)
from ._tokens import (
    PointTokens,
    summed_duplicates,
    times_power_of_two,
    with_32bit_indices,
)


@dataclass(frozen=True)
class Block:
    """One layer of the k-means transformer: one Lloyd iteration.

    :func:`kmeans_block` builds the layer of k-means, with any component
    changed.

    Parameters
    ----------
    assign_attention : AssignAttention
        Points attend to centroids and write their new assignment slot.
    update_attention : UpdateAttention or MedoidSamplingAttention
        Centroids attend to the points and move to their weighted mean (or,
        sampling, to their best member).
    relocation_head : RelocationHead, default=None
        Empty centroids take the farthest points; None for none.
    normalisation : UnitSphereNormalisation, default=None
        A normalisation layer on both streams; None for none.
    gate : TrimmingGate, default=None
        An MLP gate on the point stream after the assignment; None for none.
    router : TokenRouter, default=None
        Sends around the assignment attention the point tokens whose slot is
        certain (the same slots, fewer scores); None routes every token
        through it.

    Attributes
    ----------
    assign_attention, update_attention, relocation_head, normalisation, gate, \
router
        The components given, by the names :meth:`components` lists them under.

    See Also
    --------
    kmeans_block : The layer of k-means, with components swapped.
    Network : The loop over layers that applies a block.

    Notes
    -----
    Point stream, then centroid stream, each with its residual connection::

        x_i, c_j <- normalisation(x_i), normalisation(c_j)    (when present)
        y_i <- gate(assign_attention(x_i ; centroids))        (overwrites y_i)
        c_j <- normalisation(c_j + update_attention(c_j ; points))

    :meth:`__call__` writes this once, each sublayer applied through a point
    stream (:mod:`sklearn_kmt._streams`): in memory or on Dask the stream
    applies the components' fast forms over chunks of point tokens, so the
    full score matrix is never held, and decides what to read together (the
    update attention's sums from a chunk while its slots are written, the
    way FlashAttention streams keys); the literal stream applies their dense
    weights to the token matrices. A gate follows a hardmax only: after a
    softmax, whether it should zero soft slots or keep them, and what radius
    soft members define, has no single answer, so that composition is
    refused.

    Examples
    --------
    One layer from the centroids ``(0, 0)`` and ``(5, 5)``: each point takes its
    nearest centroid, each centroid moves to the mean of its points.

    >>> import numpy as np
    >>> from sklearn_kmt._network import kmeans_block
    >>> from sklearn_kmt._tokens import PointTokens
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    >>> block = kmeans_block()
    >>> labels, centers = block(PointTokens(X, np.ones(4)), X[[0, 2]])
    >>> labels
    array([0, 0, 1, 1], dtype=int32)
    >>> centers
    array([[0. , 0.5],
           [5. , 5.5]])
    >>> list(block.components())  # the sublayers, in the order they apply
    ['normalisation', 'router', 'assign_attention', 'gate', 'relocation_head', \
'update_attention']
    """

    assign_attention: AssignAttention
    update_attention: Update
    relocation_head: RelocationHead | None = None
    normalisation: UnitSphereNormalisation | None = None
    gate: Gate | None = None
    router: TokenRouter | None = None

    def __post_init__(self):
        if self.router is not None and not self.routable:
            raise ValueError(
                f"A router ({self.router!r}) bounds the Euclidean distances "
                "that a hardmax's scores rank by; this layer "
                f"({self.assign_attention!r}) has no such bounds."
            )
        update = self.update_attention
        if (
            update.reads_distances or update.weighs_members
        ) and not self.assign_attention.normaliser.one_hot:
            raise ValueError(
                f"The update attention ({update!r}) weighs each "
                "cluster's members by their distance to its centroid, but the "
                f"assignment attention's {self.assign_attention.normaliser!r} "
                "writes soft slots, which name no members."
            )
        if self.gate is not None and not self.assign_attention.normaliser.one_hot:
            raise ValueError(
                f"A gate ({self.gate!r}) reads one-hot slots, but the assignment "
                f"attention's {self.assign_attention.normaliser!r} writes soft "
                "ones: a gate after a softmax is not supported."
            )

    def rescaled(self, exponent, weight_exponent=0):
        """The same layer for tokens whose data part is times ``2**exponent``
        and sample weights times ``2**weight_exponent``.

        Only the normalisers over keys have units: a softmax's inverse
        temperature is in inverse squared data units, a sparsemax's reach
        in squared data units times weight units; the other components
        compare, rank, trim or average, which a common factor does not
        change.
        """
        if exponent == 0 and weight_exponent == 0:
            return self
        return replace(
            self,
            assign_attention=self.assign_attention.rescaled(exponent),
            update_attention=self.update_attention.rescaled(exponent, weight_exponent),
        )

    def report_in_data_units(self, report, data_exponent, weight_exponent):
        """:meth:`report` of tokens scaled by ``2**data_exponent`` and weights
        by ``2**weight_exponent``, in the units of the data and weights.

        Each reported quantity is homogeneous in both scales, of the degrees
        its component declares (``report_degrees``); the inertia is a
        weighted sum of the score's dissimilarities.
        """
        degrees = {"inertia": (self.assign_attention.score.dissimilarity_degree, 1)}
        for component in (
            self.assign_attention.normaliser,
            self.update_attention,
            self.gate,
        ):
            degrees.update(getattr(component, "report_degrees", {}))
        unscaled = dict(report)
        for name, (data_degree, weight_degree) in degrees.items():
            exponent = data_degree * data_exponent + weight_degree * weight_exponent
            if name in unscaled and exponent:
                # Beyond the largest float the value is infinite, as IEEE
                # arithmetic rounds it.
                with np.errstate(over="ignore"):
                    unscaled[name] = float(np.ldexp(unscaled[name], -exponent))
        return unscaled

    @property
    def takes_64bit_sparse_indices(self):
        """Whether every component reads CSR matrices with 64-bit indices;
        a component that does not says so (``takes_64bit_sparse_indices``)."""
        components = [*self.components().values(), self.assign_attention.score]
        return all(
            getattr(component, "takes_64bit_sparse_indices", True)
            for component in components
        )

    @property
    def routable(self):
        """Whether a :class:`TokenRouter` can route the layer's tokens: a
        hardmax over scores that rank the keys as the Euclidean distances to
        some keys do, which the score names (``distance_keys``): the squared
        Euclidean score, or the cosine score, with or without normalisation
        layer (the router reads the tokens as the attention does)."""
        attention = self.assign_attention
        return attention.normaliser.one_hot and hasattr(
            attention.score, "distance_keys"
        )

    @property
    def converges_strictly(self):
        """Whether a repeated assignment means the layer reached a fixed point:
        the slots are one-hot and the update neither samples nor weighs the
        members by their distance to the centroid."""
        update = self.update_attention
        return (
            self.assign_attention.normaliser.one_hot
            and update.deterministic
            and not update.reads_distances
        )

    def __call__(self, stream, centers, random_state=None, with_labels=True):
        """Apply the layer.

        Parameters
        ----------
        stream : PointStream or PointTokens
            The point tokens, as a stream (in memory, on Dask); plain point
            tokens are streamed in memory.
        centers : ndarray of shape (n_clusters, n_features)
        random_state : RandomState instance, default=None
            What a sampling update draws from (the run holds it).
        with_labels : bool, default=True
            False: the caller does not read the labels, and soft slots need
            not name their most responsible centroid (an argmax over every
            score).

        Returns
        -------
        labels : labels held by the stream, or None
            The assignment written by this layer (-1 where the gate zeroed the
            slot), before any relocation; None when not ``with_labels`` and the
            layer had no use for them.
        centers : ndarray of shape (n_clusters, n_features)
            The centroids after this layer.
        """
        stream = self.stream(stream)
        centers, slots = self._point_sublayers(stream, centers, with_labels)
        collected = stream.collect(self.update_attention, slots)
        if self.relocation_head is not None:
            stream.relocate(self.relocation_head, collected, slots)
        new_centers = stream.update(
            self.update_attention, collected, centers, random_state
        )
        if self.normalisation is not None:
            new_centers = stream.normalised_centers(self.normalisation, new_centers)
        labels = None if slots.labels is None else stream.output_labels(slots.labels)
        return labels, new_centers.astype(centers.dtype, copy=False)

    def _point_sublayers(
        self, stream, centers, with_labels=True, with_dissimilarities=False
    ):
        """The normalisation, the assignment attention and the gate: the
        centroids as the layer sees them, and the slots written. With
        ``with_dissimilarities`` the stream reads each point's dissimilarity
        to the centroid it chose with the assignment."""
        if self.normalisation is not None:
            centers = stream.normalise(self.normalisation, centers)
        slots = stream.assign(self.assign_attention, centers, with_labels, self.router)
        if with_dissimilarities:
            stream.dissimilarities(slots)
        if self.gate is not None:
            slots = stream.gate(self.gate, slots)
        return centers, slots

    def stream(self, points):
        """``points`` as a point stream seen through the layer's normalisation:
        point tokens are streamed in memory; a stream is returned as it is."""
        if isinstance(points, PointTokens):
            return InMemoryStream(self.normalised_points(points))
        return points

    def normalised_centers(self, centers):
        """The centroids as the layer sees them after its normalisation."""
        if self.normalisation is None:
            return centers
        return self.normalisation(centers)

    def normalised_points(self, points):
        """The point tokens as the layer sees them after its normalisation.

        Tokens already seen through the normalisation are returned as they
        are, so that a caller applying many layers normalises them once.
        """
        if self.normalisation is None or points.is_normalised:
            return points
        return self.normalisation.points(points)

    def components(self):
        """The sublayers in the order they apply, by name (None when absent)."""
        return {
            "normalisation": self.normalisation,
            "router": self.router,
            "assign_attention": self.assign_attention,
            "gate": self.gate,
            "relocation_head": self.relocation_head,
            "update_attention": self.update_attention,
        }

    def parameters(self, n_features, n_clusters):
        """Every weight of the layer, as ``"component.name" -> array``."""
        return {
            f"{name}.{weight}": matrix
            for name, component in self.components().items()
            if component is not None
            for weight, matrix in component.parameters(n_features, n_clusters).items()
        }

    def point_stream(self, stream, centers, with_dissimilarities=False):
        """The point stream of the layer alone: labels after assignment and gate.

        With ``with_dissimilarities``, also each point's dissimilarity to the
        centroid it chose (before the gate), read in the same pass, for
        :meth:`report`.
        """
        stream = self.stream(stream)
        _, slots = self._point_sublayers(
            stream, centers, with_dissimilarities=with_dissimilarities
        )
        labels = stream.output_labels(stream.labels(slots))
        return (labels, slots.dissimilarities) if with_dissimilarities else labels

    def assign(self, points, centers):
        """The assignment attention alone: index of the best centroid of each point."""
        stream = self.stream(points)
        slots = stream.assign(self.assign_attention, self.normalised_centers(centers))
        return stream.labels(slots).astype(np.int32, copy=False)

    def read_slots(self, points, centers, read):
        """The assignment attention alone, each chunk's slots read by ``read``.

        Parameters
        ----------
        points : PointTokens
        centers : ndarray of shape (n_clusters, n_features)
        read : callable
            Maps the slots of a chunk to an array with one row per point.

        Returns
        -------
        values : ndarray
            The chunks' arrays, concatenated.
        """
        return self.stream(points).read_slots(
            self.assign_attention, self.normalised_centers(centers), read
        )

    def dissimilarities(self, points, centers, labels):
        """Dissimilarity of each point to the centroid ``labels`` names."""
        points = self.normalised_points(points)
        centers = self.normalised_centers(centers)
        return self.assign_attention.score.dissimilarity_to_assigned(
            points, centers, labels, chunk_n_rows(points, len(centers))
        )

    def printed_objective(self, points, centers, labels):
        """What a verbose fit prints after a layer, as ``(name, value)``.

        The inertia, as KMeans prints it; for soft slots the free energy,
        the objective soft k-means decreases (the inertia of the most
        responsible centroids may rise from layer to layer).
        """
        dissimilarities = self.dissimilarities(
            points, centers, np.where(labels >= 0, labels, 0)
        )
        normaliser = self.assign_attention.normaliser
        if normaliser.one_hot:
            return "inertia", self.objective(points, centers, labels, dissimilarities)
        report = normaliser.report(self, points, centers, labels, dissimilarities)
        return "free energy", report["free_energy"]

    def point_report(self, stream, centers):
        """What is known of each point in a final state, read through the
        stream: with a sparsemax update attention, ``member_weights``, the
        weight of each point in its centroid (0 for a point without slot)."""
        update = self.update_attention
        if not update.weighs_members:
            return {}
        _, slots = self._point_sublayers(stream, centers, with_dissimilarities=True)
        weights = update.member_weights(stream, slots)
        return {"member_weights": stream.output_values(weights)}

    def objective(self, points, centers, labels, dissimilarities=None):
        """Weighted dissimilarities to the assigned centroids; gated points excluded."""
        report = self.report(points, centers, labels, False, dissimilarities)
        return report["inertia"]

    def report(self, points, centers, labels, components=True, dissimilarities=None):
        """What is known of a final state.

        The objective (``inertia``: weighted dissimilarities to the assigned
        centroids, gated points excluded) and, with ``components``, what the
        components report (a softmax its free energy, a gate its radius).
        ``dissimilarities`` (to the assigned centroids; any value for gated
        points) are computed unless given.
        """
        kept = labels >= 0
        if dissimilarities is None:
            dissimilarities = self.dissimilarities(
                points, centers, np.where(kept, labels, 0)
            )
        weights = np.where(kept, points.sample_weight, 0)
        report = {"inertia": float(np.dot(weights, dissimilarities))}
        for component in (
            self.assign_attention.normaliser,
            self.update_attention,
            self.gate,
        ):
            if components and hasattr(component, "report"):
                report.update(
                    component.report(self, points, centers, labels, dissimilarities)
                )
        return report


def kmeans_block(**changes):
    """The layer of k-means, with the components named in ``changes`` swapped.

    Its components are an :class:`AssignAttention` with the squared Euclidean
    score and hardmax, an :class:`UpdateAttention` and a
    :class:`RelocationHead`, without normalisation layer or gate.

    Parameters
    ----------
    **changes : component
        Components by the name of the :class:`Block` argument they replace
        (``assign_attention``, ``update_attention``, ``relocation_head``,
        ``normalisation``, ``gate``, ``router``); None removes an optional one.

    Returns
    -------
    block : Block
        The layer, with a new instance of every component not given.

    See Also
    --------
    Block : The layer it builds.
    sklearn_kmt.TransformerKMeans : The estimator that runs the unchanged layer.

    Examples
    --------
    >>> from sklearn_kmt._components import AssignAttention, Softmax
    >>> soft = AssignAttention(normaliser=Softmax(2.0))
    >>> kmeans_block(assign_attention=soft).assign_attention
    AssignAttention(score=SquaredEuclideanScore(), normaliser=Softmax(beta=2.0))
    """
    components = {
        "assign_attention": AssignAttention(),
        "update_attention": UpdateAttention(),
        "relocation_head": RelocationHead(),
        **changes,
    }
    return Block(**components)


class LayerRecord:
    """What one layer of a traced forward pass produced.

    Parameters
    ----------
    centers, labels, objective, attention, n_through_attention
        Stored as the attributes of the same names.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        The centroids after the layer.
    labels : ndarray of shape (n_samples,)
        The assignment the layer wrote (-1 for slots a gate zeroed).
    objective : float
        The objective (``inertia``) of that assignment and those centroids.
    attention : dict or None
        The attention maps of the layer by sublayer name (literal pass only):
        ``"assign_attention"`` of shape (n_samples, n_clusters) and
        ``"update_attention"`` of shape (n_clusters, n_samples).
    n_through_attention : int or None
        How many point tokens went through the assignment attention; the
        others were routed around it by the layer's router (their slots
        certain). None when not recorded.

    See Also
    --------
    Network.forward : The pass that records them (``return_trace=True``).
    sklearn_kmt.plotting.plot_attention : Draws a record's attention maps.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmt import TransformerKMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    >>> kmeans = TransformerKMeans(n_clusters=2, random_state=0).fit(X)
    >>> trace = kmeans.network_.forward(
    ...     X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
    ... ).trace
    >>> len(trace) == kmeans.n_iter_
    True
    >>> record = trace[-1]
    >>> record.attention["assign_attention"].shape  # points x centroids
    (4, 2)
    >>> round(record.objective, 6)
    1.0
    """

    def __init__(self, centers, labels, objective, attention, n_through_attention=None):
        self.centers = centers
        self.labels = labels
        self.objective = objective
        self.attention = attention
        self.n_through_attention = n_through_attention

    def __repr__(self):
        return f"LayerRecord(objective={self.objective:.6g})"


class NetworkOutput:
    """What a forward pass of the network returns.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,)
        Assignments consistent with ``centers``.
    centers : ndarray of shape (n_clusters, n_features)
    n_layers : int
        Number of layers applied (Lloyd iterations).
    strict_convergence : bool
        Whether the loop stopped because the assignment no longer changed.
    converged : bool
        Whether the loop stopped by its stopping rule rather than because
        ``max_layers`` layers ran.
    trace : list of LayerRecord or None
        One record per layer, when a trace was asked for.
    dissimilarities : ndarray of shape (n_samples,) or None
        Each point's dissimilarity to its centroid in ``centers`` (any value
        for a gated point), when the last pass read them.
    """

    def __init__(
        self,
        labels,
        centers,
        n_layers,
        strict_convergence,
        trace=None,
        dissimilarities=None,
        converged=None,
    ):
        self.labels = labels
        self.centers = centers
        self.n_layers = n_layers
        self.strict_convergence = strict_convergence
        self.converged = strict_convergence if converged is None else converged
        self.trace = trace
        self.dissimilarities = dissimilarities
        self.sampling_state = None


class LayerPass:
    """The layers of a run, applied to a point stream.

    Parameters
    ----------
    block : Block
    stream : PointStream or LiteralStream
        In memory or on Dask (the fast forms, exploiting the structure of
        the weights), or the dense token matrices (the literal forms); it
        holds the labels between layers.
    random_state : RandomState instance, default=None
        What a sampling update draws from.
    """

    def __init__(self, block, stream, random_state=None):
        self.block = block
        self.stream = stream
        self.random_state = random_state

    def layer(self, centers, with_labels=True):
        labels, new_centers = self.block(
            self.stream, centers, self.random_state, with_labels
        )
        return labels, new_centers, self.stream.attention_maps()

    def unchanged(self, labels, previous_labels):
        """Whether a layer repeated the assignment of the one before."""
        return self.stream.unchanged(labels, previous_labels)

    def final_labels(self, centers):
        """Labels consistent with ``centers``, and the dissimilarities to
        them where the stream reads them."""
        return self.block.point_stream(self.stream, centers, with_dissimilarities=True)


class Network:
    """The k-means transformer: one block looped with shared weights.

    Parameters
    ----------
    block : Block
    max_layers : int
        At most this many layers (``max_iter``).
    tol : float
        Absolute tolerance on the summed squared shift of the centroids.
    verbose : int, default=0
        Print the objective after each layer when positive.
    patience : int, default=1
        Number of consecutive layers whose shift is within ``tol`` before the
        loop stops (more than one when the update samples).
    n_features, n_clusters : int, default=None
        The shape of the tokens, ``n_features + n_clusters`` coordinates, for
        :meth:`parameters` and the printed summary.
    scale_exponent : int, default=0
        The tokens' data part is the data times ``2**scale_exponent`` (an
        exact embedding, chosen by the estimator where the data's magnitude
        needs it; behind a normalisation layer it changes no direction); the
        layers run :meth:`Block.rescaled` for it.
    weight_exponent : int, default=0
        The sample weights that :meth:`__call__` streams are times
        ``2**weight_exponent`` (:meth:`forward` scales those it is given so).
    random_state : RandomState instance, default=None
        What a sampling update draws from in the runs of :meth:`__call__`;
        its draws continue from run to run.
    data_offset : ndarray of shape (n_features,), default=None
        The mean the estimator centred dense data on, times
        ``2**scale_exponent``: the tokens' data part is then the data times
        ``2**scale_exponent`` less ``data_offset``; None when not centred.

    Attributes
    ----------
    block, max_layers, tol, verbose, patience, n_features, n_clusters, \
scale_exponent, weight_exponent, random_state, data_offset
        The arguments given; ``tol`` is in the units of the scaled tokens.
    scaled_block : Block
        The block the layers of :meth:`__call__` run:
        ``block.rescaled(scale_exponent, weight_exponent)``.
    sampling_state : tuple or None
        The state of a sampling update's random generator at the start of the
        last run that :meth:`__call__` made (set by the estimator), so that
        :meth:`forward` can replay its draws; None when nothing samples.

    See Also
    --------
    Block : The layer it loops.
    kmeans_block : The layer of k-means.
    sklearn_kmt.TransformerKMeans : The estimator that builds and runs it, and
        keeps it as ``network_``.

    Notes
    -----
    The loop stops after the first layer whose one-hot assignment equals the
    previous layer's ("strict convergence": the centroids it produced are then
    a fixed point; soft slots and sampled updates never stop this way), or
    after ``patience`` consecutive layers whose centroids moved by at most
    ``tol`` in summed squared Euclidean shift, or after ``max_layers`` layers.
    Unless it stopped strictly, one more pass of the point stream makes the
    labels consistent with the final centroids. This is the stopping rule of
    scikit-learn's ``KMeans``.

    The same loop runs the fast pass (``__call__``, what ``fit`` uses) and
    the literal pass (:meth:`forward`), which differ only in how a layer
    applies the components' weights.

    Examples
    --------
    From the centroids ``(0, 0)`` and ``(0, 1)``, three layers: the second
    moves the point ``(0, 1)`` to the first cluster, the third repeats the
    assignment, which stops the loop.

    >>> import numpy as np
    >>> from sklearn_kmt._network import Network, kmeans_block
    >>> from sklearn_kmt._tokens import PointTokens
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    >>> network = Network(kmeans_block(), max_layers=10, tol=0.0,
    ...                   n_features=2, n_clusters=2)
    >>> output = network(PointTokens(X, np.ones(4)), X[[0, 1]])
    >>> output.labels, output.n_layers, output.strict_convergence
    (array([0, 0, 1, 1], dtype=int32), 3, True)
    >>> output.centers
    array([[0. , 0.5],
           [5. , 5.5]])

    The literal pass applies the same layers with the dense weights:

    >>> literal = network.forward(X, X[[0, 1]], n_layers=3)
    >>> np.array_equal(literal.labels, output.labels)
    True
    >>> network.parameters()["assign_attention.W_Q"].shape  # 2 data + 2 slot
    (4, 4)
    """

    def __init__(
        self,
        block,
        max_layers,
        tol,
        verbose=0,
        patience=1,
        n_features=None,
        n_clusters=None,
        scale_exponent=0,
        weight_exponent=0,
        random_state=None,
        data_offset=None,
    ):
        self.block = block
        self.max_layers = max_layers
        self.tol = tol
        self.verbose = verbose
        self.patience = patience
        self.n_features = n_features
        self.n_clusters = n_clusters
        self.scale_exponent = scale_exponent
        self.weight_exponent = weight_exponent
        self.scaled_block = block.rescaled(scale_exponent, weight_exponent)
        self.random_state = random_state
        self.data_offset = data_offset
        self.sampling_state = None

    def __call__(self, points, centers, return_trace=False):
        """Run the network from initial centroids, fast.

        Parameters
        ----------
        points : PointTokens or PointStream
            The point tokens, or a stream of them (on Dask, say).
        centers : ndarray of shape (n_clusters, n_features)
        return_trace : bool, default=False
            Record every layer (without attention maps).

        Returns
        -------
        output : NetworkOutput
        """
        sampler = self.random_state
        start_state = None if sampler is None else sampler.get_state()
        stream = self.scaled_block.stream(points)
        output = self._run(
            LayerPass(self.scaled_block, stream, sampler),
            getattr(stream, "points", None),
            centers,
            self.max_layers,
            True,
            return_trace,
        )
        output.sampling_state = start_state
        return output

    def forward(
        self,
        X,
        centers,
        n_layers,
        sample_weight=None,
        return_trace=False,
        random_state=None,
        literal=True,
    ):
        """Run ``n_layers`` layers literally, with the dense weights as written.

        The token matrices are built, and every sublayer projects, scores,
        normalises and mixes with its dense weight matrices, then adds its
        residual; no stopping rule applies. This is for reading and checking
        the construction on small problems: the erase heads alone take
        ``O(n_samples^2)`` memory.

        From a fitted estimator's ``init_centers_`` it replays the fit, on
        the data as the fit embedded it (scaled by ``2**scale_exponent``,
        centred on ``data_offset``). With ``literal=False`` the replay is bit
        for bit when the fit ran in float64 on data in memory, seeded by
        samples or an array, and the data has not changed since. Otherwise
        the seeds or the data reach the layers through a rounding (a
        callable init returns centred centers, a fit on Dask seeds from a
        sample, ``copy_x=False`` gives the data back to rounding, values
        below the normal range round differently when scaled) and the
        replay agrees to rounding. The literal pass averages in its own
        order: its centroids differ from the fit's in their last digits
        (about ``1e-15`` of the data's scale). Agreeing to rounding, a point
        within that much of a tie between two centroids may take the other
        one, after which the two runs part (data with many exact ties, such
        as integer grids, shows it within a few layers). For k-medoids, whose
        centroids are samples, the literal pass too is bit for bit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        centers : array-like of shape (n_clusters, n_features)
            The initial centroids (for a fitted estimator, ``init_centers_``).
        n_layers : int
            Number of layers to apply (for a fitted estimator, ``n_iter_``).
        sample_weight : array-like of shape (n_samples,), default=None
        return_trace : bool, default=False
            Record every layer: centroids, labels, objective, attention maps.
        random_state : int or RandomState, default=None
            For an update attention that samples, the source of its noise;
            None replays the draws of the run that ``fit`` kept.
        literal : bool, default=True
            False runs the same layers through the fast pass that ``fit``
            uses (any size, no attention maps in the trace): a way to trace
            a fit after the fact.

        Returns
        -------
        output : NetworkOutput
            ``labels`` (consistent with the final centroids), ``centers``, and
            with ``return_trace`` a ``trace`` of one :class:`LayerRecord` per
            layer.
        """
        X = summed_duplicates(check_array(X, accept_sparse="csr", dtype=np.float64))
        if not self.block.takes_64bit_sparse_indices:
            X = with_32bit_indices(X)
        centers = check_array(centers, dtype=np.float64)
        if sample_weight is None:
            sample_weight = np.ones(X.shape[0])
        # The embedding the fit used, so that the layers round as they did.
        # Networks pickled before they held an offset had none.
        shift, offset = self.scale_exponent, getattr(self, "data_offset", None)
        X, centers = times_power_of_two(X, shift), times_power_of_two(centers, shift)
        if offset is not None and not sp.issparse(X):
            X, centers = X - offset, centers - offset
        else:
            offset = None
        weight_shift = self.weight_exponent
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        points = PointTokens(X, np.ldexp(sample_weight, weight_shift))
        block = self.scaled_block
        if random_state is not None:
            sampler = check_random_state(random_state)
        else:  # the draws of the run that fit kept
            sampler = np.random.RandomState()
            if self.sampling_state is not None:
                sampler.set_state(self.sampling_state)
        if literal:
            stream = LiteralStream(points, centers.shape[0])
        else:
            stream = block.stream(points)
        layer_pass = LayerPass(block, stream, sampler)
        output = self._run(layer_pass, points, centers, n_layers, False, return_trace)

        def in_data_units(centers):
            if offset is not None:
                centers = centers + offset
            if shift and block.normalisation is None:  # else unit centroids
                centers = times_power_of_two(centers, -shift)
            return centers

        output.centers = in_data_units(output.centers)
        for record in output.trace or []:
            record.centers = in_data_units(record.centers)
            record.objective = block.report_in_data_units(
                {"inertia": record.objective}, shift, weight_shift
            )["inertia"]
        return output

    def _run(self, layer_pass, points, centers, max_layers, stopping, return_trace):
        # BLAS stays on one thread for the whole run, as in KMeans' Lloyd
        # loop, rather than being limited and restored in every stream.
        with single_threaded_blas():
            block = layer_pass.block
            if block.normalisation is not None:
                centers = block.normalisation(centers)
            trace = [] if return_trace else None
            previous_labels = None
            strict_convergence = False
            converges_strictly = stopping and block.converges_strictly
            with_labels = converges_strictly or self.verbose or return_trace
            calm_layers = 0
            converged = False
            layer = -1
            for layer in range(max_layers):
                labels, new_centers, attention = layer_pass.layer(centers, with_labels)
                if self.verbose and points is not None:
                    # KMeans' line: the objective of the new assignment at the
                    # centroids it was made with.
                    name, value = block.printed_objective(points, centers, labels)
                    print(f"Iteration {layer}, {name} {value}.")
                if return_trace:
                    objective = block.objective(points, new_centers, labels)
                    trace.append(
                        LayerRecord(
                            new_centers,
                            labels,
                            objective,
                            attention,
                            layer_pass.stream.n_through_attention(),
                        )
                    )
                shift = float(np.sum((new_centers - centers) ** 2))
                centers = new_centers
                if converges_strictly and layer_pass.unchanged(labels, previous_labels):
                    strict_convergence = converged = True
                    if self.verbose:
                        print(f"Converged at iteration {layer}: strict convergence.")
                    break
                calm_layers = calm_layers + 1 if shift <= self.tol else 0
                if stopping and calm_layers >= self.patience:
                    converged = True
                    if self.verbose:
                        running = (
                            f" for {self.patience} consecutive iterations"
                            if self.patience > 1
                            else ""
                        )
                        print(
                            f"Converged at iteration {layer}: center shift {shift} "
                            f"within tolerance {self.tol}{running}."
                        )
                    break
                previous_labels = labels
            dissimilarities = None
            if not strict_convergence:
                labels, dissimilarities = layer_pass.final_labels(centers)
            return NetworkOutput(
                labels,
                centers,
                layer + 1,
                strict_convergence,
                trace,
                dissimilarities,
                converged=converged,
            )

    def parameters(self):
        """The block's weights, shared by every layer: ``"component.name" -> array``."""
        return self.block.parameters(self.n_features, self.n_clusters)

    def __repr__(self):
        return (
            f"Network(block={type(self.block).__name__}, max_layers={self.max_layers})"
        )

    def __str__(self):
        size = self.n_features + self.n_clusters
        lines = [
            f"Network: one Block looped up to {self.max_layers} times, weights shared",
            f"  tokens: {self.n_features} data + {self.n_clusters} slot = {size} "
            "coordinates",
        ]
        parameters = self.parameters()
        for name, component in self.block.components().items():
            if component is None:
                lines.append(f"  ({name}): none")
                continue
            weights = {
                key.split(".", 1)[1]: matrix
                for key, matrix in parameters.items()
                if key.startswith(name + ".")
            }
            heads = 1 + any(key.startswith("erase.") for key in weights)
            shapes = sorted(
                {"x".join(map(str, matrix.shape)) for matrix in weights.values()}
            )
            detail = (
                f"; {heads} head{'s' if heads > 1 else ''}, {len(weights)} weights "
                f"({', '.join(shapes)})"
                if weights
                else ""
            )
            lines.append(f"  ({name}): {component!r}{detail}")
        n_values = sum(matrix.size for matrix in parameters.values())
        n_nonzero = sum(int(np.count_nonzero(matrix)) for matrix in parameters.values())
        lines.append(f"  parameters: {n_values} ({n_nonzero} non-zero)")
        return "\n".join(lines)
