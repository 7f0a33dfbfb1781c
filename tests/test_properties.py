"""Properties every estimator must have, checked on generated problems.

Hypothesis draws the shape, spread, offset, weights and seed of a problem;
the examples are derandomized so that every run checks the same ones. Each
test says which estimators a property holds for, and why the others differ.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerRobustKMeans,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)

EXAMPLES = 50
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

BETA = 0.5  # soft k-means' stiffness at unit data scale

ESTIMATORS = {
    "kmeans": lambda k, scale=1.0, **kw: TransformerKMeans(k, **kw),
    "soft": lambda k, scale=1.0, **kw: TransformerSoftKMeans(
        k, beta=BETA / scale**2, **kw
    ),
    "spherical": lambda k, scale=1.0, **kw: TransformerSphericalKMeans(k, **kw),
    "trimmed": lambda k, scale=1.0, **kw: TransformerTrimmedKMeans(
        k, trim_fraction=0.1, **kw
    ),
    "robust": lambda k, scale=1.0, **kw: TransformerRobustKMeans(
        k, beta=0.5 / scale**2, **kw
    ),
    "kmedoids": lambda k, scale=1.0, **kw: TransformerKMedoids(k, n_candidates=6, **kw),
}


@pytest.fixture(autouse=True)
def quiet_duplicates():
    """Generated problems may have fewer distinct directions than clusters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@st.composite
def problems(draw, max_samples=40):
    """Blobs: ``(X, sample_weight or None, init)``, from drawn parameters."""
    n_clusters = draw(st.integers(1, 4))
    n_features = draw(st.integers(1, 4))
    n_samples = draw(st.integers(3 * n_clusters, max_samples))
    spread = draw(st.floats(0.05, 3.0))
    offset = draw(st.floats(-50.0, 50.0))
    weighted = draw(st.booleans())
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    centers = rng.uniform(-10.0, 10.0, (n_clusters, n_features))
    X = centers[rng.randint(n_clusters, size=n_samples)]
    X = X + spread * rng.normal(size=X.shape) + offset
    sample_weight = rng.uniform(0.5, 2.0, n_samples) if weighted else None
    init = X[rng.choice(n_samples, n_clusters, replace=False)]
    return X, sample_weight, init


def usable(name, X):
    """Problems without exact ties. On one feature every direction is +1 or
    -1, so spherical centroids tie, and the Euclidean medoid is a median, so
    two medoids tie for an even count; rounding may break such ties either
    way."""
    assume(name not in ("spherical", "kmedoids") or X.shape[1] > 1)


def scale_of(X):
    return max(1.0, float(np.abs(X).max()))


def fit(name, X, sample_weight, init, scale=1.0):
    estimator = ESTIMATORS[name](init.shape[0], scale, init=init, random_state=0)
    return estimator.fit(X, sample_weight=sample_weight)


def assert_centers_close(centers, expected, X):
    assert_allclose(centers, expected, rtol=1e-9, atol=1e-9 * scale_of(X))


# kmedoids samples cluster members by their position in X and draws per
# cluster in order: reordering samples or clusters changes its draws.
DETERMINISTIC_UPDATE = ["kmeans", "soft", "spherical", "trimmed"]


@pytest.mark.parametrize("name", DETERMINISTIC_UPDATE)
@PROPERTY
@given(problem=problems(), order_seed=st.integers(0, 2**32 - 1))
def test_partition_does_not_depend_on_the_order_of_samples(name, problem, order_seed):
    X, sample_weight, init = problem
    usable(name, X)
    order = np.random.RandomState(order_seed).permutation(X.shape[0])
    reference = fit(name, X, sample_weight, init)
    shuffled = fit(
        name, X[order], None if sample_weight is None else sample_weight[order], init
    )
    assert_array_equal(shuffled.labels_, reference.labels_[order])
    assert_centers_close(shuffled.cluster_centers_, reference.cluster_centers_, X)


@pytest.mark.parametrize("name", DETERMINISTIC_UPDATE)
@PROPERTY
@given(problem=problems(), order_seed=st.integers(0, 2**32 - 1))
def test_permuting_the_init_rows_permutes_the_labels(name, problem, order_seed):
    X, sample_weight, init = problem
    usable(name, X)
    order = np.random.RandomState(order_seed).permutation(init.shape[0])
    reference = fit(name, X, sample_weight, init)
    permuted = fit(name, X, sample_weight, init[order])
    # Cluster order[j] of the reference is cluster j of the permuted run.
    new_index = np.argsort(order)
    expected = np.where(reference.labels_ >= 0, new_index[reference.labels_], -1)
    assert_array_equal(permuted.labels_, expected)
    assert_centers_close(
        permuted.cluster_centers_, reference.cluster_centers_[order], X
    )


