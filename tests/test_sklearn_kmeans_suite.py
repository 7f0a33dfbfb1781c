"""scikit-learn's own KMeans tests, run against TransformerKMeans.

The test functions are imported from ``sklearn/cluster/tests/test_k_means.py``
as installed, not copied: the module's ``KMeans`` name is pointed at
:class:`KMeansUnderTest` (TransformerKMeans, which has ``KMeans``' signature),
and a test parametrized over estimator classes is re-parametrized with that
class alone. Tests of other estimators or of private functions are listed in
``NOT_APPLICABLE`` with the reason, and reported as skipped.
"""

import fnmatch
import functools

import numpy as np
import pytest
import sklearn
from sklearn.cluster import KMeans
from sklearn.cluster.tests import test_k_means as sklearn_tests

from sklearn_kmt import TransformerKMeans


class KMeansUnderTest(TransformerKMeans):
    """TransformerKMeans keeping the resolved number of runs where KMeans'
    tests read it."""

    def _resolve_n_init(self):
        # KMeans keeps the resolved number of runs as _n_init, which its
        # tests read.
        self._n_init = super()._resolve_n_init()
        return self._n_init


def _under_test(value):
    """KMeansUnderTest for KMeans; None for another estimator class."""
    if value is KMeans:
        return KMeansUnderTest
    if isinstance(value, type):
        return None
    return value


def _adapted_marks(test):
    """The test's marks, with estimator classes narrowed to KMeansUnderTest
    and the algorithm to "lloyd" (elkan would run the same network again)."""
    marks = []
    for mark in getattr(test, "pytestmark", []):
        if mark.name != "parametrize":
            marks.append(mark)
            continue
        argnames, argvalues = mark.args
        names = argnames if isinstance(argnames, (list, tuple)) else argnames
        names = (
            [name.strip() for name in names.split(",")]
            if isinstance(names, str)
            else list(names)
        )
        ids = mark.kwargs.get("ids")
        kept_values, kept_ids = [], []
        for index, value in enumerate(argvalues):
            row = list(value) if len(names) > 1 else [value]
            for position, name in enumerate(names):
                if name in ("Estimator", "Klass"):
                    row[position] = _under_test(row[position])
                if name in ("algo", "algorithm") and row[position] != "lloyd":
                    row[position] = None
            if any(item is None for item in row):
                continue
            kept_values.append(tuple(row) if len(names) > 1 else row[0])
            if isinstance(ids, (list, tuple)):
                kept_ids.append(ids[index])
        kwargs = dict(mark.kwargs)
        if isinstance(ids, (list, tuple)):
            kwargs["ids"] = kept_ids
        marks.append(pytest.mark.parametrize(argnames, kept_values, **kwargs))
    return marks


def _imported(name):
    test = getattr(sklearn_tests, name, None)
    if test is None:  # an older scikit-learn

        def absent():
            pytest.skip(f"{name} is not in this version of scikit-learn")

        return absent

    @functools.wraps(test)
    def run(*args, **kwargs):
        return test(*args, **kwargs)

    run.pytestmark = _adapted_marks(test)
    return run


@pytest.fixture(autouse=True)
def kmeans_is_transformer_kmeans(monkeypatch):
    monkeypatch.setattr(sklearn_tests, "KMeans", KMeansUnderTest)


@pytest.fixture
def global_random_seed():
    """scikit-learn's default global seed."""
    return 42


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def global_dtype(request):
    return request.param


APPLICABLE = [
    "test_kmeans_results",
    "test_kmeans_relocated_clusters",
    "test_kmeans_elkan_results",
    "test_kmeans_convergence",
    "test_all_init",
    "test_kmeans_init_auto_with_initial_centroids",
    "test_fortran_aligned_data",
    "test_warning_n_init_precomputed_centers",
    "test_kmeans_copyx",
    "test_score_max_iter",
    "test_kmeans_predict",
    "test_dense_sparse",
    "test_predict_dense_sparse",
    "test_integer_input",
    "test_transform",
    "test_fit_transform",
    "test_n_init",
    "test_float_precision",
    "test_centers_not_mutated",
    "test_kmeans_init_fitted_centers",
    "test_kmeans_warns_less_centers_than_unique_points",
    "test_weighted_vs_repeated",
    "test_unit_weights_vs_no_weights",
    "test_scaled_weights",
    "test_kmeans_empty_cluster_relocated",
    "test_result_equal_in_diff_n_threads",
    "test_k_means_1_iteration",
    "test_n_init_auto",
    "test_sample_weight_unchanged",
    "test_wrong_params",
    "test_kmeans_with_array_like_or_np_scalar_init",
    "test_feature_names_out",
    "test_predict_does_not_change_cluster_centers",
    "test_relocating_with_duplicates",
    "test_kmeans_verbose",
]

NOT_APPLICABLE = {
    "test_relocate_empty_clusters": "calls the private _relocate_empty_clusters",
    "test_sample_weight_init": "calls the private KMeans._init_centroids",
    "test_sample_weight_zero": "calls the private KMeans._init_centroids",
    "test_minibatch_*": "MiniBatchKMeans only (mini-batch updates, partial_fit)",
    "test_k_means_function": "the k_means function, not an estimator",
    "test_warning_elkan_1_cluster": "a warning of the elkan algorithm only",
    "test_kmeans_elkan_iter_attribute": "the elkan algorithm's n_iter_ only",
    "test_euclidean_distance": "scikit-learn's private Cython distances",
    "test_inertia": "scikit-learn's private Cython inertia",
    "test_kmeans_plusplus_*": "the kmeans_plusplus function, which the package uses",
    "test_is_same_clustering": "scikit-learn's private _is_same_clustering",
}


@pytest.mark.parametrize("name", NOT_APPLICABLE)
def test_not_applicable(name):
    pytest.skip(f"{name}: {NOT_APPLICABLE[name]}")


for _name in APPLICABLE:
    globals()[_name] = _imported(_name)


LISTED_FOR = "1.9."


def test_every_scikit_learn_kmeans_test_is_run_or_skipped_with_a_reason():
    # The lists above were drawn up against this release series; a later one
    # may add tests, which then need sorting into them.
    if not sklearn.__version__.startswith(LISTED_FOR):
        pytest.skip(f"the lists were drawn up for scikit-learn {LISTED_FOR}.x")
    names = [name for name in vars(sklearn_tests) if name.startswith("test_")]
    unaccounted = [
        name
        for name in names
        if name not in APPLICABLE
        and not any(fnmatch.fnmatch(name, pattern) for pattern in NOT_APPLICABLE)
    ]
    assert unaccounted == []
