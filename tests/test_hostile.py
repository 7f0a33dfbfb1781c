"""Hostile inputs: each ends in a correct result or a clear error, raised
before any layer runs, and never changes the caller's data.

``CATALOGUE`` names every hostile input tested here; the README counts them.
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerRobustKMeans,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)
from sklearn_kmt._network import Network

# Each estimator at a data scale: soft k-means' beta is in inverse squared
# units of the data, so it scales with them.
ESTIMATORS = {
    "kmeans": lambda k, scale=1.0, **kw: TransformerKMeans(k, **kw),
    "soft": lambda k, scale=1.0, **kw: TransformerSoftKMeans(
        k, beta=4.0 / scale**2, **kw
    ),
    "spherical": lambda k, scale=1.0, **kw: TransformerSphericalKMeans(k, **kw),
    "trimmed": lambda k, scale=1.0, **kw: TransformerTrimmedKMeans(
        k, trim_fraction=0.1, **kw
    ),
    "robust": lambda k, scale=1.0, **kw: TransformerRobustKMeans(
        k, beta=0.5 / scale**2, **kw
    ),
    "kmedoids": lambda k, scale=1.0, **kw: TransformerKMedoids(k, n_candidates=8, **kw),
}
HARD = ["kmeans", "spherical", "trimmed", "kmedoids"]

CATALOGUE = [
    "values near and beyond the float64 overflow limit, only subnormal values",
    "spherical data at any scale, float32 spherical data near 1e-20",
    "float32 timestamps near 1.7e18",
    "an initial center far beyond the data",
    "sample weights whose total overflows",
    "an initial center too far from the data for any common scaling",
    "subnormal values among normal ones",
    "float32 data with a large offset",
    "duplicated points, more clusters than distinct points",
    "constant data",
    "one sample per cluster",
    "one feature",
    "as many clusters as samples",
    "CSR with explicit zeros",
    "CSR with unsorted indices",
    "CSR with int64 indices",
    "CSR with duplicate entries",
    "object array of numbers",
    "object or string array of text",
    "ragged lists",
    "3-D array",
    "boolean array",
    "pandas DataFrame with mixed dtypes",
    "pandas DataFrame with a text column",
    "NaN or infinity",
    "sample weights all zero",
    "sample weights of the wrong length",
    "prediction at any magnitude",
]


def blobs(n_per_blob=15, n_features=2, seed=0):
    """Two well separated blobs in the positive quadrant (distinct directions)."""
    rng = np.random.RandomState(seed)
    first = rng.normal(0.0, 0.3, (n_per_blob, n_features)) + 1.0
    second = rng.normal(0.0, 0.3, (n_per_blob, n_features))
    second[:, 0] += 8.0
    return np.vstack([first, second])


def same_partition(labels, other):
    pairs = np.unique(np.stack([labels, other]), axis=1)
    return (
        np.unique(pairs[0]).size == pairs.shape[1]
        and np.unique(pairs[1]).size == pairs.shape[1]
    )


def two_blob_init(X):
    return np.asarray(X)[[0, -1]]


@pytest.fixture
def no_layer_runs(monkeypatch):
    """Any run of the network fails the test: errors must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a layer ran before the input was refused")

    monkeypatch.setattr(Network, "_run", refuse)


def fit_keeping(estimator, X, **fit_params):
    """Fit and check the caller's X and sample weights did not change."""
    before = X.copy() if hasattr(X, "copy") else X
    weights = fit_params.get("sample_weight")
    weights_before = None if weights is None else np.array(weights, copy=True)
    estimator.fit(X, **fit_params)
    if sp.issparse(X):
        assert_array_equal(X.toarray(), before.toarray())
    elif isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X, before)
    else:
        assert_array_equal(np.asarray(X), np.asarray(before))
    if weights is not None:
        assert_array_equal(weights, weights_before)
    return estimator


def assert_sound(estimator, n_samples):
    assert np.all(np.isfinite(estimator.cluster_centers_))
    assert estimator.labels_.shape == (n_samples,)
    assert np.isfinite(estimator.inertia_)


# Powers of two, so that the scaled data are exact multiples of the data:
# near the overflow of squared distances, beyond it, near the largest float,
# and subnormal values only.
MAGNITUDES = {
    "2**508": 508,
    "2**996": 996,
    "2**1019": 1019,
    "2**-1030": -1030,
}