# Spherical k-means clusters directions, which a translation changes; a
# k-medoids cluster of two samples has two equally good medoids, and the
# rounding of translated distances may pick either.
@pytest.mark.parametrize("name", ["kmeans", "soft", "trimmed"])
@PROPERTY
@given(problem=problems(), shift=st.floats(-1e3, 1e3))
def test_translating_the_data_translates_the_centers(name, problem, shift):
    X, sample_weight, init = problem
    usable(name, X)
    reference = fit(name, X, sample_weight, init)
    moved = fit(name, X + shift, sample_weight, init + shift)
    assert_array_equal(moved.labels_, reference.labels_)
    assert_centers_close(
        moved.cluster_centers_, reference.cluster_centers_ + shift, X + shift
    )


@pytest.mark.parametrize("name", ESTIMATORS)
@PROPERTY
@given(problem=problems(), exponent=st.integers(-30, 30))
def test_scaling_the_data_scales_the_centers(name, problem, exponent):
    X, sample_weight, init = problem
    usable(name, X)
    # A power of two scales every sum, product and square root exactly, so
    # the scaled fit must be the reference fit scaled, to the last bit.
    factor = 2.0**exponent
    reference = fit(name, X, sample_weight, init)
    scaled = fit(name, X * factor, sample_weight, init * factor, scale=factor)
    assert_array_equal(scaled.labels_, reference.labels_)
    assert scaled.n_iter_ == reference.n_iter_
    # Directions do not scale.
    expected = reference.cluster_centers_ * (1.0 if name == "spherical" else factor)
    assert_array_equal(scaled.cluster_centers_, expected)


def soft_free_energy(X, sample_weight, centers):
    """MacKay's soft k-means objective, from its definition."""
    squared = ((X[:, None, :] - centers[None]) ** 2).sum(axis=-1)
    weights = np.ones(len(X)) if sample_weight is None else sample_weight
    return -weights @ logsumexp(-BETA / 2 * squared, axis=1) / BETA


# k-medoids is included: its sampled update keeps the current medoid unless
# a candidate lowers the cluster's dissimilarity. Trimmed k-means is checked
# with equal weights, where it is guaranteed.
@pytest.mark.parametrize("name", ESTIMATORS)
@PROPERTY
@given(problem=problems())
def test_objective_never_increases_from_layer_to_layer(name, problem):
    X, sample_weight, init = problem
    usable(name, X)
    if name == "robust":
        pytest.skip("robust k-means' layers decrease no known objective")
    if name == "trimmed":
        sample_weight = None
    estimator = ESTIMATORS[name](init.shape[0], init=init, n_init=1, random_state=0)
    estimator.fit(X, sample_weight=sample_weight)
    trace = estimator.network_.forward(
        X,
        estimator.init_centers_,
        6,
        sample_weight=sample_weight,
        return_trace=True,
        literal=False,
    ).trace
    if name == "soft":
        objectives = [soft_free_energy(X, sample_weight, r.centers) for r in trace]
    else:
        objectives = [record.objective for record in trace]
    objectives = np.array(objectives)
    slack = 1e-10 * (np.abs(objectives).max() + 1.0)
    assert np.all(np.diff(objectives) <= slack), objectives


@pytest.mark.parametrize("name", ESTIMATORS)
@PROPERTY
@given(problem=problems(max_samples=24))
def test_literal_forward_pass_agrees_with_fit(name, problem):
    X, sample_weight, init = problem
    usable(name, X)
    estimator = fit(name, X, sample_weight, init)
    output = estimator.network_.forward(
        X, estimator.init_centers_, estimator.n_iter_, sample_weight=sample_weight
    )
    assert_array_equal(output.labels, estimator.labels_)
    assert_centers_close(output.centers, estimator.cluster_centers_, X)


@pytest.mark.parametrize("name", ESTIMATORS)
@PROPERTY
@given(problem=problems(), seed=st.integers(0, 1000))
def test_fit_predict_equals_fit_labels(name, problem, seed):
    X, sample_weight, init = problem
    usable(name, X)
    k = init.shape[0]
    labels = ESTIMATORS[name](k, random_state=seed).fit_predict(
        X, sample_weight=sample_weight
    )
    fitted = ESTIMATORS[name](k, random_state=seed).fit(X, sample_weight=sample_weight)
    assert_array_equal(labels, fitted.labels_)


@pytest.mark.parametrize("name", ESTIMATORS)
@PROPERTY
@given(problem=problems())
def test_predict_on_the_training_data_gives_the_labels(name, problem):
    X, sample_weight, init = problem
    usable(name, X)
    estimator = fit(name, X, sample_weight, init)
    labels = estimator.predict(X)
    compared = np.ones(len(X), dtype=bool)
    if name == "trimmed":
        # A point exactly at the trimming radius is kept or trimmed in fit
        # by rank; predict compares with the radius, up to rounding.
        distances = estimator.transform(X).min(axis=1)
        compared = ~np.isclose(distances, estimator.radius_, rtol=1e-9)
    assert_array_equal(labels[compared], estimator.labels_[compared])
