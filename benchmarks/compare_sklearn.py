"""TransformerKMeans and its variants side by side with scikit-learn's KMeans.

For each grid point (n_samples, n_features, n_clusters) and data type, both
estimators fit the same data from the same init array for the same number of
layers (``tol=0``, ``max_iter`` fixed), alternating, several times; the table
gives the median fit time of each, the ratio of the medians (ours / theirs)
with the spread of the per-repeat ratios, and the peak memory of each as
traced by Python's allocator in one more fit (NumPy arrays included; memory
that compiled code allocates itself is not seen). Times are taken without
tracing, which slows every NumPy allocation. Then the cost of one layer of each
variant relative to TransformerKMeans, and spherical k-means on a sparse
TF-IDF-like matrix.

Run from the repository root::

    python benchmarks/compare_sklearn.py            # the full grid
    python benchmarks/compare_sklearn.py --quick    # tiny sizes, seconds
    python benchmarks/compare_sklearn.py --rst doc/performance_results.txt
"""

import argparse
import os
import platform
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info

from sklearn_kmt import (
    TransformerKMeans,
    TransformerSoftKMeans,
    TransformerSphericalKMeans,
    TransformerTrimmedKMeans,
)

GRID = [
    (100_000, 2, 8),
    (100_000, 50, 100),
    (200_000, 100, 256),
    (1_000_000, 16, 64),
    (20_000, 784, 10),
]
QUICK_GRID = [(2_000, 2, 8), (1_000, 20, 16)]


def timed_fit(estimator, X):
    """Fit; return the seconds it took."""
    start = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - start


