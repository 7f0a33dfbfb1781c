"""How TransformerKMedoids scales with the number of samples.

Fits TransformerKMedoids on Gaussian blobs of growing size and prints, per
size: the fit time, the number of layers, the time per layer, the peak memory
traced by Python's allocator during the fit, and the memory that the full
n x n float64 dissimilarity matrix of PAM-type algorithms would take.

Run from the repository root::

    python benchmarks/kmedoids_scale.py                 # up to n = 200,000
    python benchmarks/kmedoids_scale.py --sizes 1000 2000 --n-init 1   # quick
"""

import argparse
import platform
import time
import tracemalloc

from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_info

from sklearn_kmt import TransformerKMedoids


def measure(n_samples, n_features, n_clusters, n_candidates, n_init, seed):
    X, _ = make_blobs(
        n_samples, n_features, centers=n_clusters, cluster_std=2.0, random_state=seed
    )
    estimator = TransformerKMedoids(
        n_clusters, n_candidates=n_candidates, n_init=n_init, random_state=seed
    )
    tracemalloc.start()
    start = time.perf_counter()
    estimator.fit(X)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "n": n_samples,
        "seconds": elapsed,
        "layers": estimator.n_iter_,
        "peak_mib": peak / 2**20,
        "data_mib": X.nbytes / 2**20,
        "pam_matrix_gib": n_samples**2 * 8 / 2**30,
        "inertia": estimator.inertia_,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[25_000, 50_000, 100_000, 200_000],
        help="numbers of samples (default: 25000 50000 100000 200000)",
    )
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--n-clusters", type=int, default=10)
    parser.add_argument("--n-candidates", type=int, default=32)
    parser.add_argument(
        "--n-init", type=int, default=1, help="seedings per fit (default: 1)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    blas = [(m["internal_api"], m["num_threads"]) for m in threadpool_info()]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}")
    print(f"threadpools: {blas}")
    print(
        f"TransformerKMedoids: d={args.n_features}, k={args.n_clusters}, "
        f"m={args.n_candidates}, n_init={args.n_init}\n"
    )
    header = (
        f"{'n':>9} {'fit (s)':>9} {'layers':>7} {'s/layer':>8} "
        f"{'peak (MiB)':>11} {'X (MiB)':>8} {'n x n matrix':>13}"
    )
    print(header)
    print("-" * len(header))
    for n_samples in args.sizes:
        row = measure(
            n_samples,
            args.n_features,
            args.n_clusters,
            args.n_candidates,
            args.n_init,
            args.seed,
        )
        print(
            f"{row['n']:>9} {row['seconds']:>9.2f} {row['layers']:>7} "
            f"{row['seconds'] / (row['layers'] * args.n_init):>8.3f} "
            f"{row['peak_mib']:>11.1f} {row['data_mib']:>8.1f} "
            f"{row['pam_matrix_gib']:>10.1f} GiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
