"""Each variant is TransformerKMeans with documented components swapped.

The soft, spherical and trimmed estimators run the same looped network as
TransformerKMeans; what differs is which components their block holds.
"""

import ast
import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.utils._testing import assert_allclose, assert_array_equal

import sklearn_kmt
from sklearn_kmt import (
    TransformerKMeans,
    TransformerKMedoids,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)
from sklearn_kmt._components import (
    AssignAttention,
    Gate,
    KeyNormaliser,
    Score,
    Softmax,
    TrimmingGate,
    Update,
    UpdateAttention,
)
from sklearn_kmt._network import Network

PACKAGE_DIR = Path(sklearn_kmt.__file__).parent

# Where a component sits in a block, as attribute paths.
COMPONENTS = [
    "assign_attention.score",
    "assign_attention.normaliser",
    "normalisation",
    "gate",
    "update_attention",
    "relocation_head",
]

# variant: (estimator, module, {component: class name it holds instead})
VARIANTS = {
    "soft": (
        TransformerSoftKMeans(3, beta=2.0, random_state=0),
        "_soft.py",
        {"assign_attention.normaliser": "Softmax"},
    ),
    "spherical": (
        TransformerSphericalKMeans(3, random_state=0),
        "_spherical.py",
        {
            "normalisation": "UnitSphereNormalisation",
            "assign_attention.score": "CosineScore",
        },
    ),
    "trimmed": (
        TransformerTrimmedKMeans(3, trim_fraction=0.1, random_state=0),
        "_trimmed.py",
        {"gate": "TrimmingGate"},
    ),
}


def _component(block, path):
    value = block
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _data():
    X, _ = make_blobs(n_samples=150, centers=3, n_features=3, random_state=0)
    return np.abs(X) + 0.1  # non-negative, so that directions differ too


@pytest.fixture(scope="module")
def kmeans_block():
    return TransformerKMeans(3, random_state=0).fit(_data()).network_.block


# ---------------------------------------------------------------------------
# 1. Exactly the documented components are swapped
# ---------------------------------------------------------------------------


def test_kmeans_block_holds_the_plain_components(kmeans_block):
    reprs = {path: repr(_component(kmeans_block, path)) for path in COMPONENTS}
    assert reprs == {
        "assign_attention.score": "SquaredEuclideanScore()",
        "assign_attention.normaliser": "Hardmax()",
        "normalisation": "None",
        "gate": "None",
        "update_attention": "UpdateAttention()",
        "relocation_head": "RelocationHead()",
    }


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_swaps_exactly_the_documented_components(variant, kmeans_block):
    estimator, _, swapped = VARIANTS[variant]
    block = clone(estimator).fit(_data()).network_.block

    differing = {
        path
        for path in COMPONENTS
        if repr(_component(block, path)) != repr(_component(kmeans_block, path))
    }

    assert differing == set(swapped)
    for path, class_name in swapped.items():
        assert type(_component(block, path)).__name__ == class_name


def test_soft_block_carries_beta():
    soft = TransformerSoftKMeans(3, beta=2.5, random_state=0).fit(_data())
    normalisation = soft.network_.block.assign_attention.normaliser
    assert normalisation.beta == 2.5
    assert repr(normalisation) == "Softmax(beta=2.5)"


def test_trimmed_block_carries_trim_fraction():
    trimmed = TransformerTrimmedKMeans(3, trim_fraction=0.25, random_state=0)
    gate = trimmed.fit(_data()).network_.block.gate
    assert gate.trim_fraction == 0.25
    assert repr(gate) == "TrimmingGate(trim_fraction=0.25)"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_runs_the_shared_network(variant):
    estimator, _, _ = VARIANTS[variant]
    estimator = clone(estimator).fit(_data())
    assert type(estimator.network_) is Network
    assert estimator.network_.max_layers == estimator.max_iter


# ---------------------------------------------------------------------------
# 2. One loop over layers in the whole package
# ---------------------------------------------------------------------------


