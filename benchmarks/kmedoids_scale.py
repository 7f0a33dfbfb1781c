"""How TransformerKMedoids scales, against FasterPAM and against KMeans.

Two tables, side by side in one run, on Gaussian blobs:

1. Against FasterPAM (the ``kmedoids`` package, where installed) at small
   sizes, several seeds: our fit time and FasterPAM's, the latter including
   its ``n x n`` distance matrix (medians of repeats taken in turn), the
   median and range of their ratio, and the ratio of the objectives (total
   distance of the samples to their medoid).
2. Against scikit-learn's KMeans on the same data at larger sizes: both fit
   times (default parameters, the same ``random_state``) and their ratio,
   the number of layers, the peak memory of our fit as traced by Python's
   allocator, and what the ``n x n`` float64 matrix of PAM would take.

Run from the repository root::

    python benchmarks/kmedoids_scale.py                       # the full tables
    python benchmarks/kmedoids_scale.py --pam-sizes 300 --sizes 1000 --n-init 1
"""

import argparse
import platform
import time
import tracemalloc

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import pairwise_distances
from threadpoolctl import threadpool_info

from sklearn_kmt import TransformerKMedoids


def blobs(n_samples, n_features, n_clusters, seed):
    X, _ = make_blobs(
        n_samples, n_features, centers=n_clusters, cluster_std=2.0, random_state=seed
    )
    return X


def timed(fit):
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


def against_pam(n_samples, n_features, n_clusters, search, seed, repeats):
    """Our fit and FasterPAM's (with its matrix) on one data set, ``repeats``
    times each in turn, or ours alone without the ``kmedoids`` package."""
    X = blobs(n_samples, n_features, n_clusters, seed)

    def ours():
        return TransformerKMedoids(n_clusters, random_state=seed, **search).fit(X)

    try:
        import kmedoids
    except ImportError:
        fitted, seconds = timed(ours)
        return {"n": n_samples, "seed": seed, "ours": seconds, "pam": None}

    def fasterpam():
        distances = pairwise_distances(X)
        return kmedoids.fasterpam(distances, n_clusters, random_state=seed)

    times = {ours: [], fasterpam: []}
    for repeat in range(repeats):
        for fit in (ours, fasterpam) if repeat % 2 == 0 else (fasterpam, ours):
            result, seconds = timed(fit)
            times[fit].append(seconds)
            if fit is ours:
                fitted = result
            else:
                pam = result
    ratios = np.array(times[ours]) / np.array(times[fasterpam])
    return {
        "n": n_samples,
        "seed": seed,
        "ours": np.median(times[ours]),
        "pam": np.median(times[fasterpam]),
        "ratio": np.median(ratios),
        "ratio_range": (ratios.min(), ratios.max()),
        # The same objective for both: the total distance to the medoids.
        "objective_ratio": fitted.inertia_ / pam.loss,
    }


def against_kmeans(n_samples, n_features, n_clusters, search, seed):
    """Our fit and KMeans' on one data set, with our peak memory."""
    X = blobs(n_samples, n_features, n_clusters, seed)
    _, kmeans_seconds = timed(lambda: KMeans(n_clusters, random_state=seed).fit(X))
    estimator = TransformerKMedoids(n_clusters, random_state=seed, **search)
    tracemalloc.start()
    _, seconds = timed(lambda: estimator.fit(X))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "n": n_samples,
        "ours": seconds,
        "kmeans": kmeans_seconds,
        "layers": estimator.n_iter_,
        "peak_mib": peak / 2**20,
        "data_mib": X.nbytes / 2**20,
        "pam_matrix_gib": n_samples**2 * 8 / 2**30,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pam-sizes",
        type=int,
        nargs="+",
        default=[2_000, 5_000],
        help="sizes compared with FasterPAM (default: 2000 5000)",
    )
    parser.add_argument("--pam-features", type=int, default=20)
    parser.add_argument("--pam-clusters", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per PAM size")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[25_000, 50_000, 100_000, 200_000, 1_000_000],
        help="sizes compared with KMeans (default: 25000 to 1000000)",
    )
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--n-clusters", type=int, default=10)
    parser.add_argument(
        "--repeats", type=int, default=5, help="fits of each, in turn, per PAM row"
    )
    defaults = TransformerKMedoids().get_params()
    parser.add_argument("--n-candidates", type=int, default=defaults["n_candidates"])
    parser.add_argument("--n-nearest", type=int, default=defaults["n_nearest"])
    parser.add_argument(
        "--n-init", default="auto", help='seedings per fit (default: "auto", 5)'
    )
    args = parser.parse_args(argv)
    n_init = args.n_init if args.n_init == "auto" else int(args.n_init)
    search = {
        "n_candidates": args.n_candidates,
        "n_nearest": args.n_nearest,
        "n_init": n_init,
    }

    blas = [(m["internal_api"], m["num_threads"]) for m in threadpool_info()]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}")
    print(f"threadpools: {blas}")
    print(f"TransformerKMedoids: {search}\n")

    print(
        f"against FasterPAM (its time includes the n x n distance matrix), "
        f"d={args.pam_features}, k={args.pam_clusters}"
    )
    header = (
        f"{'n':>9} {'seed':>5} {'ours (s)':>9} {'PAM (s)':>9} {'ratio':>6} "
        f"{'[range]':>13} {'objective ours/PAM':>19}"
    )
    print(header)
    print("-" * len(header))
    objective_ratios = []
    for n_samples in args.pam_sizes:
        for seed in range(args.seeds):
            row = against_pam(
                n_samples,
                args.pam_features,
                args.pam_clusters,
                search,
                seed,
                args.repeats,
            )
            if row["pam"] is None:
                missing = "(kmedoids not installed)"
                print(f"{n_samples:>9} {seed:>5} {row['ours']:>9.3f}  {missing}")
                continue
            objective_ratios.append(row["objective_ratio"])
            low, high = row["ratio_range"]
            print(
                f"{n_samples:>9} {seed:>5} {row['ours']:>9.3f} {row['pam']:>9.3f} "
                f"{row['ratio']:>6.2f} {f'[{low:.2f}-{high:.2f}]':>13} "
                f"{row['objective_ratio']:>19.4f}",
                flush=True,
            )
    if objective_ratios:
        print(f"mean objective ratio: {np.mean(objective_ratios):.4f}")

    print(
        f"\nagainst KMeans on the same data, d={args.n_features}, k={args.n_clusters}"
    )
    header = (
        f"{'n':>9} {'ours (s)':>9} {'KMeans (s)':>11} {'ratio':>6} {'layers':>7} "
        f"{'peak (MiB)':>11} {'X (MiB)':>8} {'n x n matrix':>13}"
    )
    print(header)
    print("-" * len(header))
    for n_samples in args.sizes:
        row = against_kmeans(n_samples, args.n_features, args.n_clusters, search, 0)
        print(
            f"{row['n']:>9} {row['ours']:>9.2f} {row['kmeans']:>11.3f} "
            f"{row['ours'] / row['kmeans']:>6.1f} {row['layers']:>7} "
            f"{row['peak_mib']:>11.1f} {row['data_mib']:>8.1f} "
            f"{row['pam_matrix_gib']:>10.1f} GiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
