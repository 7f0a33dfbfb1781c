"""Plots of what the transformer does, layer by layer.

The functions read the trace of a literal forward pass,
``network_.forward(X, init_centers_, n_iter_, return_trace=True).trace``: a
list with one :class:`~sklearn_kmt._network.LayerRecord` per layer. They need
matplotlib, which the rest of the package does not: it is imported when a
function is called, not when this module is.
"""

import numpy as np

from ._components import unit_rows

__all__ = ["plot_attention", "plot_centroid_trajectories", "plot_objective"]

_MISSING_MATPLOTLIB = "sklearn_kmt.plotting needs matplotlib: pip install matplotlib"
_TRIMMED_COLOR = (0.6, 0.6, 0.6, 1.0)

# Which axis of each attention map indexes the points (the other indexes the
# centroids); the maps are stored as (queries, keys).
_POINT_AXIS = {"assign_attention": 0, "update_attention": 1}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_MISSING_MATPLOTLIB) from exc
    return plt


def _axes(ax):
    """The given axes, or the axes of a new figure."""
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots()
    return ax


def _integer_ticks(axis):
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _palette(n_colors):
    """``n_colors`` distinct colors, cycled from a qualitative colormap."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n_colors <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n_colors)]


def _trajectory_legend(start, trimmed):
    """Legend entries of the trajectory plot, grey as they stand for every path."""
    from matplotlib.lines import Line2D

    def entry(label, **style):
        style = {"color": "none", "markeredgecolor": "black", **style}
        return Line2D([], [], label=label, **style)

    handles = []
    if start:
        handles.append(entry("start", marker="o", markerfacecolor="white"))
    handles.append(
        entry(
            "after a layer",
            color="grey",
            marker="o",
            markersize=4.5,
            markeredgewidth=0.6,
            markerfacecolor="grey",
        )
    )
    handles.append(
        entry("final centroid", marker="X", markersize=10, markerfacecolor="grey")
    )
    if trimmed:
        handles.append(
            entry(
                "trimmed point",
                marker="o",
                markersize=4,
                markeredgecolor="none",
                markerfacecolor=_TRIMMED_COLOR,
            )
        )
    return handles


def plot_attention(record, which="assign_attention", ax=None, sort_by=None):
    """Show one attention map of one layer as a heatmap.

    Parameters
    ----------
    record : LayerRecord
        One layer of the trace of a literal forward pass, or any object with
        an ``attention`` dict holding the map named by ``which``.
    which : {"assign_attention", "update_attention"}, default="assign_attention"
        The map to show. ``"assign_attention"`` has one row per point (query)
        and one column per centroid (key): where each point reads its
        assignment from. ``"update_attention"`` has one row per centroid and
        one column per point: which points each centroid averages.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    sort_by : array-like of shape (n_samples,), default=None
        Cluster labels of the points (for instance the record's ``labels`` or
        the estimator's ``labels_``). The points are ordered by them, stably,
        so that each cluster forms a block. None keeps the input order.

    Returns
    -------
    ax : matplotlib Axes
        The axes holding the image, with a colorbar beside them.

    Raises
    ------
    ValueError
        If the record has no attention maps (a trace of the fast pass), if
        ``which`` is not one of the two maps, or if ``sort_by`` does not have
        one label per point.

    See Also
    --------
    plot_centroid_trajectories : Where the centroids move, layer by layer.
    plot_objective : The objective after each layer.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_kmt import TransformerKMeans
    >>> from sklearn_kmt.plotting import plot_attention
    >>> X, _ = make_blobs(n_samples=30, centers=3, random_state=0)
    >>> kmeans = TransformerKMeans(n_clusters=3, random_state=0).fit(X)
    >>> trace = kmeans.network_.forward(
    ...     X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
    ... ).trace
    >>> ax = plot_attention(trace[-1], sort_by=kmeans.labels_)
    >>> ax.images[0].get_array().shape
    (30, 3)
    >>> ax = plot_attention(trace[-1], which="update_attention")
    >>> ax.get_ylabel()
    'centroid (query)'
    >>> plt.close("all")
    """
    attention = getattr(record, "attention", None)
    if attention is None:
        raise ValueError(
            "The record holds no attention maps; trace a literal pass with "
            "network_.forward(..., return_trace=True)."
        )
    if which not in _POINT_AXIS:
        raise ValueError(f"which must be one of {sorted(_POINT_AXIS)}; got {which!r}.")
    weights = np.asarray(attention[which])
    point_axis = _POINT_AXIS[which]
    if sort_by is not None:
        sort_by = np.asarray(sort_by)
        n_points = weights.shape[point_axis]
        if sort_by.shape != (n_points,):
            raise ValueError(
                f"sort_by must hold one label per point, {n_points}; got an "
                f"array of shape {sort_by.shape}."
            )
        weights = np.take(weights, np.argsort(sort_by, kind="stable"), point_axis)

    ax = _axes(ax)
    # Each weight as it is, at any size: smoothing would draw a hard 0/1
    # map with gradients where many points share a row of pixels.
    image = ax.imshow(
        weights, aspect="auto", cmap="viridis", vmin=0.0, interpolation="nearest"
    )
    ax.figure.colorbar(image, ax=ax, label="attention weight")
    point_label = "point" + (", sorted by cluster" if sort_by is not None else "")
    if point_axis == 0:
        ax.set_ylabel(f"{point_label} (query)")
        ax.set_xlabel("centroid (key)")
        _integer_ticks(ax.xaxis)
    else:
        ax.set_ylabel("centroid (query)")
        ax.set_xlabel(f"{point_label} (key)")
        _integer_ticks(ax.yaxis)
    ax.set_title(which.replace("_", " "))
    return ax


def plot_centroid_trajectories(X, trace, init_centers=None, ax=None, labels=None):
    """Show 2-D data and the path of every centroid across the layers.

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        The data the network ran on; it must have exactly two features. When
        every centroid of the trace has unit norm (a network with a
        normalisation layer, spherical k-means), the points are drawn
        normalised, as that layer sees them, with the unit circle.
    trace : list of LayerRecord
        The trace of a forward pass: one record per layer, each with the
        ``centers`` after that layer and the ``labels`` it wrote.
    init_centers : array-like of shape (n_clusters, 2), default=None
        The centroids before the first layer (the estimator's
        ``init_centers_``); when given, the paths start there.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.
    labels : array-like of shape (n_samples,), default=None
        Colors of the points: point ``i`` takes the color of cluster
        ``labels[i]``. None uses the labels the last layer wrote. Points
        labelled -1 (trimmed) are grey.

    Returns
    -------
    ax : matplotlib Axes
        The axes holding the scatter of the data (the first collection), one
        line per centroid in ``ax.lines``, in centroid order, the starting
        centroids when ``init_centers`` is given, and the final centroids
        (the last collection).

    Raises
    ------
    ValueError
        If ``X`` or the centers do not have two features, if ``trace`` is
        empty, or if ``labels`` does not have one label per sample.

    See Also
    --------
    plot_attention : One attention map of one layer.
    plot_objective : The objective after each layer.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_kmt import TransformerKMeans
    >>> from sklearn_kmt.plotting import plot_centroid_trajectories
    >>> X, _ = make_blobs(n_samples=30, centers=3, random_state=0)
    >>> kmeans = TransformerKMeans(n_clusters=3, random_state=0).fit(X)
    >>> trace = kmeans.network_.forward(
    ...     X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
    ... ).trace
    >>> ax = plot_centroid_trajectories(X, trace, kmeans.init_centers_)
    >>> len(ax.lines)  # one path per centroid
    3
    >>> len(ax.lines[0].get_xdata()) == kmeans.n_iter_ + 1  # start, then layers
    True
    >>> plt.close("all")
    """
    if hasattr(X, "toarray"):
        X = X.toarray()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            "plot_centroid_trajectories needs 2-D data, an array of shape "
            f"(n_samples, 2); got X of shape {X.shape}."
        )
    if len(trace) == 0:
        raise ValueError("The trace is empty: it holds no layer to plot.")
    path = [np.asarray(record.centers, dtype=float) for record in trace]
    if init_centers is not None:
        path.insert(0, np.asarray(init_centers, dtype=float))
    path = np.stack(path)  # (n_steps, n_clusters, n_features)
    if path.shape[2] != 2:
        raise ValueError(
            f"The centers must have 2 features, like X; got {path.shape[2]}."
        )
    # A network with a normalisation layer keeps its centroids on the unit
    # sphere: draw the data as that layer sees it, on the unit circle.
    on_sphere = _unit_rows(path[1:] if init_centers is not None else path)
    if on_sphere:
        X = unit_rows(X)
        path[0] = unit_rows(path[0])
    n_clusters = path.shape[1]
    labels = np.asarray(trace[-1].labels if labels is None else labels)
    if labels.shape != (X.shape[0],):
        raise ValueError(
            f"labels must hold one label per sample, {X.shape[0]}; got an array "
            f"of shape {labels.shape}."
        )
    if labels.dtype.kind in "iu":
        codes = labels
    else:
        _, codes = np.unique(labels, return_inverse=True)
    kept = codes >= 0

    ax = _axes(ax)
    palette = _palette(max(n_clusters, int(codes.max(initial=-1)) + 1))
    point_colors = np.full((X.shape[0], 4), _TRIMMED_COLOR)
    point_colors[kept] = [palette[code] for code in codes[kept]]
    ax.scatter(X[:, 0], X[:, 1], c=point_colors, s=14, alpha=0.45, linewidths=0)
    for j in range(n_clusters):
        ax.plot(
            path[:, j, 0],
            path[:, j, 1],
            color=palette[j],
            linewidth=1.8,
            marker="o",
            markersize=4.5,
            markeredgecolor="black",
            markeredgewidth=0.6,
        )
    if init_centers is not None:
        ax.scatter(
            path[0, :, 0],
            path[0, :, 1],
            c="white",
            s=40,
            edgecolors=palette[:n_clusters],
            linewidths=1.8,
            zorder=3,
        )
    ax.scatter(
        path[-1, :, 0],
        path[-1, :, 1],
        c=palette[:n_clusters],
        s=130,
        marker="X",
        edgecolors="black",
        linewidths=1.0,
        zorder=3,
    )
    ax.legend(
        handles=_trajectory_legend(init_centers is not None, (~kept).any()),
        fontsize="small",
    )
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    n_layers = len(trace)
    title = f"Centroid paths over {n_layers} layer{'s' if n_layers != 1 else ''}"
    if on_sphere:
        from matplotlib.patches import Circle

        ax.add_patch(
            Circle((0, 0), 1.0, fill=False, color="grey", linestyle="--", zorder=0)
        )
        ax.set_xlabel("feature 0 (normalised)")
        ax.set_ylabel("feature 1 (normalised)")
        title += ", on the unit circle"
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)
    return ax


def _unit_rows(centers):
    """Whether every centroid of every step has unit norm (to rounding)."""
    norms = np.sqrt(np.sum(centers**2, axis=-1))
    return bool(np.all(np.abs(norms - 1.0) <= 1e-9))


def plot_objective(trace, ax=None):
    """Show the objective after each layer.

    Parameters
    ----------
    trace : list of LayerRecord
        The trace of a forward pass: one record per layer, each with its
        ``objective`` (the inertia of that layer's assignment and centroids;
        for trimmed k-means, of the points it keeps).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure is made when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes holding one line: x the layers 1 to ``len(trace)``, y their
        objectives.

    See Also
    --------
    plot_attention : One attention map of one layer.
    plot_centroid_trajectories : Where the centroids move, layer by layer.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_kmt import TransformerKMeans
    >>> from sklearn_kmt.plotting import plot_objective
    >>> X, _ = make_blobs(n_samples=30, centers=3, random_state=0)
    >>> kmeans = TransformerKMeans(n_clusters=3, random_state=0).fit(X)
    >>> trace = kmeans.network_.forward(
    ...     X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
    ... ).trace
    >>> ax = plot_objective(trace)
    >>> objective = ax.lines[0].get_ydata()
    >>> bool(objective[-1] <= objective[0])  # Lloyd never increases it
    True
    >>> plt.close("all")
    """
    objectives = [float(record.objective) for record in trace]
    ax = _axes(ax)
    ax.plot(np.arange(1, len(objectives) + 1), objectives, marker="o")
    _integer_ticks(ax.xaxis)
    ax.set_xlabel("layer")
    ax.set_ylabel("objective")
    ax.set_title("Objective after each layer")
    return ax
