"""
===========================================================
Token routing: fewer tokens through each layer, same labels
===========================================================

In a transformer a router may send a token around a block that cannot change
it. For k-means this can be certified: each point token carries an upper
bound on its distance to its centroid and a lower bound on its distance to
every other one, and after each layer the bounds move by how far the
centroids moved (Hamerly's bounds). A token whose bounds keep apart cannot
change its slot, so it takes the residual path around the assignment
attention; only the others are scored. The layer is the same layer: the
labels are those of every token through every layer, and of
:class:`sklearn.cluster.KMeans`.

:class:`~sklearn_kmt.TransformerKMeans` routes by default
(``algorithm="auto"``) where routing pays: a sample of the tokens predicts
how many a routed layer would send through, and a cost model says whether
that saves time. ``algorithm="lloyd"`` sends every token through every
layer.
"""

# %%
# A routed fit and the textbook pass
# ----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from sklearn_kmt import TransformerKMeans

X, _ = make_blobs(
    n_samples=30_000, n_features=32, centers=64, cluster_std=2.0, random_state=0
)
init = X[np.random.RandomState(1).choice(len(X), 64, replace=False)]
params = dict(n_clusters=64, init=init, n_init=1, max_iter=30, tol=0.0)

routed = TransformerKMeans(**params).fit(X)
textbook = TransformerKMeans(algorithm="lloyd", **params).fit(X)
reference = KMeans(algorithm="lloyd", **params).fit(X)
print(routed.network_)
print(
    "labels as every token through:", np.array_equal(routed.labels_, textbook.labels_)
)
print("labels as KMeans:", np.array_equal(routed.labels_, reference.labels_))

# %%
# The tokens through the attention, layer by layer
# ------------------------------------------------
# The trace of the fast pass records, for each layer, how many tokens went
# through the assignment attention. The first layers run every token: the
# centroids still move far, and the sample says routing would not pay. Then
# one layer makes every token's bounds, and from the next one only the tokens
# near a boundary between clusters are scored.
trace = routed.network_.forward(
    X, routed.init_centers_, routed.n_iter_, return_trace=True, literal=False
).trace
through = [100 * record.n_through_attention / len(X) for record in trace]
objective = [record.objective for record in trace]

fig, ax_through = plt.subplots(figsize=(8, 4.5))
layers = np.arange(1, len(trace) + 1)
ax_through.bar(layers, through, color="tab:blue", alpha=0.7)
ax_through.set_xlabel("layer")
ax_through.set_ylabel("% of tokens through the assignment attention", color="tab:blue")
ax_objective = ax_through.twinx()
ax_objective.plot(layers, objective, color="black", marker="o", markersize=3)
ax_objective.set_ylabel("objective (inertia)")
ax_through.set_title("Routing: the same layers, fewer scored tokens")
fig.tight_layout()
plt.show()
