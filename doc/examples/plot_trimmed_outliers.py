"""
=======================================
Trimmed k-means as an outlier detector
=======================================

:class:`~sklearn_kmt.TransformerTrimmedKMeans` adds a gate after the
assignment attention: in every layer it zeroes the assignment slots of the
points farthest from their centroid, a fraction ``trim_fraction`` of the
data, so that the update attention averages only the points it keeps. The
trimmed points get the label -1, and ``predict`` gives -1 to any sample
farther than the fitted ``radius_`` from its nearest centroid: the fitted
model is an outlier detector.
"""

# %%
# Clusters with contamination
# ---------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import precision_score, recall_score

from sklearn_kmt import TransformerKMeans, TransformerTrimmedKMeans

inliers, _ = make_blobs(
    n_samples=570,
    centers=[[-3, -3], [3, -2], [0, 3]],
    cluster_std=0.9,
    random_state=1,
)
rng = np.random.default_rng(1)
outliers = rng.uniform(-12, 12, size=(30, 2))
X = np.vstack([inliers, outliers])
is_outlier = np.r_[np.zeros(len(inliers), dtype=bool), np.ones(30, dtype=bool)]

trimmed = TransformerTrimmedKMeans(n_clusters=3, trim_fraction=0.05, random_state=0)
trimmed.fit(X)
kmeans = TransformerKMeans(n_clusters=3, random_state=0).fit(X)
flagged = trimmed.labels_ == -1
print(f"{flagged.sum()} points trimmed; radius {trimmed.radius_:.2f}")
print(
    f"precision {precision_score(is_outlier, flagged):.2f}, "
    f"recall {recall_score(is_outlier, flagged):.2f}"
)

# %%
# Centroids with and without the gate
# -----------------------------------
# Without the gate every outlier counts in a mean and drags its centroid; with
# it the centroids are those of the clean clusters. The right panel shades the
# region where ``predict`` returns -1: beyond ``radius_`` from every
# centroid.
true_centers = np.array([[-3, -3], [3, -2], [0, 3]])
fig, (ax_kmeans, ax_trimmed) = plt.subplots(1, 2, figsize=(12, 5.5))
ax_kmeans.scatter(*X.T, c=kmeans.labels_, cmap="tab10", vmax=9, s=10, alpha=0.6)
ax_kmeans.scatter(
    *kmeans.cluster_centers_.T, s=200, marker="X", c="black", label="centroids"
)
ax_kmeans.scatter(
    *true_centers.T,
    s=120,
    facecolors="none",
    edgecolors="red",
    linewidths=2,
    label="true centers",
)
ax_kmeans.set_title("TransformerKMeans: the outliers pull the centroids")
ax_kmeans.legend(loc="lower left")

grid_x, grid_y = np.meshgrid(np.linspace(-13, 13, 300), np.linspace(-13, 13, 300))
grid_labels = trimmed.predict(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
ax_trimmed.contourf(
    grid_x,
    grid_y,
    (grid_labels == -1).reshape(grid_x.shape),
    levels=[0.5, 1.5],
    colors=["0.9"],
)
kept = ~flagged
ax_trimmed.scatter(
    *X[kept].T, c=trimmed.labels_[kept], cmap="tab10", vmax=9, s=10, alpha=0.6
)
ax_trimmed.scatter(*X[flagged].T, s=40, marker="x", c="black", label="trimmed")
ax_trimmed.scatter(
    *X[is_outlier & ~flagged].T,
    s=90,
    facecolors="none",
    edgecolors="magenta",
    label="outlier kept",
)
ax_trimmed.scatter(*trimmed.cluster_centers_.T, s=200, marker="X", c="black")
ax_trimmed.scatter(
    *true_centers.T, s=120, facecolors="none", edgecolors="red", linewidths=2
)
ax_trimmed.set_title("TransformerTrimmedKMeans (5%): grey is predicted -1")
ax_trimmed.legend(loc="lower left")
for ax in (ax_kmeans, ax_trimmed):
    ax.set_xlim(-13, 13)
    ax.set_ylim(-13, 13)
    ax.set_aspect("equal")
fig.tight_layout()

for name, model in [("k-means", kmeans), ("trimmed", trimmed)]:
    gaps = np.linalg.norm(
        model.cluster_centers_[:, None] - true_centers[None], axis=2
    ).min(axis=1)
    print(f"{name:>8}: centroids at most {gaps.max():.2f} from a true center")

# %%
# How much to trim
# ----------------
# With 5% of the points being outliers, trimming less leaves some outliers
# in the clusters (lower recall) and trimming more cuts into the clusters'
# tails (lower precision).
fractions = np.linspace(0.01, 0.15, 15)
precision, recall = [], []
for fraction in fractions:
    labels = (
        TransformerTrimmedKMeans(n_clusters=3, trim_fraction=fraction, random_state=0)
        .fit(X)
        .labels_
    )
    precision.append(precision_score(is_outlier, labels == -1))
    recall.append(recall_score(is_outlier, labels == -1))
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(fractions, precision, marker="o", label="precision")
ax.plot(fractions, recall, marker="s", label="recall")
ax.axvline(is_outlier.mean(), color="grey", ls="--", lw=1)
ax.text(is_outlier.mean(), 0.05, " share of outliers", color="grey")
ax.set_xlabel("trim_fraction")
ax.set_ylim(0, 1.05)
ax.set_title("Outliers found by the trimmed points")
ax.legend(loc="center right")
fig.tight_layout()
plt.show()
