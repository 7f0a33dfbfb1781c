"""TransformerKMeans on a Dask array side by side with dask-ml's KMeans.

Both fit the same Dask array (standard normal data generated on the workers
from a seed, chunked by rows, persisted in the workers' memory so that
neither pays for generating it) on the same ``distributed.LocalCluster``,
from the same init array, for the same number of layers (``tol=0``,
``max_iter`` fixed; normal data has no clusters, so neither converges
early), alternating, several times. The table gives the median fit time of
each, the ratio of the medians (ours / dask-ml) with the spread of the
per-repeat ratios, the iterations each ran, and how far apart their centers
end; then, from one more (untimed) fit of each, the tasks the scheduler ran
and the bytes the workers sent each other, per layer (the whole fit's,
divided by its iterations: setup and final reductions included). Last,
whole fits with token routing (``algorithm="auto"``, the default) and
without (``"lloyd"``), on noise and on clustered data, alternating: the
median time of each, their ratio, and whether the labels are the same.

dask-ml is an optional dependency of this benchmark only
(``pip install ".[bench]"``); without it, or when its KMeans fails with the
installed scikit-learn, the script says so and times ours alone.

Run from the repository root::

    python benchmarks/dask_compare.py            # the full grid
    python benchmarks/dask_compare.py --quick    # tiny sizes, seconds
"""

import argparse
import time

import dask.array as da
import numpy as np
import sklearn
from distributed import Client, LocalCluster, get_task_stream

from sklearn_kmt import TransformerKMeans

GRID = [
    (1_000_000, 16, 16, 100_000),
    (2_000_000, 32, 64, 250_000),
    (500_000, 128, 128, 50_000),
]
QUICK_GRID = [(20_000, 4, 8, 5_000)]
# Whole fits with and without routing (n, d, k, rows per chunk).
ROUTING_GRID = [(1_000_000, 16, 64, 125_000), (200_000, 100, 256, 25_000)]
QUICK_ROUTING_GRID = [(24_000, 32, 64, 6_000)]


def dask_ml_kmeans():
    """dask-ml's KMeans class, or the reason it cannot run here."""
    try:
        import dask_ml
        from dask_ml.cluster import KMeans
    except ImportError as error:
        return None, f"dask-ml is not installed ({error})"
    # A first fit also imports dask-ml on the workers, outside any timing.
    X = da.random.RandomState(0).standard_normal((200, 2), chunks=100)
    try:
        KMeans(n_clusters=2, init=np.asarray(X[:2]), max_iter=2, tol=0).fit(X)
    except Exception as error:  # an incompatibility with this scikit-learn
        return None, (
            f"dask-ml {dask_ml.__version__} fails with scikit-learn "
            f"{sklearn.__version__}: {type(error).__name__}: {error}"
        )
    return KMeans, f"dask-ml {dask_ml.__version__}"


def timed_fit(estimator, X):
    start = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - start


def traffic(client, make_estimator, X):
    """Tasks run and bytes sent between workers, per layer, by one fit."""

    def sent(dask_worker):
        return dask_worker.transfer_outgoing_bytes_total

    before = sum(client.run(sent).values())
    with get_task_stream() as tasks:
        estimator = make_estimator().fit(X)
    moved = sum(client.run(sent).values()) - before
    return len(tasks.data) / estimator.n_iter_, moved / estimator.n_iter_


def compare(theirs_class, n_samples, n_features, n_clusters, rows, layers, repeats):
    X = da.random.RandomState(0).standard_normal(
        (n_samples, n_features), chunks=(rows, n_features)
    )
    X = X.persist()
    init = X[:n_clusters].compute()
    ours, theirs, ours_model, theirs_model = [], [], None, None
    for _ in range(repeats):
        ours_model = TransformerKMeans(
            n_clusters, init=init, n_init=1, max_iter=layers, tol=0
        )
        ours.append(timed_fit(ours_model, X))
        if theirs_class is not None:
            theirs_model = theirs_class(
                n_clusters=n_clusters, init=init, max_iter=layers, tol=0
            )
            theirs.append(timed_fit(theirs_model, X))
    row = {"ours": np.median(ours), "ours_iter": ours_model.n_iter_}
    client = Client.current()
    row["ours_traffic"] = traffic(
        client,
        lambda: TransformerKMeans(
            n_clusters, init=init, n_init=1, max_iter=layers, tol=0
        ),
        X,
    )
    if theirs_class is not None:
        row["theirs_traffic"] = traffic(
            client,
            lambda: theirs_class(
                n_clusters=n_clusters, init=init, max_iter=layers, tol=0
            ),
            X,
        )
    if theirs_class is not None:
        ratios = np.array(ours) / np.array(theirs)
        row.update(
            theirs=np.median(theirs),
            ratio=np.median(ours) / np.median(theirs),
            ratio_low=ratios.min(),
            ratio_high=ratios.max(),
            theirs_iter=theirs_model.n_iter_,
            center_gap=np.abs(
                ours_model.cluster_centers_ - theirs_model.cluster_centers_
            ).max(),
        )
    return row


def routing_data(kind, n_samples, n_features, n_clusters, rows, seed=0):
    """Standard normal noise, or Gaussian blobs of standard deviation 2
    around ``n_clusters`` means spread over ``[-10, 10]`` (the point of
    index ``i`` in blob ``i % n_clusters``), as in compare_sklearn.py;
    generated on the workers and persisted."""
    X = da.random.RandomState(seed).standard_normal(
        (n_samples, n_features), chunks=(rows, n_features)
    )
    if kind == "clustered":
        means = np.random.RandomState(seed).uniform(-10, 10, (n_clusters, n_features))
        blobs = da.arange(n_samples, chunks=rows) % n_clusters
        X = 2.0 * X + blobs.map_blocks(
            lambda blob: means[blob], new_axis=1, chunks=X.chunks, dtype=float
        )
    return X.persist()


