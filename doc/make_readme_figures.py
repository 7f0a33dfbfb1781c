"""Draw the figures of the README's "Looking inside" section into doc/_static.

Run from the repository root (matplotlib needed)::

    python doc/make_readme_figures.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from sklearn_kmt import TransformerKMeans  # noqa: E402
from sklearn_kmt.plotting import (  # noqa: E402
    plot_attention,
    plot_centroid_trajectories,
    plot_objective,
)

STATIC = Path(__file__).resolve().parent / "_static"


def main():
    X, _ = make_blobs(n_samples=90, centers=3, cluster_std=1.5, random_state=0)
    kmeans = TransformerKMeans(n_clusters=3, random_state=0).fit(X)
    trace = kmeans.network_.forward(
        X, kmeans.init_centers_, kmeans.n_iter_, return_trace=True
    ).trace
    figures = {
        "attention": lambda ax: plot_attention(trace[0], ax=ax, sort_by=kmeans.labels_),
        "trajectories": lambda ax: plot_centroid_trajectories(
            X, trace, kmeans.init_centers_, ax=ax
        ),
        "objective": lambda ax: plot_objective(trace, ax=ax),
    }
    STATIC.mkdir(exist_ok=True)
    for name, draw in figures.items():
        figure, ax = plt.subplots(figsize=(5, 4))
        draw(ax)
        figure.tight_layout()
        figure.savefig(STATIC / f"{name}.png", dpi=90)
        plt.close(figure)


if __name__ == "__main__":
    main()