def degree(name):
    """How the objective of each estimator scales with the data."""
    return {"spherical": 0, "kmedoids": 1}.get(name, 2)


@pytest.mark.parametrize("magnitude", MAGNITUDES)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_any_magnitude_gives_the_result_of_the_well_scaled_data(name, magnitude):
    # k-means is scale-equivariant and a power of two scales exactly: the
    # labels are those of the well-scaled data, the centers and the inertia
    # theirs scaled back (the inertia infinite where its value is beyond
    # float64).
    exponent = MAGNITUDES[magnitude]
    if name in ("soft", "robust") and abs(exponent) > 511:
        pytest.skip("beta, in inverse squared data units, is beyond float64")
    scaled_X = np.ldexp(blobs(), exponent)
    scaled_init = two_blob_init(scaled_X)
    # The well-scaled data: the same values brought back near 1, exactly
    # (subnormal values lost digits when they were made, not here).
    X, init = np.ldexp(scaled_X, -exponent), np.ldexp(scaled_init, -exponent)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(X)
    estimator = ESTIMATORS[name](
        2, math.ldexp(1.0, exponent), init=scaled_init, random_state=0
    )
    fit_keeping(estimator, scaled_X)
    assert_array_equal(estimator.labels_, reference.labels_)
    center_shift = 0 if name == "spherical" else exponent
    assert_array_equal(
        estimator.cluster_centers_, np.ldexp(reference.cluster_centers_, center_shift)
    )
    with np.errstate(over="ignore"):
        expected_inertia = np.ldexp(reference.inertia_, degree(name) * exponent)
    assert estimator.inertia_ == pytest.approx(expected_inertia, rel=1e-12)
    assert_array_equal(estimator.predict(scaled_X), reference.labels_)
    # The network keeps the fit's scaling: its forward pass replays the fit.
    replay = estimator.network_.forward(
        scaled_X, estimator.init_centers_, estimator.n_iter_, literal=False
    )
    assert_array_equal(replay.labels, estimator.labels_)


@pytest.mark.parametrize("scale", [1e-160, 1e160, 1e-300, 1e300])
def test_spherical_k_means_at_any_scale_sees_directions(scale, container):
    X = blobs()
    init = two_blob_init(X)
    reference = TransformerSphericalKMeans(2, init=init).fit(container(X))
    estimator = TransformerSphericalKMeans(2, init=init * scale)
    fit_keeping(estimator, container(X * scale))
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-12)
    assert_array_equal(estimator.predict(container(X * scale)), reference.labels_)
    assert_allclose(
        estimator.transform(container(X * scale)),
        reference.transform(container(X)),
        atol=1e-12,
    )


def test_float32_spherical_data_near_1e_minus_20():
    X = blobs()
    reference = TransformerSphericalKMeans(2, init=two_blob_init(X)).fit(X)
    tiny = (X * 1e-20).astype(np.float32)
    estimator = fit_keeping(
        TransformerSphericalKMeans(2, init=two_blob_init(tiny)), tiny
    )
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-6)


def test_float32_timestamps_fit_as_kmeans_fits_them():
    # Values near 1.7e18 spread over 1e16: their squares overflow float32,
    # their squared distances after centring do not.
    rng = np.random.RandomState(0)
    offsets = np.concatenate([rng.normal(0, 1, 200), rng.normal(8, 1, 200)])
    X = (1.7e18 + 1e15 * offsets).astype(np.float32)[:, None]
    init = X[[0, -1]]
    params = dict(n_clusters=2, init=init, n_init=1)
    reference = KMeans(**params).fit(X)
    estimator = fit_keeping(TransformerKMeans(**params), X)
    assert_array_equal(estimator.labels_, reference.labels_)
    assert estimator.n_iter_ == reference.n_iter_
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-6)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_an_init_row_far_beyond_the_data_is_relocated(name):
    # The far centroid attracts no sample, wherever it is, and takes the
    # sample farthest from its centroid: 1e200 and 1e10 give the same fit.
    X = blobs()
    far, near = X[[0, -1]].copy(), X[[0, -1]].copy()
    far[1], near[1] = 1e200, 1e10
    scale = 1.0 if name != "soft" else 1.0
    reference = ESTIMATORS[name](2, scale, init=near, random_state=0).fit(X)
    estimator = fit_keeping(ESTIMATORS[name](2, scale, init=far, random_state=0), X)
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-12)
    assert np.all(np.isfinite(estimator.cluster_centers_))


