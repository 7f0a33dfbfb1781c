"""A fit in a forked child process, after a fit on worker threads in the parent.

The worker threads of a threaded layer live in pools kept between fits; a
forked child inherits the pools without their threads. Each case runs in a
fresh interpreter (so that this suite's own threads and pools play no part)
with BLAS allowed two threads, makes sure the parent's fit really ran on
worker threads, forks, and fails when the child's fit does not return in
time.
"""

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="fork is a POSIX start method"
)

# Seconds a child's fit of a few hundred points may take; it takes well under
# one. A hung child is killed at this deadline.
DEADLINE = 60

PRELUDE = """
import os
import sys
import time

import numpy as np

from sklearn_kmt import TransformerKMeans
from sklearn_kmt import _streams

# Thread every layer, however small, so that the parent's fit uses the pool.
_streams.MIN_THREADED_PRODUCT = 0
rng = np.random.RandomState(0)
TransformerKMeans(16, max_iter=3, n_init=1, random_state=0).fit(rng.rand(20_000, 8))
if not _streams._POOLS:
    print("SKIP: BLAS runs on one thread here, so no pool was made")
    sys.exit(0)


def small_fit(seed):
    X = np.random.RandomState(seed).rand(20_000, 8)
    model = TransformerKMeans(4, max_iter=5, n_init=1, random_state=seed).fit(X)
    return int(model.n_iter_)
"""

CASES = {
    "os.fork": """
pid = os.fork()
if pid == 0:
    small_fit(1)
    os._exit(0)
deadline = time.monotonic() + DEADLINE
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.05)
os.kill(pid, 9)
print("the forked child's fit did not return")
sys.exit(3)
""",
    "multiprocessing fork pool": """
import multiprocessing

with multiprocessing.get_context("fork").Pool(2) as pool:
    n_iter = pool.map_async(small_fit, [1, 2, 3]).get(timeout=DEADLINE)
assert all(n >= 1 for n in n_iter), n_iter
""",
    "joblib multiprocessing backend": """
from joblib import Parallel, delayed

n_iter = Parallel(n_jobs=2, backend="multiprocessing", timeout=DEADLINE)(
    delayed(small_fit)(seed) for seed in [1, 2, 3]
)
assert all(n >= 1 for n in n_iter), n_iter
""",
}


@pytest.mark.parametrize("case", CASES)
def test_fit_in_forked_child_after_threaded_fit_returns(case):
    script = PRELUDE + f"DEADLINE = {DEADLINE}\n" + textwrap.dedent(CASES[case])
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=3 * DEADLINE,
        env=environment,
    )
    if result.stdout.startswith("SKIP:"):
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
