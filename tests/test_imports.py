"""The core install imports no optional dependency."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIT_WITHOUT_DASK = """
import sys
import numpy as np
import sklearn_kmt
X = np.array([[0.0, 0.0], [0.0, 1.0], [4.0, 0.0], [4.0, 1.0]])
model = sklearn_kmt.TransformerKMeans(n_clusters=2, random_state=0).fit(X)
model.predict(X), model.transform(X)
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "dask")
assert not loaded, loaded
"""


def test_core_import_and_fit_do_not_import_dask():
    result = subprocess.run(
        [sys.executable, "-c", FIT_WITHOUT_DASK],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _package_imports():
    """For each module of the package, the package modules it imports,
    function-level imports included."""
    import ast

    package = ROOT / "sklearn_kmt"
    graph = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:
                    imported.add(node.module.split(".")[0])
                elif node.level == 1:
                    imported.update(alias.name for alias in node.names)
                elif (node.module or "").startswith("sklearn_kmt."):
                    imported.add(node.module.split(".")[1])
                elif node.module == "sklearn_kmt":
                    imported.add("__init__")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("sklearn_kmt."):
                        imported.add(alias.name.split(".")[1])
        graph[path.stem] = imported & {p.stem for p in package.glob("*.py")}
    return graph


def test_the_package_has_no_import_cycle():
    graph = _package_imports()
    assert "_base" in graph["_kmeans"]  # the reading of imports works
    cycles = []

    def visit(module, path):
        for target in sorted(graph[module]):
            if target in path:
                cycles.append(path[path.index(target) :] + [target])
            else:
                visit(target, path + [target])

    # __init__ and __main__ sit on top: nothing below may import them back.
    for module in graph:
        visit(module, [module])
    assert cycles == []
