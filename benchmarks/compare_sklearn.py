"""TransformerKMeans and its variants side by side with scikit-learn's KMeans.

For each grid point (n_samples, n_features, n_clusters) and data type, both
estimators fit the same data from the same init array for the same number of
layers (``tol=0``, ``max_iter`` fixed), alternating, several times; the table
gives the median fit time of each, the ratio of the medians (ours / theirs)
with the spread of the per-repeat ratios, and the peak memory of each as
traced by Python's allocator in one more fit (NumPy arrays included; memory
that compiled code allocates itself is not seen). Times are taken without
tracing, which slows every NumPy allocation. Then whole fits with token
routing (``algorithm="auto"``, the default) and without (``"lloyd"``) against
KMeans' Lloyd and Elkan algorithms (and faiss where installed), on isotropic
noise and on clustered data, with the percentage of the tokens that went
through the assignment attention in each layer; the cost of one layer of each
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
    TransformerRobustKMeans,
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
# Whole fits with and without routing, on noise and on clusters.
ROUTING_GRID = [(100_000, 50, 100), (200_000, 100, 256), (1_000_000, 16, 64)]
QUICK_ROUTING_GRID = [(24_000, 32, 64)]


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


def routing_data(kind, n_samples, n_features, n_clusters, seed=0):
    """Isotropic Gaussian noise, or as many Gaussian clusters as centroids."""
    rng = np.random.RandomState(seed)
    if kind == "noise":
        return rng.standard_normal((n_samples, n_features))
    means = rng.uniform(-10, 10, size=(n_clusters, n_features))
    members = rng.randint(n_clusters, size=n_samples)
    return means[members] + 2.0 * rng.standard_normal((n_samples, n_features))


def faiss_fit(X, n_clusters, init, n_layers):
    """Seconds of faiss' k-means from the same init, or None without faiss."""
    try:
        import faiss
    except ImportError:
        return None
    kmeans = faiss.Kmeans(X.shape[1], n_clusters, niter=n_layers, seed=0)
    start = time.perf_counter()
    kmeans.train(np.ascontiguousarray(X, dtype=np.float32), init_centroids=init)
    return time.perf_counter() - start


def routed_fits(kind, n_samples, n_features, n_clusters, n_layers, repeats):
    """Median seconds of whole fits: ours routed and unrouted, KMeans' Lloyd
    and Elkan, from the same init (``tol=0``, ``n_layers``) or, with
    ``n_layers`` None, default fits (``tol=1e-4``, k-means++ from the same
    ``random_state``); and the share of tokens through the attention per
    layer of the routed fit."""
    X = routing_data(kind, n_samples, n_features, n_clusters)
    if n_layers is None:
        params = dict(n_clusters=n_clusters, n_init=1, random_state=0)
    else:
        init = X[np.random.RandomState(1).choice(n_samples, n_clusters, False)]
        params = dict(
            n_clusters=n_clusters, init=init, n_init=1, max_iter=n_layers, tol=0
        )
    makers = {
        "routed": lambda: TransformerKMeans(**params),
        "lloyd": lambda: TransformerKMeans(algorithm="lloyd", **params),
        "kmeans": lambda: KMeans(algorithm="lloyd", **params),
        "elkan": lambda: KMeans(algorithm="elkan", **params),
    }
    fitted = {name: make().fit(X) for name, make in makers.items()}  # untimed
    times = {name: [] for name in makers}
    for _ in range(repeats):
        for name, make in makers.items():
            times[name].append(timed_fit(make(), X))
    medians = {name: float(np.median(values)) for name, values in times.items()}
    ratios = np.array(times["routed"]) / np.array(times["kmeans"])
    routed = fitted["routed"]
    trace = routed.network_.forward(
        X, routed.init_centers_, routed.n_iter_, return_trace=True, literal=False
    ).trace
    through = [100 * record.n_through_attention / n_samples for record in trace]
    if n_layers is not None:
        medians["faiss"] = faiss_fit(X, n_clusters, params["init"], n_layers)
    return {
        **medians,
        "ratio": medians["routed"] / medians["kmeans"],
        "spread": f"{ratios.min():.2f}-{ratios.max():.2f}",
        "same_labels": bool(np.array_equal(routed.labels_, fitted["kmeans"].labels_)),
        "n_iter": routed.n_iter_,
        "through": through,
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
        "TransformerRobustKMeans": TransformerRobustKMeans(beta=0.01, **params),
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

    routing_grid = QUICK_ROUTING_GRID if args.quick else ROUTING_GRID
    routing_layers = 3 if args.quick else 30
    print(
        "\nwhole fits (float64), routed (algorithm='auto') and unrouted "
        "('lloyd') against KMeans' lloyd and elkan; 'through': % of the tokens "
        "through the assignment attention, layer by layer"
    )
    routing_header = (
        f"{'data':>6} {'n':>9} {'d':>4} {'k':>4} {'fit':>9} {'routed':>7} "
        f"{'lloyd':>7} {'KMeans':>7} {'elkan':>7} {'faiss':>7} {'ratio':>6} "
        f"{'spread':>10} {'labels':>6}  through"
    )
    print(routing_header)
    print("-" * len(routing_header))
    routing_rows = []
    for kind in ("noise", "blobs"):
        for size in routing_grid:
            for layers in (routing_layers, None):
                row = routed_fits(kind, *size, layers, repeats)
                fit = f"{layers} layers" if layers else "default"
                faiss = "-" if row.get("faiss") is None else f"{row['faiss']:.3f}"
                through = " ".join(f"{share:.0f}" for share in row["through"])
                cells = [
                    kind,
                    *map(str, size),
                    fit,
                    f"{row['routed']:.3f}",
                    f"{row['lloyd']:.3f}",
                    f"{row['kmeans']:.3f}",
                    f"{row['elkan']:.3f}",
                    faiss,
                    f"{row['ratio']:.2f}",
                    row["spread"],
                    "same" if row["same_labels"] else "differ",
                ]
                widths = [6, 9, 4, 4, 9, 7, 7, 7, 7, 7, 6, 10, 6]
                print(
                    " ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
                    + f"  {through}",
                    flush=True,
                )
                routing_rows.append([*cells, through])

    print("\nper-layer cost of each variant relative to TransformerKMeans (float64)")
    names = {
        "soft": "TransformerSoftKMeans",
        "spherical": "TransformerSphericalKMeans",
        "trimmed": "TransformerTrimmedKMeans",
        "robust": "TransformerRobustKMeans",
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
            "Whole fits (float64) with token routing (``algorithm='auto'``) and"
            " without (``'lloyd'``), seconds; ratio: routed / KMeans' Lloyd;"
            " through: % of the tokens through the assignment attention, layer"
            " by layer:",
            "",
            rst_table(
                [
                    "data",
                    "n",
                    "d",
                    "k",
                    "fit",
                    "routed",
                    "lloyd",
                    "KMeans",
                    "elkan",
                    "faiss",
                    "ratio",
                    "spread",
                    "labels",
                    "through",
                ],
                routing_rows,
            ),
            "",
            "Cost of one layer of each variant relative to ``TransformerKMeans``"
            " (float64):",
            "",
            rst_table(
                ["n", "d", "k", "soft", "spherical", "trimmed", "robust"], variant_rows
            ),
            "",
            spherical[0].upper() + spherical[1:] + ".",
            "",
        ]
        with open(args.rst, "w") as file:
            file.write("\n".join(text))


if __name__ == "__main__":
    main()
