"""
=========================================
The variants side by side on one data set
=========================================

Each variant of the k-means transformer changes one component of the layer
(see :doc:`/construction`):

- :class:`~sklearn_kmt.TransformerKMeans`: hardmax assignment, mean update;
- :class:`~sklearn_kmt.TransformerSoftKMeans`: softmax assignment;
- :class:`~sklearn_kmt.TransformerSphericalKMeans`: a normalisation layer that
  puts the tokens on the unit sphere;
- :class:`~sklearn_kmt.TransformerTrimmedKMeans`: an MLP gate that drops the
  farthest points from the update;
- :class:`~sklearn_kmt.TransformerKMedoids`: an update that samples members
  instead of averaging them.

They run here on the same toy data: two round clusters, an elongated one,
and a cloud of outliers away from them.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)

rng = np.random.default_rng(0)
round_a = rng.normal([-4.0, 4.0], 0.7, size=(150, 2))
round_b = rng.normal([4.0, 5.0], 0.7, size=(150, 2))
# An elongated cluster: a stretched and rotated blob.
stretch = np.array([[3.0, 0.0], [0.0, 0.35]])
angle = np.deg2rad(20)
rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
elongated = rng.normal(size=(200, 2)) @ stretch @ rotation.T + [1.0, -3.0]
outliers = rng.normal([13.0, -10.0], 1.8, size=(30, 2))
X = np.vstack([round_a, round_b, elongated, outliers])
is_outlier = np.r_[np.zeros(500, dtype=bool), np.ones(30, dtype=bool)]

# %%
# Five fits
# ---------
# Every estimator looks for three clusters. The soft one uses ``beta = 0.1``,
# a temperature comparable to the squared spread of the clusters; the trimmed
# one drops 6% of the points, about the share of outliers.
models = {
    "k-means": TransformerKMeans(n_clusters=3, random_state=0),
    "soft k-means (beta=0.1)": TransformerSoftKMeans(
        n_clusters=3, beta=0.1, random_state=0
    ),
    "spherical k-means": TransformerSphericalKMeans(n_clusters=3, random_state=0),
    "trimmed k-means (6%)": TransformerTrimmedKMeans(
        n_clusters=3, trim_fraction=0.06, random_state=0
    ),
    "k-medoids": TransformerKMedoids(n_clusters=3, random_state=0),
}
for name, model in models.items():
    model.fit(X)
    print(f"{name:>24}: {model.n_iter_:3d} layers, inertia {model.inertia_:9.2f}")

# %%
# What each found
# ---------------
# The soft panel shades each point by the responsibility of its most
# responsible centroid (pale: shared between centroids). The spherical panel
# draws the centroid directions as rays from the origin: it clusters by angle
# alone. Trimmed points are grey. Medoids are data points.
colors = plt.get_cmap("tab10").colors
fig, axes = plt.subplots(2, 3, figsize=(13, 8.5), sharex=True, sharey=True)
ax = axes[0, 0]
ax.scatter(X[~is_outlier, 0], X[~is_outlier, 1], s=8, c="tab:blue", alpha=0.5)
ax.scatter(X[is_outlier, 0], X[is_outlier, 1], s=18, c="black", marker="+")
ax.set_title("the data (+: outliers)")

for ax, (name, model) in zip(axes.ravel()[1:], models.items(), strict=True):
    labels = model.labels_
    kept = labels >= 0
    point_colors = np.array([colors[label] for label in np.maximum(labels, 0)])
    if isinstance(model, TransformerSoftKMeans):
        confidence = model.predict_proba(X).max(axis=1)
        point_colors = np.column_stack([point_colors, confidence])
    else:
        point_colors = np.column_stack([point_colors, np.full(len(X), 0.6)])
    point_colors[~kept] = (0.6, 0.6, 0.6, 0.8)
    ax.scatter(X[:, 0], X[:, 1], s=8, c=point_colors)
    centers = model.cluster_centers_
    if isinstance(model, TransformerSphericalKMeans):
        for j, direction in enumerate(centers):
            ax.plot([0, 14 * direction[0]], [0, 14 * direction[1]], c=colors[j], lw=2)
        ax.plot(0, 0, "k+", ms=12)
        centers = 6 * centers
    ax.scatter(
        centers[:, 0],
        centers[:, 1],
        s=180,
        c=[colors[j] for j in range(len(centers))],
        marker="*" if isinstance(model, TransformerKMedoids) else "X",
        edgecolors="black",
        linewidths=1.2,
    )
    if isinstance(model, TransformerTrimmedKMeans):
        ax.set_title(f"{name}: {int((~kept).sum())} trimmed")
    else:
        ax.set_title(name)
for ax in axes.ravel():
    ax.set_aspect("equal")
fig.tight_layout()

# %%
# The outlier cloud pulls the k-means centroid of the elongated cluster
# toward it: every point counts in the mean, however far. Soft k-means at
# this temperature is pulled the same way, and its centroids also lean toward
# one another, because every point gives a little weight to every centroid.
# The trimming gate drops the cloud from the update, and the k-medoids
# centroids, which must be data points that minimise the summed distance to
# their cluster, stay in the dense parts. Spherical k-means splits the plane
# into angular sectors around the origin, which suits directional data (such
# as text, see the spherical example) rather than these clusters.
#
# How far does each centroid sit from the nearest true cluster center?
true_centers = np.array([[-4.0, 4.0], [4.0, 5.0], [1.0, -3.0]])
for name, model in models.items():
    if isinstance(model, TransformerSphericalKMeans):
        continue
    gaps = np.linalg.norm(
        model.cluster_centers_[:, None, :] - true_centers[None, :, :], axis=2
    ).min(axis=1)
    print(f"{name:>24}: farthest centroid {gaps.max():.2f} from a true center")
plt.show()
