"""k-means family clustering run by a transformer with hand-set weights."""

from ._kmeans import TransformerKMeans
from ._kmedoids import TransformerKMedoids
from ._robust import TransformerRobustKMeans
from ._soft import TransformerSoftKMeans
from ._spherical import TransformerSphericalKMeans
from ._trimmed import TransformerTrimmedKMeans

__version__ = "0.1.0.dev0"

__all__ = [
    "TransformerKMeans",
    "TransformerKMedoids",
    "TransformerRobustKMeans",
    "TransformerSoftKMeans",
    "TransformerSphericalKMeans",
    "TransformerTrimmedKMeans",
    "__version__",
]
