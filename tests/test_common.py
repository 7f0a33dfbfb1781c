"""scikit-learn API compliance checks for every public estimator."""

import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

import sklearn_kmt


def _public_estimators():
    return [
        getattr(sklearn_kmt, name)()
        for name in sklearn_kmt.__all__
        if name != "__version__"
    ]


ESTIMATORS = _public_estimators()

_SEEDING_REASON = (
    "k-means seeding draws from the random stream differently on reweighted "
    "and on repeated samples, as for sklearn.cluster.KMeans; with a fixed init "
    "integer weights equal repetition exactly, and with k-means++ in "
    "distribution (test_kmeans.py::test_weighted_vs_repeated and "
    "test_weights.py)"
)


_PREDICT_PROBA_REASON = (
    "scikit-learn's sparse-input check assumes that an estimator with "
    "predict_proba is a classifier; CSR input is checked against dense input "
    "directly (test_soft.py::test_sparse_input_gives_the_dense_result)"
)


def _expected_failed_checks(estimator):
    expected = {
        "check_sample_weight_equivalence_on_dense_data": _SEEDING_REASON,
        "check_sample_weight_equivalence_on_sparse_data": _SEEDING_REASON,
    }
    if hasattr(estimator, "predict_proba"):
        expected["check_estimator_sparse_array"] = _PREDICT_PROBA_REASON
        expected["check_estimator_sparse_matrix"] = _PREDICT_PROBA_REASON
    return expected


def test_public_estimators_found():
    assert ESTIMATORS
    assert "TransformerKMeans" in {type(est).__name__ for est in ESTIMATORS}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: type(est).__name__)
def test_check_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda est: type(est).__name__)
def test_fit_docstring_attributes(estimator):
    # scikit-learn's own check, imported from the installed release: every
    # attribute the Attributes section documents exists after fit (unless it
    # says "only"), and every public fitted attribute is documented.
    pytest.importorskip("numpydoc")
    from sklearn.tests import test_docstring_parameters

    Estimator = type(estimator)
    test_docstring_parameters.test_fit_docstring_attributes(
        Estimator.__name__, Estimator
    )
