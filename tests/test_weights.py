"""Sample weights act like repeated samples, for every variant.

scikit-learn's ``check_sample_weight_equivalence_*`` checks are expected to
fail for these estimators because a random seeding draws differently on
reweighted and on repeated data. These tests state the stronger guarantees
instead: with a fixed init, integer weights give exactly the result of
repetition; with k-means++ seeding, the same distribution of outcomes.
"""

from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from scipy.stats import chi2_contingency
from sklearn.datasets import make_blobs

from sklearn_kmt import (
    TransformerKMeans,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)
from sklearn_kmt._components import TrimmingGate

VARIANTS = {
    "soft": (TransformerSoftKMeans, {"beta": 0.5}),
    "spherical": (TransformerSphericalKMeans, {}),
    "trimmed": (TransformerTrimmedKMeans, {"trim_fraction": 0.0}),
}


def weighted_problem(seed=0):
    rng = np.random.RandomState(seed)
    X, _ = make_blobs(n_samples=60, centers=4, cluster_std=1.5, random_state=rng)
    X += 10.0  # away from the origin, so that directions differ (spherical)
    sample_weight = rng.randint(1, 5, size=X.shape[0])
    init = X[rng.choice(X.shape[0], size=4, replace=False)]
    return X, sample_weight, init


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_integer_weights_equal_repetition_with_a_fixed_init(variant, sparse):
    Estimator, params = VARIANTS[variant]
    X, sample_weight, init = weighted_problem()
    X_repeated = np.repeat(X, sample_weight, axis=0)
    container = sp.csr_matrix if sparse else np.asarray
    # A fixed number of layers: soft slots never repeat, and a shift that is
    # exactly zero depends on rounding.
    params = dict(params, n_clusters=4, init=init, tol=0.0, max_iter=30)

    weighted = Estimator(**params).fit(container(X), sample_weight=sample_weight)
    repeated = Estimator(**params).fit(container(X_repeated))

    assert_array_equal(repeated.labels_, np.repeat(weighted.labels_, sample_weight))
    assert repeated.n_iter_ == weighted.n_iter_
    scale = np.abs(X).max()
    np.testing.assert_allclose(
        repeated.cluster_centers_, weighted.cluster_centers_, atol=1e-10 * scale
    )
    assert repeated.inertia_ == pytest.approx(weighted.inertia_, rel=1e-10)
    if variant == "soft":
        assert repeated.free_energy_ == pytest.approx(weighted.free_energy_, rel=1e-10)


def test_trimming_integer_weights_equal_repetition_when_the_budget_splits_no_point():
    X, sample_weight, init = weighted_problem(1)
    X[:3] = [[80.0, -80.0], [-70.0, 90.0], [100.0, 100.0]]  # far outliers
    sample_weight[:3] = [2, 3, 1]
    # The budget, 6.5 units of weight, covers the three outliers (6 units)
    # and no part of the next point, weighted or repeated.
    trim_fraction = 6.5 / sample_weight.sum()
    params = dict(n_clusters=4, init=init, tol=0.0, trim_fraction=trim_fraction)

    weighted = TransformerTrimmedKMeans(**params).fit(X, sample_weight=sample_weight)
    repeated = TransformerTrimmedKMeans(**params).fit(np.repeat(X, sample_weight, 0))

    assert_array_equal(weighted.labels_[:3], -1)
    assert_array_equal(repeated.labels_, np.repeat(weighted.labels_, sample_weight))
    np.testing.assert_allclose(
        repeated.cluster_centers_, weighted.cluster_centers_, atol=1e-10 * 100
    )
    assert repeated.radius_ == pytest.approx(weighted.radius_, rel=1e-12)
    assert repeated.inertia_ == pytest.approx(weighted.inertia_, rel=1e-10)