def traced_fit(estimator, X):
    """Fit; return the peak memory traced by Python's allocator, in MiB."""
    tracemalloc.start()
    estimator.fit(X)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def compare(n_samples, n_features, n_clusters, dtype, n_layers, repeats, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    init = X[rng.choice(n_samples, n_clusters, replace=False)].copy()
    params = dict(n_clusters=n_clusters, init=init, n_init=1, max_iter=n_layers, tol=0)
    # One untimed fit of each first: the first call pays one-off costs
    # (thread pools, lazy imports) that would land on one side only.
    TransformerKMeans(**params).fit(X)
    KMeans(algorithm="lloyd", **params).fit(X)
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(timed_fit(TransformerKMeans(**params), X))
        theirs.append(timed_fit(KMeans(algorithm="lloyd", **params), X))
    ours, theirs = np.array(ours), np.array(theirs)
    ratios = ours / theirs
    return {
        "ours": np.median(ours),
        "theirs": np.median(theirs),
        "ratio": np.median(ours) / np.median(theirs),
        "ratio_low": ratios.min(),
        "ratio_high": ratios.max(),
        "peak_ours": traced_fit(TransformerKMeans(**params), X),
        "peak_theirs": traced_fit(KMeans(algorithm="lloyd", **params), X),
    }


def variant_costs(n_samples, n_features, n_clusters, n_layers, repeats, seed=0):
    """Median seconds per layer of each variant, relative to TransformerKMeans."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_samples, n_features))
    init = X[rng.choice(n_samples, n_clusters, replace=False)].copy()
    params = dict(n_clusters=n_clusters, init=init, max_iter=n_layers, tol=0)
    estimators = {
        "TransformerKMeans": TransformerKMeans(**params),
        "TransformerSoftKMeans": TransformerSoftKMeans(beta=1.0, **params),
        "TransformerSphericalKMeans": TransformerSphericalKMeans(**params),
        "TransformerTrimmedKMeans": TransformerTrimmedKMeans(**params),
    }
    per_layer = {name: [] for name in estimators}
    for estimator in estimators.values():
        estimator.fit(X)  # untimed, as in compare
    for _ in range(repeats):
        for name, estimator in estimators.items():
            seconds = timed_fit(estimator, X)
            per_layer[name].append(seconds / estimator.n_iter_)
    base = np.median(per_layer["TransformerKMeans"])
    return {name: np.median(times) / base for name, times in per_layer.items()}


def tfidf_like(n_samples, n_features, density, seed=0):
    """Non-negative sparse rows of unit norm, as TfidfVectorizer gives."""
    rng = np.random.RandomState(seed)
    nnz_per_row = max(1, int(density * n_features))
    indices = np.concatenate(
        [rng.choice(n_features, nnz_per_row, replace=False) for _ in range(n_samples)]
    )
    indptr = np.arange(n_samples + 1) * nnz_per_row
    data = rng.exponential(size=indices.size)
    X = sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))
    X.sort_indices()
    norms = np.sqrt(X.multiply(X).sum(axis=1)).A.ravel()
    X = sp.csr_matrix(sp.diags(1 / norms) @ X)
    X.sort_indices()  # canonical, as TfidfVectorizer's output is
    return X


def environment():
    """Lines naming the machine and the thread pools (BLAS, OpenMP) in use."""
    cpu = platform.processor()
    if Path("/proc/cpuinfo").exists():
        models = re.findall(
            r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M
        )
        cpu = models[0] if models else cpu
    lines = [
        f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores".rstrip(),
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}",
    ]
    for pool in threadpool_info():
        lines.append(
            f"threadpool: {pool['internal_api']} {pool.get('version') or ''} "
            f"({pool['num_threads']} threads, {pool['filepath'].split('/')[-1]})"
        )
    return lines


def rst_table(header, rows):
    """A reStructuredText simple table."""
    cells = [header, *rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = "  ".join("=" * width for width in widths)

    def line(row):
        return "  ".join(
            cell.rjust(width) for cell, width in zip(row, widths, strict=True)
        )

    return "\n".join([rule, line(header), rule, *map(line, rows), rule])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, default=10, help="layers per fit")
    parser.add_argument(
        "--rst", metavar="PATH", help="also write the tables as reStructuredText"
    )
    args = parser.parse_args(argv)
    grid = QUICK_GRID if args.quick else GRID
    repeats = 2 if args.quick else args.repeats

    for line in environment():
        print(line)
    print(f"{args.layers} layers per fit, {repeats} repeats, median times\n")
    header = (
        f"{'n':>9} {'d':>4} {'k':>4} {'dtype':>7} {'ours (s)':>9} "
        f"{'sklearn (s)':>11} {'ratio':>6} {'spread':>13} "
        f"{'peak ours':>10} {'peak sklearn':>12}"
    )
    print(header)
    print("-" * len(header))
    comparisons = []
    for dtype in (np.float64, np.float32):
        for n_samples, n_features, n_clusters in grid:
            row = compare(
                n_samples, n_features, n_clusters, dtype, args.layers, repeats
            )
            spread = f"{row['ratio_low']:.2f}-{row['ratio_high']:.2f}"
            print(
                f"{n_samples:>9} {n_features:>4} {n_clusters:>4} "
                f"{np.dtype(dtype).name:>7} {row['ours']:>9.3f} "
                f"{row['theirs']:>11.3f} {row['ratio']:>6.2f} {spread:>13} "
                f"{row['peak_ours']:>7.1f} MiB {row['peak_theirs']:>9.1f} MiB",
                flush=True,
            )
            comparisons.append(
                [
                    str(n_samples),
                    str(n_features),
                    str(n_clusters),
                    np.dtype(dtype).name,
                    f"{row['ours']:.3f}",
                    f"{row['theirs']:.3f}",
                    f"{row['ratio']:.2f}",
                    spread,
                    f"{row['peak_ours']:.1f}",
                    f"{row['peak_theirs']:.1f}",
                ]
            )

    print("\nper-layer cost of each variant relative to TransformerKMeans (float64)")
    names = {
        "soft": "TransformerSoftKMeans",
        "spherical": "TransformerSphericalKMeans",
        "trimmed": "TransformerTrimmedKMeans",
    }
    print(f"{'n':>9} {'d':>4} {'k':>4} " + " ".join(f"{n:>10}" for n in names))
    variant_rows = []
    for size in grid:
        costs = variant_costs(*size, args.layers, repeats)
        print(
            f"{size[0]:>9} {size[1]:>4} {size[2]:>4} "
            + " ".join(f"{costs[name]:>10.2f}" for name in names.values()),
            flush=True,
        )
        costs = [f"{costs[name]:.2f}" for name in names.values()]
        variant_rows.append([*map(str, size), *costs])

    shape = (500, 2_000) if args.quick else (20_000, 50_000)
    X = tfidf_like(*shape, density=0.005)
    estimator = TransformerSphericalKMeans(20, random_state=0)
    seconds = timed_fit(estimator, X)
    peak = traced_fit(TransformerSphericalKMeans(20, random_state=0), X)
    matrix_mib = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    spherical = (
        f"spherical k-means on a {shape[0]} x {shape[1]} TF-IDF-like CSR "
        f"(density 0.5%, {matrix_mib:.1f} MiB): {seconds:.2f} s, "
        f"{estimator.n_iter_} layers, peak {peak:.1f} MiB"
    )
    print("\n" + spherical)

    if args.rst:
        text = [
            ".. Written by benchmarks/compare_sklearn.py --rst; do not edit.",
            "",
            "::",
            "",
            *(f"    {line}" for line in environment()),
            f"    {args.layers} layers per fit, {repeats} repeats, median times",
            "",
            rst_table(
                [
                    "n",
                    "d",
                    "k",
                    "dtype",
                    "ours (s)",
                    "sklearn (s)",
                    "ratio",
                    "spread",
                    "peak ours (MiB)",
                    "peak sklearn (MiB)",
                ],
                comparisons,
            ),
            "",
            "Cost of one layer of each variant relative to ``TransformerKMeans``"
            " (float64):",
            "",
            rst_table(["n", "d", "k", "soft", "spherical", "trimmed"], variant_rows),
            "",
            spherical[0].upper() + spherical[1:] + ".",
            "",
        ]
        with open(args.rst, "w") as file:
            file.write("\n".join(text))


if __name__ == "__main__":
    main()
