"""Tests of the plots of a traced forward pass."""

import importlib
import re
import sys

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sklearn_kmt import TransformerKMeans, TransformerTrimmedKMeans

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from sklearn_kmt.plotting import (  # noqa: E402
    plot_attention,
    plot_centroid_trajectories,
    plot_objective,
)

MISSING_MATPLOTLIB = "sklearn_kmt.plotting needs matplotlib: pip install matplotlib"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def traced(estimator, X):
    estimator.fit(X)
    output = estimator.network_.forward(
        X, estimator.init_centers_, estimator.n_iter_, return_trace=True
    )
    return estimator, output.trace


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=60, centers=3, cluster_std=1.5, random_state=0)
    return X


@pytest.fixture(scope="module")
def fitted(blobs):
    return traced(TransformerKMeans(n_clusters=3, random_state=0), blobs)


@pytest.mark.parametrize("which", ["assign_attention", "update_attention"])
def test_plot_attention_shows_the_map(fitted, which):
    _, trace = fitted
    record = trace[0]
    ax = plot_attention(record, which=which)
    assert isinstance(ax, Axes)
    (image,) = ax.images
    np.testing.assert_array_equal(image.get_array(), record.attention[which])
    assert ax.get_aspect() == "auto"
    assert ax.get_xlabel() and ax.get_ylabel()
    # The colorbar is a second axes of the same figure.
    assert len(ax.figure.axes) == 2


def test_plot_attention_draws_a_hard_map_with_two_colours_at_any_size():
    # Many more points than rows of pixels: every pixel drawn is the colour
    # of 0 or of 1, none of a weight in between.
    X, _ = make_blobs(n_samples=600, centers=4, cluster_std=2.0, random_state=0)
    kmeans, trace = traced(TransformerKMeans(n_clusters=4, random_state=0), X)
    fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
    plot_attention(trace[0], ax=ax, sort_by=kmeans.labels_)
    fig.canvas.draw()
    (image,) = ax.images
    pixels, *_ = image.make_image(fig.canvas.get_renderer(), unsampled=False)
    assert pixels.shape[0] < 600  # drawn smaller than the map
    colours = np.unique(pixels[..., :3].reshape(-1, 3), axis=0)
    ends = (np.array([image.cmap(0.0)[:3], image.cmap(1.0)[:3]]) * 255).round()
    assert len(colours) == 2
    assert np.abs(np.sort(colours, axis=0) - np.sort(ends, axis=0)).max() <= 1


def test_plot_attention_sorted_points_form_blocks(fitted):
    kmeans, trace = fitted
    record = trace[-1]
    order = np.argsort(kmeans.labels_, kind="stable")

    assign = plot_attention(record, sort_by=kmeans.labels_).images[0].get_array()
    np.testing.assert_array_equal(assign, record.attention["assign_attention"][order])
    # Hard assignments of the final layer: each row's one is in its cluster's
    # column, and the rows of a cluster are contiguous.
    np.testing.assert_array_equal(np.argmax(assign, axis=1), kmeans.labels_[order])
    assert np.all(np.diff(np.argmax(assign, axis=1)) >= 0)

    update = (
        plot_attention(record, which="update_attention", sort_by=kmeans.labels_)
        .images[0]
        .get_array()
    )
    np.testing.assert_array_equal(
        update, record.attention["update_attention"][:, order]
    )


def test_plot_attention_draws_on_given_axes(fitted):
    _, trace = fitted
    _, ax = plt.subplots()
    assert plot_attention(trace[0], ax=ax) is ax


def test_plot_attention_rejects_bad_input(fitted):
    _, trace = fitted
    with pytest.raises(ValueError, match="which must be one of"):
        plot_attention(trace[0], which="relocation_head")
    with pytest.raises(ValueError, match="one label per point"):
        plot_attention(trace[0], sort_by=np.zeros(5))

    class NoAttention:
        attention = None

    with pytest.raises(ValueError, match="no attention maps"):
        plot_attention(NoAttention())