def routed_fits(kind, n_samples, n_features, n_clusters, rows, layers, repeats):
    """Median times of whole fits with routing and without, their ratio
    with its spread, and whether their labels are the same."""
    X = routing_data(kind, n_samples, n_features, n_clusters, rows)
    rows = np.random.RandomState(1).choice(n_samples, n_clusters, replace=False)
    init = X[np.sort(rows)].compute()
    times = {"auto": [], "lloyd": []}
    models = {}
    for _ in range(repeats):
        for algorithm in times:
            models[algorithm] = TransformerKMeans(
                n_clusters, init=init, max_iter=layers, tol=0, algorithm=algorithm
            )
            times[algorithm].append(timed_fit(models[algorithm], X))
    ratios = np.array(times["auto"]) / np.array(times["lloyd"])
    same = np.array_equal(
        models["auto"].labels_.compute(), models["lloyd"].labels_.compute()
    )
    return (
        models["auto"].n_iter_,
        np.median(times["auto"]),
        np.median(times["lloyd"]),
        np.median(ratios),
        f"{ratios.min():.2f}-{ratios.max():.2f}",
        same,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=10, help="layers per fit")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    grid = QUICK_GRID if args.quick else GRID
    repeats = 2 if args.quick else args.repeats

    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster),
    ):
        theirs_class, about_theirs = dask_ml_kmeans()
        # The workers import sklearn-kmt once; not part of any timing.
        warm_up = da.random.RandomState(0).standard_normal((200, 2), chunks=100)
        TransformerKMeans(2, init=np.asarray(warm_up[:2]), max_iter=2).fit(warm_up)
        print(f"cluster: {args.workers} worker processes, 1 thread each")
        print(f"compared with: {about_theirs}")
        print(f"{args.layers} layers per fit, {repeats} repeats, median times\n")
        header = (
            f"{'n':>9} {'d':>4} {'k':>4} {'rows/chunk':>10} {'ours (s)':>9} "
            f"{'dask-ml (s)':>11} {'ratio':>6} {'spread':>11} {'iters':>7} "
            f"{'max |center gap|':>16}"
        )
        print(header)
        print("-" * len(header))
        traffic_rows = []
        for n_samples, n_features, n_clusters, rows in grid:
            row = compare(
                theirs_class,
                n_samples,
                n_features,
                n_clusters,
                rows,
                args.layers,
                repeats,
            )
            start = (
                f"{n_samples:>9} {n_features:>4} {n_clusters:>4} {rows:>10} "
                f"{row['ours']:>9.3f}"
            )
            traffic_rows.append((n_samples, n_features, n_clusters, row))
            if theirs_class is None:
                print(f"{start} {'-':>11} {'-':>6} {'-':>11} {row['ours_iter']:>7}")
                continue
            spread = f"{row['ratio_low']:.2f}-{row['ratio_high']:.2f}"
            iters = f"{row['ours_iter']}/{row['theirs_iter']}"
            print(
                f"{start} {row['theirs']:>11.3f} {row['ratio']:>6.2f} "
                f"{spread:>11} {iters:>7} {row['center_gap']:>16.2e}",
                flush=True,
            )
        print("\nper layer, one more fit of each: tasks run, MiB sent between workers")
        print(
            f"{'n':>9} {'d':>4} {'k':>4} {'ours tasks':>10} {'ours MiB':>9}"
            f" {'dask-ml tasks':>13} {'dask-ml MiB':>11}"
        )
        for n_samples, n_features, n_clusters, row in traffic_rows:
            tasks, moved = row["ours_traffic"]
            line = (
                f"{n_samples:>9} {n_features:>4} {n_clusters:>4} {tasks:>10.1f}"
                f" {moved / 2**20:>9.2f}"
            )
            if "theirs_traffic" in row:
                tasks, moved = row["theirs_traffic"]
                line += f" {tasks:>13.1f} {moved / 2**20:>11.2f}"
            print(line, flush=True)

        layers = 30 if not args.quick else args.layers
        print(
            f"\nwhole fits of {layers} layers, routed (auto) and not (lloyd), "
            f"{repeats} repeats, median times"
        )
        header = (
            f"{'data':>9} {'n':>9} {'d':>4} {'k':>4} {'iters':>5} {'auto (s)':>9} "
            f"{'lloyd (s)':>9} {'ratio':>6} {'spread':>11} {'same labels':>11}"
        )
        print(header)
        print("-" * len(header))
        for kind in ("noise", "clustered"):
            for n_samples, n_features, n_clusters, rows in (
                QUICK_ROUTING_GRID if args.quick else ROUTING_GRID
            ):
                n_iter, auto, lloyd, ratio, spread, same = routed_fits(
                    kind, n_samples, n_features, n_clusters, rows, layers, repeats
                )
                print(
                    f"{kind:>9} {n_samples:>9} {n_features:>4} {n_clusters:>4} "
                    f"{n_iter:>5} "
                    f"{auto:>9.3f} {lloyd:>9.3f} {ratio:>6.2f} {spread:>11} "
                    f"{str(same):>11}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
