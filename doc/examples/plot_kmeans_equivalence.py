"""
=============================================
TransformerKMeans gives the labels of KMeans
=============================================

:class:`~sklearn_kmt.TransformerKMeans` runs Lloyd's algorithm as the forward
pass of a transformer: one layer per iteration. Seeded alike, it returns the
labels of scikit-learn's :class:`~sklearn.cluster.KMeans` with
``algorithm="lloyd"`` after the same number of iterations, and centers and
inertia equal to rounding. This example checks that on two data sets and
times both estimators.
"""

# %%
# The same fit, twice
# -------------------
# Overlapping blobs need a few dozen iterations, which gives the two
# estimators room to drift apart if they were not the same algorithm.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.metrics import confusion_matrix

from sklearn_kmt import TransformerKMeans

X_blobs, _ = make_blobs(n_samples=3000, centers=6, cluster_std=2.5, random_state=3)
X_digits, _ = load_digits(return_X_y=True)


def compare(X, n_clusters):
    """Fit both estimators from the same seed; return them and a summary."""
    reference = KMeans(n_clusters, algorithm="lloyd", n_init=1, random_state=0).fit(X)
    transformer = TransformerKMeans(n_clusters, n_init=1, random_state=0).fit(X)
    summary = {
        "labels identical": bool(
            np.array_equal(reference.labels_, transformer.labels_)
        ),
        "n_iter (KMeans, transformer)": (reference.n_iter_, transformer.n_iter_),
        "largest center difference": float(
            np.abs(reference.cluster_centers_ - transformer.cluster_centers_).max()
        ),
        "relative inertia difference": float(
            abs(reference.inertia_ - transformer.inertia_) / reference.inertia_
        ),
    }
    return reference, transformer, summary


results = {
    "blobs": compare(X_blobs, 6),
    "digits": compare(X_digits, 10),
}
for name, (_, _, summary) in results.items():
    print(name)
    for key, value in summary.items():
        print(f"    {key}: {value}")

# %%
# On the blobs, the two partitions and the two sets of centers coincide: the
# contingency table of the two labelings is diagonal, so not one point is
# assigned differently.
reference, transformer, _ = results["blobs"]
fig, (ax_points, ax_table) = plt.subplots(1, 2, figsize=(11, 4.8))
ax_points.scatter(
    X_blobs[:, 0], X_blobs[:, 1], c=transformer.labels_, cmap="tab10", s=6, alpha=0.5
)
ax_points.scatter(
    *reference.cluster_centers_.T,
    s=260,
    facecolors="none",
    edgecolors="black",
    linewidths=2,
    label="KMeans centers",
)
ax_points.scatter(
    *transformer.cluster_centers_.T, s=60, c="red", marker="x", label="transformer"
)
ax_points.legend(loc="lower right")
ax_points.set_title("Labels of TransformerKMeans, centers of both")
table = confusion_matrix(reference.labels_, transformer.labels_)
image = ax_table.imshow(table, cmap="Blues")
for (i, j), count in np.ndenumerate(table):
    ax_table.text(j, i, count, ha="center", va="center", fontsize=8)
ax_table.set_xlabel("TransformerKMeans label")
ax_table.set_ylabel("KMeans label")
ax_table.set_title("Points per pair of labels")
fig.colorbar(image, ax=ax_table)
fig.tight_layout()

# %%
# Fit times
# ---------
# To compare the cost of a layer of the transformer with that of a compiled
# Lloyd iteration, both estimators start from the same centers and run
# exactly 20 iterations (``tol=0``), alternately, after one untimed fit each
# (the first call of either pays one-off costs). The median of five fits,
# divided by 20, is shown for each size (10 features, 8 clusters); the
# numbers depend on the machine that built this page, and
# ``benchmarks/compare_sklearn.py`` measures a larger grid.
sizes = [10_000, 50_000, 200_000]
n_layers = 20
timings = {"KMeans": [], "TransformerKMeans": []}
for n_samples in sizes:
    X, _ = make_blobs(
        n_samples=n_samples, centers=8, n_features=10, cluster_std=4.0, random_state=0
    )
    same = dict(init=X[:8], n_init=1, max_iter=n_layers, tol=0)
    models = {
        "KMeans": KMeans(8, algorithm="lloyd", **same),
        "TransformerKMeans": TransformerKMeans(8, **same),
    }
    times = {name: [] for name in models}
    for model in models.values():
        clone(model).fit(X)
    for _ in range(5):
        for name, model in models.items():
            start = time.perf_counter()
            clone(model).fit(X)
            times[name].append(time.perf_counter() - start)
    for name in models:
        timings[name].append(np.median(times[name]) / n_layers)
        print(
            f"{name:>18} n={n_samples:>7}: "
            f"{1e3 * np.median(times[name]) / n_layers:6.2f} ms per iteration"
        )

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in timings.items():
    ax.plot(sizes, 1e3 * np.array(values), marker="o", label=name)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xticks(sizes, labels=[f"{size:,}" for size in sizes])
ax.minorticks_off()
ax.set_xlabel("number of samples")
ax.set_ylabel("median fit time per iteration (ms)")
ax.set_title("Cost of an iteration, same data")
ax.legend()
fig.tight_layout()
plt.show()