def test_plot_centroid_trajectories_follow_the_centers(fitted, blobs):
    kmeans, trace = fitted
    ax = plot_centroid_trajectories(blobs, trace, init_centers=kmeans.init_centers_)
    assert isinstance(ax, Axes)
    assert len(ax.lines) == kmeans.n_clusters
    for j, line in enumerate(ax.lines):
        path = np.array(
            [kmeans.init_centers_[j]] + [record.centers[j] for record in trace]
        )
        np.testing.assert_allclose(line.get_xdata(), path[:, 0])
        np.testing.assert_allclose(line.get_ydata(), path[:, 1])
    data, final = ax.collections[0], ax.collections[-1]
    np.testing.assert_allclose(data.get_offsets(), blobs)
    np.testing.assert_allclose(final.get_offsets(), trace[-1].centers)
    np.testing.assert_allclose(final.get_offsets(), kmeans.cluster_centers_)


def test_plot_centroid_trajectories_without_init_centers(fitted, blobs):
    kmeans, trace = fitted
    ax = plot_centroid_trajectories(blobs, trace)
    assert len(ax.lines) == kmeans.n_clusters
    np.testing.assert_allclose(
        ax.lines[0].get_xdata(), [record.centers[0, 0] for record in trace]
    )


def test_plot_centroid_trajectories_colors_by_labels(fitted, blobs):
    _, trace = fitted
    labels = np.arange(len(blobs)) % 2
    ax = plot_centroid_trajectories(blobs, trace, labels=labels)
    colors = ax.collections[0].get_facecolors()
    assert len({tuple(color) for color in colors}) == 2
    np.testing.assert_array_equal(colors[labels == 0], colors[[0]].repeat(30, 0))
    np.testing.assert_array_equal(colors[labels == 1], colors[[1]].repeat(30, 0))


def test_plot_centroid_trajectories_trimmed_points_are_grey(blobs):
    trimmed, trace = traced(
        TransformerTrimmedKMeans(n_clusters=3, trim_fraction=0.1, random_state=0),
        blobs,
    )
    labels = trace[-1].labels
    assert np.any(labels == -1)
    ax = plot_centroid_trajectories(blobs, trace, trimmed.init_centers_)
    colors = ax.collections[0].get_facecolors()
    grey = colors[labels == -1]
    assert np.allclose(grey[:, 0], grey[:, 1]) and np.allclose(grey[:, 1], grey[:, 2])
    kept = colors[labels >= 0]
    assert not np.any(
        np.isclose(kept[:, 0], kept[:, 1]) & np.isclose(kept[:, 1], kept[:, 2])
    )
    assert "trimmed point" in [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("shape", [(60, 3), (60, 1), (60,)])
def test_plot_centroid_trajectories_needs_2d_data(fitted, shape):
    _, trace = fitted
    with pytest.raises(ValueError, match=r"needs 2-D data.*\(n_samples, 2\)"):
        plot_centroid_trajectories(np.zeros(shape), trace)


def test_plot_objective_shows_each_layer(fitted):
    _, trace = fitted
    ax = plot_objective(trace)
    assert isinstance(ax, Axes)
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(trace) + 1))
    np.testing.assert_array_equal(
        line.get_ydata(), [record.objective for record in trace]
    )
    assert line.get_marker() not in (None, "None", "")
    assert ax.get_xlabel() == "layer" and ax.get_ylabel() == "objective"


def test_package_imports_without_matplotlib(monkeypatch, fitted):
    _, trace = fitted
    for name in list(sys.modules):
        if name == "sklearn_kmt" or name.startswith("sklearn_kmt."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    importlib.import_module("sklearn_kmt")
    plotting = importlib.import_module("sklearn_kmt.plotting")
    with pytest.raises(ImportError, match=re.escape(MISSING_MATPLOTLIB)):
        plotting.plot_objective(trace)


def test_spherical_paths_are_drawn_on_the_unit_circle():
    from sklearn_kmt import TransformerSphericalKMeans

    X, _ = make_blobs(n_samples=90, centers=[[5, 1], [1, 5], [-4, -3]], random_state=0)
    spherical, trace = traced(TransformerSphericalKMeans(3, random_state=0), X)
    ax = plot_centroid_trajectories(X, trace, spherical.init_centers_)
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)
    finals = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(finals, spherical.cluster_centers_)
    (circle,) = ax.patches
    assert circle.get_radius() == 1.0
    assert "unit circle" in ax.get_title()
    # k-means draws the data as it is, without a circle.
    kmeans, kmeans_trace = traced(TransformerKMeans(3, random_state=0), X)
    ax = plot_centroid_trajectories(X, kmeans_trace)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), X)
    assert not ax.patches
