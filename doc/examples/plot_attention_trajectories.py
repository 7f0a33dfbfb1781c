"""
=================================================
Attention maps and centroid paths, layer by layer
=================================================

A fitted estimator keeps the transformer that ran as ``network_``.
``network_.forward`` replays it literally, with its dense weight matrices,
and with ``return_trace=True`` records every layer: the centroids, the
labels, the objective and the attention maps. :mod:`sklearn_kmt.plotting`
draws them.
"""

# %%
# A fit to replay
# ---------------
# Random seeding on purpose: the centroids start badly placed and travel
# over several layers.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from sklearn_kmt import TransformerKMeans, TransformerSoftKMeans
from sklearn_kmt.plotting import (
    plot_attention,
    plot_centroid_trajectories,
    plot_objective,
)

X, _ = make_blobs(
    n_samples=240,
    centers=[[-5, 0], [0, 4], [5, 0], [0, -4]],
    cluster_std=1.3,
    random_state=2,
)
kmeans = TransformerKMeans(n_clusters=4, init="random", n_init=1, random_state=5)
kmeans.fit(X)
print(kmeans.network_)

trace = kmeans.network_.forward(
    X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
).trace
print(
    f"{len(trace)} layers replayed; the last one wrote the fitted labels:",
    np.array_equal(trace[-1].labels, kmeans.labels_),
)

# %%
# The weights of one layer
# ------------------------
# Every projection is a selection: a zero matrix with one identity block on
# the token space of 2 data + 4 slot coordinates. The assignment attention
# compares the data blocks (``W_Q``, ``W_K``) and writes into the slot
# (``W_V``, ``W_O``); the update attention compares a centroid's identity with
# a point's slot and reads the data. The erase heads (not shown) subtract the
# old slot and the old center, so the residual replaces them.
parameters = kmeans.network_.parameters()
fig, axes = plt.subplots(2, 4, figsize=(11, 5.6))
for row, attention in zip(axes, ["assign_attention", "update_attention"], strict=True):
    for ax, name in zip(row, ["W_Q", "W_K", "W_V", "W_O"], strict=True):
        ax.imshow(parameters[f"{attention}.{name}"], cmap="RdBu", vmin=-1, vmax=1)
        ax.set_title(f"{attention}\n{name}", fontsize=9)
        ax.set_xticks([0.5], labels=["data | slot"], fontsize=7)
        ax.set_yticks([])
        ax.axvline(1.5, color="grey", lw=0.8)
        ax.axhline(1.5, color="grey", lw=0.8)
fig.tight_layout()

# %%
# Attention maps of the first and the last layer
# ----------------------------------------------
# The assignment attention (points as queries, centroids as keys) is a hardmax:
# each row holds a single 1, the nearest centroid. The update attention
# (centroids as queries, points as keys) spreads ``1 / |S_j|`` over the
# members of each cluster: the weights of a mean. Points are sorted by their
# final cluster, so that clusters form blocks; in the first layer, with the
# centroids still far from where they end, the blocks are not clean yet.
fig, axes = plt.subplots(2, 2, figsize=(11, 8))
for column, layer in enumerate([0, len(trace) - 1]):
    plot_attention(
        trace[layer], "assign_attention", ax=axes[0, column], sort_by=kmeans.labels_
    )
    plot_attention(
        trace[layer], "update_attention", ax=axes[1, column], sort_by=kmeans.labels_
    )
    axes[0, column].set_title(f"layer {layer + 1}: assignment attention")
    axes[1, column].set_title(f"layer {layer + 1}: update attention")
fig.tight_layout()

# %%
# Centroid paths and the objective
# --------------------------------
# Each layer is one Lloyd iteration: the centroids move toward the means of
# their clusters and the objective never increases.
fig, (ax_paths, ax_objective) = plt.subplots(1, 2, figsize=(12, 5))
plot_centroid_trajectories(X, trace, kmeans.init_centers_, ax=ax_paths)
plot_objective(trace, ax=ax_objective)
fig.tight_layout()

# %%
# The soft variant's attention
# ----------------------------
# :class:`~sklearn_kmt.TransformerSoftKMeans` changes the hardmax into a
# softmax (here ``beta = 0.2``, from the same initial centroids): the
# assignment map is graded for the points near the borders between clusters,
# and every centroid reads a little of the points of its neighbours.
soft = TransformerSoftKMeans(n_clusters=4, beta=0.2, init=kmeans.init_centers_)
soft.fit(X)
soft_trace = soft.network_.forward(
    X, soft.init_centers_, soft.n_iter_, return_trace=True
).trace
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
plot_attention(soft_trace[-1], "assign_attention", ax=axes[0], sort_by=soft.labels_)
plot_attention(soft_trace[-1], "update_attention", ax=axes[1], sort_by=soft.labels_)
for ax, which in zip(axes, ["assignment", "update"], strict=True):
    ax.set_title(f"soft k-means, last layer: {which} attention")
fig.tight_layout()
plt.show()