@pytest.mark.parametrize("name", HARD)
def test_sample_weights_whose_total_overflows_act_as_equal_weights(name):
    X = blobs(n_per_blob=50)
    init = two_blob_init(X)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(X)
    estimator = fit_keeping(
        ESTIMATORS[name](2, init=init, random_state=0),
        X,
        sample_weight=np.full(100, 1e307),
    )
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-12)
    with np.errstate(over="ignore"):
        assert estimator.inertia_ == pytest.approx(reference.inertia_ * 1e307)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_init_too_far_from_the_data_for_any_scale_is_blamed(name, no_layer_runs):
    X = blobs() * 1e-300
    init = two_blob_init(X)
    init[1] = 1e300
    if name == "spherical":  # directions only: any init fits
        pytest.skip("the normalisation puts init on the unit sphere")
    with pytest.raises(ValueError, match="^init holds values of magnitude up to 1e"):
        ESTIMATORS[name](2, init=init).fit(X)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_init_too_far_leaves_data_centred_in_place_as_given(name, no_layer_runs):
    # With copy_x=False the data may be centred in place; a fit that fails
    # after that gives it back as it was, and blames the data's own scale.
    if name in ("spherical", "kmedoids"):
        pytest.skip("never centred: no copy_x")
    X = blobs() + 100.0
    given = X.copy()
    init = two_blob_init(X)
    init[1] = 1e300
    with pytest.raises(ValueError, match="too far from the data.s 108 "):
        ESTIMATORS[name](2, init=init, copy_x=False).fit(X)
    assert_array_equal(X, given)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_subnormal_values_among_normal_ones_count_as_zeros(name):
    X = blobs()
    X[::4, 1] = 0.0
    with_subnormals = X.copy()
    with_subnormals[::4, 1] = 5e-324
    init = two_blob_init(X)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(X)
    estimator = fit_keeping(
        ESTIMATORS[name](2, init=init, random_state=0), with_subnormals
    )
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-12)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_float32_with_a_large_offset_keeps_its_digits(name):
    X = (blobs() + 1e5).astype(np.float32)
    init = two_blob_init(X)
    reference = ESTIMATORS[name](2, init=init.astype(np.float64), random_state=0)
    reference.fit(X.astype(np.float64))
    estimator = fit_keeping(ESTIMATORS[name](2, init=init, random_state=0), X)
    assert estimator.cluster_centers_.dtype == np.float32
    assert same_partition(estimator.labels_, reference.labels_)
    assert_allclose(
        estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-6, atol=0
    )
    labels = estimator.predict(X)
    kept = estimator.labels_ >= 0
    if name == "trimmed":
        # A kept point at the trimming radius may fall out by the rounding
        # of the float32 centers, a spacing of the data's magnitude.
        distances = estimator.transform(X).min(axis=1)
        spacing = np.spacing(np.abs(X).max())
        at_radius = np.abs(distances - estimator.radius_) <= spacing
        kept &= ~at_radius
    assert_array_equal(labels[kept], estimator.labels_[kept])


@pytest.mark.parametrize("name", ESTIMATORS)
def test_duplicated_points_with_more_clusters_than_distinct_points(name):
    distinct = np.array([[0.0, 1.0], [5.0, 1.0], [1.0, 6.0]])
    X = np.repeat(distinct, 4, axis=0)
    estimator = ESTIMATORS[name](5, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_keeping(estimator, X)
    assert_sound(estimator, X.shape[0])
    if name in HARD:
        assert any(
            issubclass(w.category, ConvergenceWarning)
            and "distinct clusters" in str(w.message)
            for w in caught
        )
        kept = estimator.labels_ >= 0
        assert np.unique(estimator.labels_[kept]).size <= 3


@pytest.mark.parametrize("name", ESTIMATORS)
def test_constant_data(name):
    X = np.full((12, 3), 2.5)
    estimator = ESTIMATORS[name](3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_keeping(estimator, X)
    assert_sound(estimator, 12)
    expected = X[0] / np.linalg.norm(X[0]) if name == "spherical" else X[0]
    used = np.unique(estimator.labels_[estimator.labels_ >= 0])
    assert_allclose(
        estimator.cluster_centers_[used], expected[None].repeat(used.size, 0)
    )
    assert estimator.inertia_ == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", HARD)
def test_one_sample_per_cluster(name):
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2], [0.3, -1.0]])
    estimator = fit_keeping(ESTIMATORS[name](4, random_state=0), X)
    assert np.unique(estimator.labels_).size == 4
    expected = X / np.linalg.norm(X, axis=1)[:, None] if name == "spherical" else X
    assert_allclose(estimator.cluster_centers_[estimator.labels_], expected, atol=1e-12)
    assert estimator.inertia_ == pytest.approx(0.0, abs=1e-12)


