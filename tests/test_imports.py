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
