"""
=========================================================
Soft k-means: from one blob to hard k-means with ``beta``
=========================================================

:class:`~sklearn_kmt.TransformerSoftKMeans` normalises the assignment
attention with a softmax at inverse temperature ``beta``: point ``i`` gives
centroid ``j`` the responsibility

.. math:: r_{ij} \\propto \\exp(-\\tfrac\\beta2 \\lVert x_i - c_j \\rVert^2).

As ``beta`` goes to 0 every point is shared equally and every centroid sits
at the mean of the data: one blob. As ``beta`` grows the softmax becomes the
hardmax of :class:`~sklearn_kmt.TransformerKMeans`. Between the two, the
centroids split apart at a critical temperature, a phase transition of
deterministic annealing.
"""

# %%
# The same start for every ``beta``
# ---------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs

from sklearn_kmt import TransformerKMeans, TransformerSoftKMeans

X, _ = make_blobs(
    n_samples=450,
    centers=[[-4, -2], [4, -2], [0, 4]],
    cluster_std=1.4,
    random_state=0,
)
init = TransformerKMeans(n_clusters=3, random_state=0).fit(X).init_centers_
hard = TransformerKMeans(n_clusters=3, init=init).fit(X)

betas = np.logspace(-3, 1.5, 28)
fits = [
    TransformerSoftKMeans(n_clusters=3, beta=beta, init=init).fit(X) for beta in betas
]

# %%
# Responsibilities at four temperatures
# -------------------------------------
# Each point is painted with the mixture of the three cluster colors given by
# its responsibilities: grey where it is shared by all three, a pure color
# where one centroid owns it.
palette = np.array([[0.12, 0.47, 0.71], [1.0, 0.5, 0.05], [0.17, 0.63, 0.17]])
shown = [0.02, 0.1, 0.2, 5.0]
fig, axes = plt.subplots(1, 4, figsize=(15, 4.2), sharex=True, sharey=True)
for ax, beta in zip(axes, shown, strict=True):
    soft = TransformerSoftKMeans(n_clusters=3, beta=beta, init=init).fit(X)
    responsibilities = soft.predict_proba(X)
    ax.scatter(X[:, 0], X[:, 1], s=10, c=responsibilities @ palette)
    ax.scatter(
        *soft.cluster_centers_.T, s=200, marker="X", c=palette, edgecolors="black"
    )
    ax.set_title(f"beta = {beta:g}, {soft.n_iter_} layers")
    ax.set_aspect("equal")
fig.tight_layout()

# %%
# Where the centroids go
# ----------------------
# Left: the distance of the soft centroids to the hard k-means centroids
# (each soft centroid to the nearest hard one), and how far apart the soft
# centroids are. Right: the mean entropy of the responsibilities, from
# ``log 3`` (shared equally) to 0 (hard).
gap_to_hard = [
    np.linalg.norm(fit.cluster_centers_[:, None] - hard.cluster_centers_[None], axis=2)
    .min(axis=1)
    .max()
    for fit in fits
]
spread = [
    np.linalg.norm(
        fit.cluster_centers_[:, None] - fit.cluster_centers_[None], axis=2
    ).max()
    for fit in fits
]


def mean_entropy(fit):
    responsibilities = np.clip(fit.predict_proba(X), 1e-300, 1)
    return -np.mean(np.sum(responsibilities * np.log(responsibilities), axis=1))


entropy = [mean_entropy(fit) for fit in fits]

fig, (ax_centers, ax_entropy) = plt.subplots(1, 2, figsize=(12, 4.2))
ax_centers.semilogx(
    betas, gap_to_hard, marker="o", ms=3, label="farthest soft centroid from hard ones"
)
ax_centers.semilogx(
    betas, spread, marker="s", ms=3, label="largest distance between soft centroids"
)
ax_centers.set_xlabel("beta")
ax_centers.set_ylabel("distance")
ax_centers.legend(loc="upper left")
ax_centers.set_title("The centroids split, then reach k-means")
ax_entropy.semilogx(betas, entropy, marker="o", ms=3, color="tab:purple")
ax_entropy.axhline(np.log(3), color="grey", ls="--", lw=1)
ax_entropy.text(betas[0], np.log(3) * 0.95, "log 3: shared equally", va="top")
ax_entropy.set_xlabel("beta")
ax_entropy.set_ylabel("mean entropy of the responsibilities")
ax_entropy.set_title("Soft to hard assignments")
fig.tight_layout()

# %%
# At large ``beta`` the labels are those of hard k-means:
print(
    "labels equal to TransformerKMeans' at beta =",
    betas[-1].round(1),
    ":",
    np.array_equal(fits[-1].labels_, hard.labels_),
)
plt.show()