def _mentions_layer_count(node):
    source = ast.unparse(node)
    return "max_layers" in source or "max_iter" in source


def _layer_loops(path):
    """Loops (for or while) whose iterable or condition involves max_iter."""
    tree = ast.parse(path.read_text(), filename=str(path))
    loops = []
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and _mentions_layer_count(node.iter):
            loops.append((path.name, node.lineno, ast.unparse(node.iter)))
        elif isinstance(node, ast.While) and _mentions_layer_count(node.test):
            loops.append((path.name, node.lineno, ast.unparse(node.test)))
    return loops


def test_package_has_exactly_one_loop_over_layers():
    loops = [
        loop for path in sorted(PACKAGE_DIR.glob("*.py")) for loop in _layer_loops(path)
    ]

    assert len(loops) == 1, loops
    module, _, iterable = loops[0]
    assert module == "_network.py"
    assert iterable == "range(max_layers)"


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_module_has_no_loop_over_layers(variant):
    _, module, _ = VARIANTS[variant]
    path = PACKAGE_DIR / module
    source = path.read_text()

    assert _layer_loops(path) == []
    assert "range(self.max_iter)" not in source
    assert "Network(" not in source


# ---------------------------------------------------------------------------
# 3. Pickling
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_pickles_with_identical_predictions(variant, container):
    estimator, _, _ = VARIANTS[variant]
    X = container(_data())
    X_new = container(_data()[::-1] * 1.3)
    fitted = clone(estimator).fit(X)

    loaded = pickle.loads(pickle.dumps(fitted))

    assert type(loaded) is type(fitted)
    assert_array_equal(loaded.cluster_centers_, fitted.cluster_centers_)
    assert_array_equal(loaded.labels_, fitted.labels_)
    assert_array_equal(loaded.predict(X_new), fitted.predict(X_new))
    assert_allclose(loaded.transform(X_new), fitted.transform(X_new), rtol=1e-15)
    assert loaded.score(X_new) == fitted.score(X_new)
    if hasattr(fitted, "predict_proba"):
        assert_array_equal(loaded.predict_proba(X_new), fitted.predict_proba(X_new))
    assert repr(loaded.network_.block.assign_attention) == repr(
        fitted.network_.block.assign_attention
    )


# The interface each kind of component declares, and where a block holds it.
INTERFACES = {
    "assign_attention.score": Score,
    "assign_attention.normaliser": KeyNormaliser,
    "update_attention": Update,
    "gate": Gate,
}


@pytest.mark.parametrize(
    "variant",
    [
        TransformerKMeans,
        TransformerSoftKMeans,
        TransformerSphericalKMeans,
        TransformerTrimmedKMeans,
        TransformerKMedoids,
    ],
    ids=lambda variant: variant.__name__,
)
def test_every_component_of_a_variant_declares_its_interface(variant):
    block = variant()._make_block()
    for path, interface in INTERFACES.items():
        component = _component(block, path)
        if component is not None:
            assert isinstance(component, interface), (path, component)


def test_a_component_without_its_interface_is_told_apart():
    class HalfAScore:
        translation_invariant = True

        def key_bias(self, centers):
            return 0.0

    assert not isinstance(HalfAScore(), Score)
    assert not isinstance(UpdateAttention(), Gate)


def test_components_and_blocks_are_values():
    # Equal when their parameters are, and never changed once made, so
    # that a fitted network_ cannot be altered through a shared component.
    assert kmeans_block_of(Softmax(2.0)) == kmeans_block_of(Softmax(2.0))
    assert kmeans_block_of(Softmax(2.0)) != kmeans_block_of(Softmax(3.0))
    assert len({TrimmingGate(0.1), TrimmingGate(0.1), TrimmingGate(0.2)}) == 2
    block = kmeans_block_of(Softmax(2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.gate = TrimmingGate(0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.assign_attention.normaliser.beta = 1.0


def kmeans_block_of(normaliser):
    from sklearn_kmt._network import kmeans_block

    return kmeans_block(assign_attention=AssignAttention(normaliser=normaliser))