def test_trimming_gate_keeps_what_it_keeps_of_the_repeated_points():
    rng = np.random.RandomState(0)
    distances = rng.permutation(20).astype(float)
    sample_weight = rng.randint(1, 4, size=20)
    gate = TrimmingGate(trim_fraction=0.3)
    kept = gate.kept(distances, sample_weight)
    kept_repeated = gate.kept(
        np.repeat(distances, sample_weight), np.ones(sample_weight.sum())
    )
    # Repetition may trim part of the boundary point's copies; elsewhere the
    # two agree, and the weighted gate never trims more than the budget.
    boundary = np.repeat(kept, sample_weight) != kept_repeated
    assert boundary.sum() < sample_weight.max()
    assert sample_weight[~kept].sum() <= 0.3 * sample_weight.sum()
    assert sample_weight[~kept].sum() + sample_weight.max() > 0.3 * sample_weight.sum()


# -- seeding: the same distribution of outcomes ---------------------------------


# Around the origin, so that the groups' directions differ too (spherical).
GROUP_LOCATIONS = np.array([[-6.0, -4.5], [3.0, -4.5], [-4.0, 5.5], [7.0, 3.5]])


def grouped_data():
    """Four tight groups of points with very different weights."""
    rng = np.random.RandomState(0)
    X = np.concatenate([loc + 0.1 * rng.normal(size=(4, 2)) for loc in GROUP_LOCATIONS])
    groups = np.repeat(np.arange(4), 4)
    sample_weight = np.repeat([5, 1, 3, 1], 4) + rng.randint(0, 2, size=16)
    return X, groups, sample_weight


def seeding_outcomes(Estimator, params, X, groups, sample_weight, seeds):
    """Which groups end up together after the seeding and one layer."""
    outcomes = []
    for seed in seeds:
        labels = (
            Estimator(2, n_init=1, max_iter=1, random_state=seed, **params)
            .fit(X, sample_weight=sample_weight)
            .labels_
        )
        majority = [np.bincount(labels[groups == g]).argmax() for g in range(4)]
        renumber = {}
        outcomes.append(tuple(renumber.setdefault(j, len(renumber)) for j in majority))
    return outcomes


def homogeneity_pvalue(outcomes, other_outcomes):
    """Chi-square test of one distribution, pooling categories seen < 10 times."""
    total = Counter(outcomes) + Counter(other_outcomes)
    common = sorted(c for c, count in total.items() if count >= 10)

    def row(sample):
        counts = Counter(sample)
        kept = [counts[c] for c in common]
        return kept + [len(sample) - sum(kept)]

    table = np.array([row(outcomes), row(other_outcomes)])
    table = table[:, table.sum(axis=0) > 0]
    assert table.shape[1] >= 2
    return chi2_contingency(table).pvalue


@pytest.mark.parametrize(
    "Estimator, params",
    [
        (TransformerKMeans, {}),
        (TransformerSoftKMeans, {"beta": 1.0}),
        (TransformerSphericalKMeans, {}),
        (TransformerTrimmedKMeans, {"trim_fraction": 0.0}),
    ],
    ids=["kmeans", "soft", "spherical", "trimmed"],
)
def test_kmeans_plusplus_with_weights_draws_like_repetition(Estimator, params):
    """The seeding with integer weights has the distribution of repetition.

    Over disjoint sets of fixed seeds, the grouping reached after k-means++
    and one layer is compared by a chi-square test of homogeneity, which a
    correct implementation fails with probability about 1e-3 (the seeds are
    fixed, so the test is deterministic). Dropping the weights must be
    rejected at that level, which shows that the test can fail. The trimmed
    estimator seeds with its own gated k-means++ (here with nothing trimmed;
    ``test_trimming_gate_keeps_what_it_keeps_of_the_repeated_points`` covers
    the gate).
    """
    X, groups, sample_weight = grouped_data()
    repeated_X = np.repeat(X, sample_weight, axis=0)
    repeated_groups = np.repeat(groups, sample_weight)
    n_seeds = 400
    outcomes = [
        seeding_outcomes(Estimator, params, X, groups, sample_weight, range(n_seeds)),
        seeding_outcomes(
            Estimator,
            params,
            repeated_X,
            repeated_groups,
            None,
            range(n_seeds, 2 * n_seeds),
        ),
        seeding_outcomes(
            Estimator, params, X, groups, None, range(2 * n_seeds, 3 * n_seeds)
        ),
    ]
    weighted, repeated, unweighted = outcomes
    assert homogeneity_pvalue(weighted, repeated) > 1e-3
    assert homogeneity_pvalue(weighted, unweighted) < 1e-3
