"""Shared fixtures for the sklearn_kmt test suite."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

# Input containers by id: dense arrays and both flavours of CSR.
CONTAINERS = {
    "dense": np.asarray,
    "csr_matrix": sp.csr_matrix,
    "csr_array": sp.csr_array,
}
SPARSE_CONTAINER_IDS = ["csr_matrix", "csr_array"]

DTYPES = {"float32": np.float32, "float64": np.float64}


@pytest.fixture(params=list(CONTAINERS), ids=list(CONTAINERS))
def container(request):
    """Constructor turning a dense 2d array into the input container."""
    return CONTAINERS[request.param]


@pytest.fixture(params=SPARSE_CONTAINER_IDS, ids=SPARSE_CONTAINER_IDS)
def sparse_container(request):
    return CONTAINERS[request.param]


@pytest.fixture
def to_container():
    """Look up a container constructor by its id ("dense", "csr_matrix", ...)."""
    return CONTAINERS.__getitem__


@pytest.fixture(params=list(DTYPES), ids=list(DTYPES))
def dtype(request):
    return DTYPES[request.param]


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture
def make_blob_problem():
    """Factory for a small, well separated blob problem.

    Returns ``(X, y, centers)`` where ``X`` is built with ``container`` and
    cast to ``dtype`` and ``centers`` are the true blob centers (float64).
    """

    def _make(
        n_samples=150,
        n_features=2,
        n_blobs=3,
        cluster_std=0.5,
        dtype=np.float64,
        container=np.asarray,
        random_state=0,
    ):
        X, y, centers = make_blobs(
            n_samples=n_samples,
            n_features=n_features,
            centers=n_blobs,
            cluster_std=cluster_std,
            center_box=(-10.0, 10.0),
            random_state=random_state,
            return_centers=True,
        )
        return container(X.astype(dtype)), y, centers

    return _make