def test_one_sample_per_cluster_soft_keeps_the_centers_finite():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2], [0.3, -1.0]])
    estimator = fit_keeping(ESTIMATORS["soft"](4, random_state=0), X)
    assert_sound(estimator, 4)
    assert_allclose(estimator.predict_proba(X).sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_one_feature(name):
    X = blobs()[:, :1]
    estimator = ESTIMATORS[name](2, init=X[[0, -1]], random_state=0)
    if name == "spherical":  # every positive number has the same direction
        with pytest.warns(ConvergenceWarning, match="distinct clusters"):
            fit_keeping(estimator, X)
    else:
        fit_keeping(estimator, X)
    assert_sound(estimator, X.shape[0])
    if name == "spherical":
        assert_allclose(estimator.cluster_centers_, 1.0)
        return
    truth = np.repeat([0, 1], 15)
    kept = estimator.labels_ >= 0
    assert same_partition(estimator.labels_[kept], truth[kept])
    if name == "kmeans":
        expected = KMeans(2, init=X[[0, -1]], n_init=1).fit(X)
        assert_array_equal(estimator.labels_, expected.labels_)
        assert_allclose(
            estimator.cluster_centers_, expected.cluster_centers_, rtol=1e-12
        )


@pytest.mark.parametrize("name", HARD)
def test_as_many_clusters_as_samples(name):
    rng = np.random.RandomState(1)
    X = rng.uniform(0.5, 3.0, (40, 3))
    estimator = ESTIMATORS[name](40, random_state=0)
    if name == "trimmed":  # 4 trimmed samples would leave 4 clusters empty
        with pytest.raises(ValueError, match="keeps 36 of the 40 samples"):
            fit_keeping(estimator, X)
        return
    fit_keeping(estimator, X)
    kept = estimator.labels_ >= 0
    assert np.unique(estimator.labels_[kept]).size == kept.sum()
    assert estimator.inertia_ == pytest.approx(0.0, abs=1e-12)


def sparse_variants(X):
    explicit = sp.csr_matrix(X)
    explicit.data[::3] = 0.0  # stored zeros
    dense_of_explicit = explicit.toarray()
    unsorted = sp.csr_matrix(dense_of_explicit)
    for row in range(unsorted.shape[0]):
        start, end = unsorted.indptr[row], unsorted.indptr[row + 1]
        unsorted.indices[start:end] = unsorted.indices[start:end][::-1].copy()
        unsorted.data[start:end] = unsorted.data[start:end][::-1].copy()
    unsorted.has_sorted_indices = False
    wide_indices = sp.csr_matrix(dense_of_explicit)
    wide_indices.indices = wide_indices.indices.astype(np.int64)
    wide_indices.indptr = wide_indices.indptr.astype(np.int64)
    return dense_of_explicit, {
        "explicit_zeros": explicit,
        "unsorted_indices": unsorted,
        "int64_indices": wide_indices,
    }


@pytest.mark.parametrize(
    "variant", ["explicit_zeros", "unsorted_indices", "int64_indices"]
)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_unusual_csr_gives_the_dense_result(name, variant):
    dense, variants = sparse_variants(blobs(n_features=4))
    X = variants[variant]
    init = two_blob_init(dense)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(dense)
    estimator = fit_keeping(ESTIMATORS[name](2, init=init, random_state=0), X)
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(
        estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-10, atol=1e-12
    )
    assert_array_equal(estimator.predict(X), reference.predict(dense))


def with_duplicate_entries(X):
    """CSR storing each non-zero of X as two entries at the same position,
    its value split unevenly between them (SciPy sums duplicates)."""
    X = sp.csr_matrix(X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    first_part = np.round(0.3 * X.data, 1)
    data = np.concatenate([first_part, X.data - first_part])
    indices = np.concatenate([X.indices, X.indices])
    order = np.argsort(np.concatenate([rows, rows]), kind="stable")
    indptr = np.concatenate([[0], np.cumsum(2 * np.diff(X.indptr))])
    duplicated = sp.csr_matrix((data[order], indices[order], indptr), shape=X.shape)
    assert not duplicated.has_canonical_format
    return duplicated


@pytest.mark.parametrize("name", ESTIMATORS)
def test_csr_with_duplicate_entries_means_their_sum(name):
    X = blobs(n_features=4)
    X[::3, 1] = 0.0
    duplicated = with_duplicate_entries(X)
    summed = duplicated.toarray()  # what the matrix means
    stored = [
        duplicated.data.copy(),
        duplicated.indices.copy(),
        duplicated.indptr.copy(),
    ]
    init = two_blob_init(summed)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(summed)
    estimator = ESTIMATORS[name](2, init=init, random_state=0).fit(duplicated)
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-10)
    assert estimator.inertia_ == pytest.approx(reference.inertia_, rel=1e-10)
    assert_array_equal(estimator.predict(duplicated), reference.predict(summed))
    assert_allclose(
        estimator.transform(duplicated), reference.transform(summed), atol=1e-10
    )
    assert estimator.score(duplicated) == pytest.approx(
        reference.score(summed), rel=1e-10
    )
    # The caller's matrix still stores its duplicates.
    for kept, before in zip(
        [duplicated.data, duplicated.indices, duplicated.indptr], stored, strict=True
    ):
        assert_array_equal(kept, before)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_object_array_of_numbers_is_read_as_float(name):
    X = blobs()
    init = two_blob_init(X)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(X)
    estimator = fit_keeping(
        ESTIMATORS[name](2, init=init, random_state=0), X.astype(object)
    )
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_array_equal(estimator.cluster_centers_, reference.cluster_centers_)


@pytest.mark.parametrize(
    "X",
    [
        np.array([["a", "b"], ["c", "d"], ["e", "f"]]),
        np.array([["a", 1.0], ["c", 2.0], ["e", 3.0]], dtype=object),
    ],
    ids=["str", "object"],
)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_text_arrays_are_refused(name, X, no_layer_runs):
    before = X.copy()
    with pytest.raises(ValueError, match="could not convert string to float"):
        ESTIMATORS[name](2).fit(X)
    assert_array_equal(X, before)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_ragged_lists_are_refused(name, no_layer_runs):
    X = [[1.0, 2.0], [3.0], [4.0, 5.0]]
    with pytest.raises(ValueError, match="inhomogeneous shape"):
        ESTIMATORS[name](2).fit(X)
    assert X == [[1.0, 2.0], [3.0], [4.0, 5.0]]


@pytest.mark.parametrize("name", ESTIMATORS)
def test_three_dimensional_arrays_are_refused(name, no_layer_runs):
    X = np.ones((5, 2, 2))
    with pytest.raises(ValueError, match="dim 3"):
        ESTIMATORS[name](2).fit(X)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_three_dimensional_arrays_are_refused_by_predict(name):
    fitted = ESTIMATORS[name](2, random_state=0).fit(blobs())
    with pytest.raises(ValueError, match="dim 3"):
        fitted.predict(np.ones((5, 2, 1)))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_boolean_array_is_read_as_zeros_and_ones(name):
    X = blobs(n_features=5) > 2.0
    X[0, 1] = X[-1, 2] = True
    init = X[[0, -1]]
    reference = ESTIMATORS[name](2, init=init.astype(float), random_state=0)
    reference.fit(X.astype(float))
    estimator = fit_keeping(ESTIMATORS[name](2, init=init, random_state=0), X)
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_array_equal(estimator.cluster_centers_, reference.cluster_centers_)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_dataframe_with_mixed_dtypes(name):
    X = blobs(n_features=3)
    frame = pd.DataFrame(
        {
            "x": X[:, 0],
            "y": X[:, 1].astype(np.float32),
            "z": np.round(X[:, 2]).astype(np.int64),
            "flag": X[:, 0] > 4.0,
        }
    )
    values = frame.to_numpy(dtype=np.float64)
    init = two_blob_init(values)
    reference = ESTIMATORS[name](2, init=init, random_state=0).fit(values)
    estimator = fit_keeping(ESTIMATORS[name](2, init=init, random_state=0), frame)
    assert_array_equal(estimator.feature_names_in_, ["x", "y", "z", "flag"])
    assert_array_equal(estimator.labels_, reference.labels_)
    assert_allclose(estimator.cluster_centers_, reference.cluster_centers_, rtol=1e-12)
    assert_array_equal(estimator.predict(frame), reference.predict(values))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_dataframe_with_a_text_column_is_refused(name, no_layer_runs):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": ["a", "b", "c"]})
    before = frame.copy()
    with pytest.raises(ValueError, match="could not convert string to float"):
        ESTIMATORS[name](2).fit(frame)
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_nan_and_infinity_are_refused(name, value, no_layer_runs):
    X = blobs()
    X[3, 1] = value
    with pytest.raises(ValueError, match="NaN|infinity"):
        ESTIMATORS[name](2).fit(X)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_sample_weights_all_zero_are_refused(name, no_layer_runs):
    weights = np.zeros(30)
    with pytest.raises(ValueError, match="at least one non-zero"):
        ESTIMATORS[name](2).fit(blobs(), sample_weight=weights)
    assert_array_equal(weights, 0.0)


@pytest.mark.parametrize("length", [29, 31])
@pytest.mark.parametrize("name", ESTIMATORS)
def test_sample_weights_of_the_wrong_length_are_refused(name, length, no_layer_runs):
    with pytest.raises(
        ValueError, match=rf"sample_weight.shape == \({length},\), expected \(30,\)"
    ):
        ESTIMATORS[name](2).fit(blobs(), sample_weight=np.ones(length))


@pytest.mark.parametrize("magnitude", [1e154, 1e300, 1e-300])
@pytest.mark.parametrize("name", HARD)
def test_prediction_at_any_magnitude_names_the_nearest_centroid(name, magnitude):
    X = blobs()
    fitted = ESTIMATORS[name](2, random_state=0).fit(X)
    far = np.random.RandomState(1).uniform(-1, 1, (50, 2)) * magnitude
    labels = fitted.predict(far)
    centers = fitted.cluster_centers_
    if name == "spherical":  # the largest cosine, exactly: the largest x . c
        scores = exact_products(far, centers)
    else:  # the smallest squared distance, exactly
        scores = -exact_squared_distances(far, centers)
    expected = scores.argmax(axis=1)
    if name == "trimmed":
        beyond = -scores.max(axis=1) > Fraction(fitted.radius_) ** 2
        expected[beyond] = -1
    assert_array_equal(labels, expected)


def exact_products(X, Y):
    """The dot products of the rows of X and Y in rational arithmetic."""
    return np.array(
        [
            [
                sum(Fraction(a) * Fraction(b) for a, b in zip(x, y, strict=True))
                for y in Y
            ]
            for x in X
        ],
        dtype=object,
    )


def exact_squared_distances(X, Y):
    """The squared distances of the rows of X and Y in rational arithmetic."""
    return np.array(
        [
            [
                sum((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(x, y, strict=True))
                for y in Y
            ]
            for x in X
        ],
        dtype=object,
    )


@pytest.mark.parametrize("name", ["kmeans", "trimmed", "soft", "robust"])
def test_data_frame_of_sparse_columns_fits_as_its_csr_matrix(name):
    # Validated, a data frame of sparse columns is a CSR matrix, which is
    # never centred (centring would densify it).
    X = np.random.RandomState(0).randint(0, 3, size=(300, 3)).astype(float)
    frame = pd.DataFrame.sparse.from_spmatrix(sp.csr_matrix(X))
    from_frame = ESTIMATORS[name](3, random_state=0).fit(frame)
    from_csr = ESTIMATORS[name](3, random_state=0).fit(sp.csr_matrix(X))
    assert_array_equal(from_frame.labels_, from_csr.labels_)
    assert_allclose(from_frame.cluster_centers_, from_csr.cluster_centers_)
