"""
=========================================
Robust k-means: a sparse update attention
=========================================

:class:`~sklearn_kmt.TransformerRobustKMeans` changes one component of the
k-means layer: the update attention normalises its scores over the points
with a sparsemax instead of averaging. Each centroid moves to a weighted mean
of its members in which the members near it weigh most and those beyond a
distance weigh exactly zero. A cluster's far members, here a small tail of
outliers, stop pulling its centroid, although they keep their label and no
fraction of the data was chosen to be dropped.

Beside it: :class:`~sklearn_kmt.TransformerKMeans`, whose mean every member
pulls, and :class:`~sklearn_kmt.TransformerTrimmedKMeans`, which drops a
fraction of the farthest points from every mean.
"""

# %%
# A cluster with a few far members
# --------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from sklearn_kmt import (
    TransformerKMeans,
    TransformerRobustKMeans,
    TransformerTrimmedKMeans,
)

true_centers = np.array([[0.0, 0.0], [9.0, 0.0], [4.5, 8.0]])
inliers, _ = make_blobs(
    n_samples=600, centers=true_centers, cluster_std=1.0, random_state=0
)
rng = np.random.default_rng(0)
# The far members of the first cluster: still nearer its center than any
# other, but far out.
tail = rng.normal([-5.5, -4.5], 0.6, size=(12, 2))
X = np.vstack([inliers, tail])

init = true_centers + [0.5, -0.5]
models = {
    "k-means": TransformerKMeans(3, init=init),
    "trimmed k-means (trim 2%)": TransformerTrimmedKMeans(
        3, trim_fraction=0.02, init=init
    ),
    "robust k-means (beta 0.01)": TransformerRobustKMeans(3, beta=0.01, init=init),
}
for name, model in models.items():
    model.fit(X)
    error = np.linalg.norm(model.cluster_centers_[0] - true_centers[0])
    print(
        f"{name:28s} first centroid {model.cluster_centers_[0].round(2)}, "
        f"{error:.2f} from its true center"
    )

robust = models["robust k-means (beta 0.01)"]
ignored = robust.member_weights_ == 0
print(
    f"{ignored.sum()} of {len(X)} samples weigh nothing in their centroid, "
    f"all {ignored[-len(tail) :].sum()} far members among them"
)

# %%
# The centroids, and the members that got no weight
# -------------------------------------------------
# The hollow markers are the samples whose sparsemax weight is zero: the
# farthest members of each cluster, the tail first. The colour of a filled
# marker is its weight in its centroid.
fig, ax = plt.subplots(figsize=(8, 6.5))
weights = robust.member_weights_
ax.scatter(
    *X[~ignored].T,
    c=weights[~ignored],
    cmap="viridis",
    s=12,
    label="members with weight",
)
ax.scatter(
    *X[ignored].T,
    facecolors="none",
    edgecolors="0.4",
    s=18,
    label="members with weight 0",
)
markers = {
    "k-means": "s",
    "trimmed k-means (trim 2%)": "^",
    "robust k-means (beta 0.01)": "X",
}
for name, model in models.items():
    ax.scatter(
        *model.cluster_centers_.T,
        marker=markers[name],
        s=160,
        edgecolors="white",
        linewidths=1.5,
        label=name,
    )
ax.scatter(
    *true_centers.T,
    s=200,
    facecolors="none",
    edgecolors="red",
    linewidths=2,
    label="true centers",
)
ax.set_title("Far members weigh nothing in the robust centroid")
ax.legend(loc="upper left", fontsize="small")
ax.set_aspect("equal")
plt.show()

# %%
# How many members keep a weight
# ------------------------------
# ``beta`` is in inverse squared data units: a member at squared distance
# ``d`` from its centroid scores ``-beta d / sqrt(n_features)``. Larger values
# spend each cluster's unit of weight on fewer, nearer members; ``beta=0``
# weighs every member fully, which is k-means.
for beta in (0.0, 0.001, 0.01, 0.1, 1.0):
    model = TransformerRobustKMeans(3, beta=beta, init=init).fit(X)
    share = np.mean(model.member_weights_ > 0)
    error = np.linalg.norm(model.cluster_centers_[0] - true_centers[0])
    print(
        f"beta {beta:<6} {share:6.1%} of the samples weigh; first centroid "
        f"{error:.2f} from its true center"
    )
