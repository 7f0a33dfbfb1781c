"""
==================================
Spherical k-means on a text corpus
==================================

TF-IDF vectors of documents are compared by their direction, not their
length: a long document and a short one on the same topic point the same
way. :class:`~sklearn_kmt.TransformerSphericalKMeans` adds a normalisation
layer to the k-means transformer that puts every token on the unit sphere, so
its assignment attention scores cosine similarities and its update keeps the
centroids on the sphere.

The corpus is generated here, so that nothing is downloaded: four topics,
each with its own vocabulary, and words common to all of them.
"""

# %%
# A generated corpus
# ------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score, confusion_matrix

from sklearn_kmt import TransformerSphericalKMeans

topics = {
    "astronomy": "star planet orbit telescope galaxy comet nebula moon eclipse "
    "asteroid cosmos gravity satellite solar lunar quasar pulsar supernova",
    "cooking": "recipe oven flour sugar butter garlic onion simmer roast bake "
    "sauce spice pepper salt dough pastry skillet broth",
    "football": "goal striker referee penalty midfield league match keeper "
    "tackle corner offside coach stadium season transfer derby pitch cup",
    "finance": "market stock bond interest inflation dividend equity credit "
    "loan bank investor portfolio yield currency asset trading profit fund",
}
common = (
    "report people time year week new good day way thing place world "
    "group part story number idea work life"
).split()

rng = np.random.default_rng(0)
documents, topic_of = [], []
for _ in range(600):
    topic = rng.integers(len(topics))
    vocabulary = list(topics.values())[topic].split()
    length = rng.integers(10, 80)  # short and long documents alike
    n_topical = rng.binomial(length, 0.1)
    words = list(rng.choice(vocabulary, n_topical)) + list(
        rng.choice(common, length - n_topical)
    )
    documents.append(" ".join(rng.permutation(words)))
    topic_of.append(topic)
topic_of = np.array(topic_of)
print(documents[0][:200], "...")

vectorizer = TfidfVectorizer()
X = vectorizer.fit_transform(documents)
print(
    f"TF-IDF matrix: {X.shape[0]} documents x {X.shape[1]} terms, "
    f"{X.nnz} non-zeros (sparse, never densified by the fit)"
)

# %%
# Clustering the documents
# ------------------------
# The adjusted Rand index compares the clusters with the generating topics
# (1: the same partition). Plain k-means on the same vectors is shown for
# comparison; TF-IDF rows are already unit length, so the difference comes
# from the centroids, which spherical k-means keeps on the sphere.
spherical = TransformerSphericalKMeans(n_clusters=4, n_init=5, random_state=0)
labels = spherical.fit_predict(X)
kmeans = KMeans(n_clusters=4, n_init=5, random_state=0).fit(X)
print(
    f"spherical k-means: ARI {adjusted_rand_score(topic_of, labels):.3f}, "
    f"{spherical.n_iter_} layers"
)
print(f"k-means:           ARI {adjusted_rand_score(topic_of, kmeans.labels_):.3f}")
print("centroid norms:", np.linalg.norm(spherical.cluster_centers_, axis=1).round(6))

# %%
# Topics against clusters
# -----------------------
fig, ax = plt.subplots(figsize=(5.5, 4.5))
table = confusion_matrix(topic_of, labels)
image = ax.imshow(table, cmap="Blues")
for (i, j), count in np.ndenumerate(table):
    ax.text(
        j,
        i,
        count,
        ha="center",
        va="center",
        color="white" if count > table.max() / 2 else "black",
    )
ax.set_yticks(range(len(topics)), labels=list(topics))
ax.set_xticks(range(4))
ax.set_xlabel("cluster")
ax.set_title("Documents per topic and cluster")
fig.colorbar(image, ax=ax)
fig.tight_layout()

# %%
# What each centroid points at
# ----------------------------
# A centroid is a unit direction in term space. Its largest coordinates are
# the common words, which every direction shares; the terms that tell the
# clusters apart are those where a centroid exceeds the average of the others.
terms = vectorizer.get_feature_names_out()
centers = spherical.cluster_centers_
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
for j, ax in enumerate(axes):
    others = np.delete(centers, j, axis=0).mean(axis=0)
    excess = centers[j] - others
    top = np.argsort(excess)[::-1][:8]
    ax.barh(terms[top][::-1], excess[top][::-1], color=plt.get_cmap("tab10")(j))
    ax.set_title(f"cluster {j}")
    ax.set_xlabel("coordinate minus the others' mean")
fig.tight_layout()
plt.show()
