"""Nothing lost: the caller's arrays never change, and a fit that does not
finish leaves the estimator as it was."""

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)
from sklearn_kmt._network import Block

ESTIMATORS = {
    "kmeans": lambda **kw: TransformerKMeans(3, **kw),
    "soft": lambda **kw: TransformerSoftKMeans(3, beta=0.5, **kw),
    "spherical": lambda **kw: TransformerSphericalKMeans(3, **kw),
    "trimmed": lambda **kw: TransformerTrimmedKMeans(3, trim_fraction=0.1, **kw),
    "kmedoids": lambda **kw: TransformerKMedoids(3, n_candidates=6, **kw),
}


def data(n_samples=60, n_features=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    centers = rng.uniform(1.0, 10.0, (3, n_features))
    X = centers[rng.randint(3, size=n_samples)] + rng.normal(
        size=(n_samples, n_features)
    )
    return (X + 50.0).astype(dtype)


def snapshot(value):
    return value.copy() if sp.issparse(value) else np.array(value, copy=True)


def assert_same(value, before):
    if sp.issparse(value):
        assert (value != before).nnz == 0
        assert_array_equal(value.indices, before.indices)
        assert_array_equal(value.indptr, before.indptr)
    else:
        assert value.dtype == before.dtype
        assert_array_equal(value, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("container", ["dense", "fortran", "csr"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_fit_predict_transform_never_change_x_weights_or_init(name, container, dtype):
    X = data(dtype=np.float64)
    if dtype is np.int64:
        X = np.round(X)
    X = X.astype(dtype)
    X = {
        "dense": np.ascontiguousarray,
        "fortran": np.asfortranarray,
        "csr": sp.csr_matrix,
    }[container](X)
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0])
    init = np.asarray(X[[0, 20, 40]].toarray() if sp.issparse(X) else X[[0, 20, 40]])
    kept = [snapshot(X), snapshot(sample_weight), snapshot(init)]
    estimator = ESTIMATORS[name](init=init, random_state=0)
    estimator.fit(X, sample_weight=sample_weight)
    estimator.predict(X)
    estimator.transform(X)
    estimator.score(X, sample_weight=sample_weight)
    estimator.fit_predict(X, sample_weight=sample_weight)
    for value, before in zip([X, sample_weight, init], kept, strict=True):
        assert_same(value, before)
    assert estimator.init is init


@pytest.mark.parametrize("name", ["kmeans", "soft", "trimmed"])
def test_copy_x_false_restores_centred_data_to_rounding(name):
    X = data()
    before = X.copy()
    copied = ESTIMATORS[name](random_state=0, copy_x=True).fit(X)
    in_place = ESTIMATORS[name](random_state=0, copy_x=False).fit(X)
    # The data is centred in place and restored: equal to rounding.
    assert_allclose(X, before, rtol=0, atol=4 * np.spacing(np.abs(before).max()))
    assert_array_equal(in_place.labels_, copied.labels_)
    assert_allclose(in_place.cluster_centers_, copied.cluster_centers_, rtol=1e-12)


@pytest.mark.parametrize("name", ["kmeans", "soft", "spherical", "trimmed"])
@pytest.mark.parametrize("container", ["fortran", "int", "csr"])
def test_copy_x_false_leaves_data_it_must_convert_untouched(name, container):
    X = data()
    X = {
        "fortran": np.asfortranarray(X),
        "int": np.round(X).astype(np.int64),
        "csr": sp.csr_matrix(X),
    }[container]
    before = snapshot(X)
    ESTIMATORS[name](random_state=0, copy_x=False).fit(X)
    assert_same(X, before)


class Interrupt:
    """A Block.__call__ that raises ``error`` at the second layer of a fit."""

    def __init__(self, error):
        self.layers = 0
        original = Block.__call__

        def layer(block, *args, **kwargs):
            self.layers += 1
            if self.layers == 2:
                raise error
            return original(block, *args, **kwargs)

        self.layer = layer


def fitted_state(estimator):
    return copy.deepcopy(
        {key: value for key, value in vars(estimator).items() if key != "network_"}
    )


def assert_same_state(state, expected):
    assert state.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(state[key], value, err_msg=key)
        else:
            assert state[key] == value, key


@pytest.mark.parametrize("error", [KeyboardInterrupt, MemoryError])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_an_interrupted_fit_leaves_the_previous_model_whole(name, error, monkeypatch):
    columns = ["a", "b", "c"]
    X = pd.DataFrame(data(), columns=columns)
    estimator = ESTIMATORS[name](random_state=0, max_iter=50).fit(X)
    state = fitted_state(estimator)
    network = estimator.network_
    labels = estimator.predict(X)
    distances = estimator.transform(X)

    # A new fit on data of another width and other column names, stopped
    # in the middle of the forward pass.
    other = pd.DataFrame(data(n_features=4, seed=1), columns=["p", "q", "r", "s"])
    interrupt = Interrupt(error)
    monkeypatch.setattr(Block, "__call__", interrupt.layer)
    with pytest.raises(error):
        estimator.set_params(init="random", n_init=1).fit(other)
    monkeypatch.undo()
    assert interrupt.layers == 2

    estimator.set_params(init=state["init"], n_init=state["n_init"])
    assert_same_state(fitted_state(estimator), state)
    assert estimator.network_ is network
    assert_array_equal(estimator.predict(X), labels)
    assert_array_equal(estimator.transform(X), distances)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_an_interrupted_first_fit_leaves_the_estimator_unfitted(name, monkeypatch):
    estimator = ESTIMATORS[name](random_state=0)
    monkeypatch.setattr(Block, "__call__", Interrupt(KeyboardInterrupt).layer)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(data())
    monkeypatch.undo()
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    assert not hasattr(estimator, "n_features_in_")
    estimator.fit(data())  # and it can still be fitted
    assert estimator.cluster_centers_.shape == (3, 3)


@pytest.mark.parametrize("name", ["kmeans", "soft", "trimmed"])
def test_an_interrupted_fit_with_copy_x_false_restores_the_data(name, monkeypatch):
    X = data()
    before = X.copy()
    monkeypatch.setattr(Block, "__call__", Interrupt(KeyboardInterrupt).layer)
    with pytest.raises(KeyboardInterrupt):
        ESTIMATORS[name](random_state=0, copy_x=False).fit(X)
    assert_allclose(X, before, rtol=0, atol=4 * np.spacing(np.abs(before).max()))
