"""k-means family clustering run by a transformer with hand-set weights."""

from ._kmeans import TransformerKMeans

__version__ = "0.1.0.dev0"

__all__ = ["TransformerKMeans", "__version__"]
