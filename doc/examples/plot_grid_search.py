"""
===========================================================
Choosing ``n_clusters`` and ``beta`` with GridSearchCV
===========================================================

The estimators are ordinary scikit-learn estimators: they fit in a
:class:`~sklearn.pipeline.Pipeline` and can be tuned by
:class:`~sklearn.model_selection.GridSearchCV`. Here a pipeline scales the
features and clusters them with :class:`~sklearn_kmt.TransformerSoftKMeans`;
the grid searches the number of clusters and the inverse temperature
``beta``, and each candidate is scored on held-out samples by the adjusted
Rand index of its predicted clusters against known groups.
"""

# %%
# Data with known groups
# ----------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmt import TransformerSoftKMeans

X, groups = make_blobs(
    n_samples=600, centers=4, n_features=2, cluster_std=1.6, random_state=7
)
X[:, 1] *= 8  # features on different scales: the pipeline scales them

pipeline = make_pipeline(
    StandardScaler(), TransformerSoftKMeans(n_init=3, random_state=0)
)
param_grid = {
    "transformersoftkmeans__n_clusters": [2, 3, 4, 5, 6],
    "transformersoftkmeans__beta": [0.03, 0.1, 0.3, 1.0, 3.0, 10.0],
}
search = GridSearchCV(
    pipeline,
    param_grid,
    scoring="adjusted_rand_score",
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X, groups)
print("best parameters:", search.best_params_)
print(f"best mean adjusted Rand index: {search.best_score_:.3f}")

# %%
# The score over the grid
# -----------------------
# Too few clusters merge groups, too many split them. At low ``beta`` (a high
# temperature on the scale of the standardised features) the centroids
# gather near the mean of the data, and the regions of the nearest centroid
# that ``predict`` draws around them cut across the groups.
n_clusters_values = param_grid["transformersoftkmeans__n_clusters"]
beta_values = param_grid["transformersoftkmeans__beta"]
results = search.cv_results_
scores = np.empty((len(n_clusters_values), len(beta_values)))
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    row = n_clusters_values.index(params["transformersoftkmeans__n_clusters"])
    column = beta_values.index(params["transformersoftkmeans__beta"])
    scores[row, column] = score
fig, ax = plt.subplots(figsize=(7, 4.5))
image = ax.imshow(scores, cmap="viridis", vmin=0, vmax=1)
for (i, j), value in np.ndenumerate(scores):
    ax.text(
        j,
        i,
        f"{value:.2f}",
        ha="center",
        va="center",
        color="black" if value > 0.6 else "white",
    )
ax.set_xticks(range(len(beta_values)), labels=beta_values)
ax.set_yticks(range(len(n_clusters_values)), labels=n_clusters_values)
ax.set_xlabel("beta")
ax.set_ylabel("n_clusters")
ax.set_title("Mean held-out adjusted Rand index")
fig.colorbar(image, ax=ax)
fig.tight_layout()

# %%
# The chosen model
# ----------------
# ``best_estimator_`` is refitted on all the data. Its centroids live in the
# scaled space; mapped back with the scaler they sit on the groups.
best = search.best_estimator_
scaler, soft = best.named_steps.values()
centers = scaler.inverse_transform(soft.cluster_centers_)
fig, ax = plt.subplots(figsize=(6, 5))
ax.scatter(X[:, 0], X[:, 1], c=best.predict(X), cmap="tab10", s=10, alpha=0.6)
ax.scatter(*centers.T, s=220, marker="X", c="black")
ax.set_title(f"n_clusters={soft.n_clusters}, beta={soft.beta:g}: predicted clusters")
fig.tight_layout()
plt.show()
