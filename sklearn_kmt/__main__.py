"""Side-by-side comparison of TransformerKMeans with scikit-learn's KMeans.

``python -m sklearn_kmt`` (or the ``sklearn-kmt`` command) fits
:class:`~sklearn_kmt.TransformerKMeans` and
``sklearn.cluster.KMeans(algorithm="lloyd")`` on the same data with the same
parameters and seed, and prints whether they agree and how long each took.
The exit status is 0 when the labels are identical, 1 when they differ and 2
for a usage error or unreadable data.
"""

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from sklearn_kmt import TransformerKMeans, __version__
from sklearn_kmt._base import scale_exponent
from sklearn_kmt._tokens import largest_magnitude

PROG = "sklearn-kmt"

# Built-in data sets: shipped with scikit-learn, no download needed.
DATASETS = {
    "digits": datasets.load_digits,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
}

# The two estimators compared, in table order.
ESTIMATORS = ("TransformerKMeans", "KMeans")

# Number of clusters for user data when --n-clusters is not given (KMeans' default).
DEFAULT_N_CLUSTERS = 8

# The first bytes of every .npy file.
NPY_MAGIC = b"\x93NUMPY"


class DataError(Exception):
    """The data file cannot be used; the message says why, in one line."""


def beyond_kmeans_range(X):
    """Why KMeans cannot cluster X exactly, in one line; None when it can.

    KMeans computes squared distances of the data as given (centred); where
    they overflow float64, or are too small to keep their digits, its
    result is not defined, and there is nothing to compare with.
    TransformerKMeans rescales such data by a power of two and fits it.
    """
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        centred = X - X.mean(axis=0)
    largest = largest_magnitude(centred) if np.all(np.isfinite(centred)) else np.inf
    n_samples, n_features = X.shape
    if (
        np.isfinite(largest)
        and scale_exponent(largest, largest, np.float64, n_features, n_samples) == 0
    ):
        return None
    return (
        f"values of magnitude up to {largest_magnitude(X):.3g}: their squared "
        "distances, summed over the samples, overflow float64 or lose their "
        "digits in scikit-learn's KMeans, so there is no KMeans result to "
        "compare with (rescale the data, or fit TransformerKMeans alone, "
        "which rescales them exactly)"
    )


def compare(
    X,
    n_clusters,
    *,
    init="k-means++",
    n_init="auto",
    max_iter=300,
    tol=1e-4,
    random_state=0,
    repeats=3,
):
    """Fit TransformerKMeans and KMeans(algorithm="lloyd") with the same settings.

    Each estimator is fitted ``repeats`` times, the two alternating; the fits
    are deterministic for an integer ``random_state``, so the fitted
    attributes of the last fit stand for all of them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.
    n_clusters : int
        Number of clusters.
    init : {"k-means++", "random"}, default="k-means++"
        Seeding of the centers.
    n_init : "auto" or int, default="auto"
        Number of seedings, the best one being kept.
    max_iter : int, default=300
        Maximum number of Lloyd iterations.
    tol : float, default=1e-4
        Tolerance on the center shift, relative to the mean feature variance.
    random_state : int, default=0
        Seed shared by both estimators.
    repeats : int, default=3
        Number of fits of each estimator; the median fit time is reported.

    Returns
    -------
    results : dict
        ``n_samples``, ``n_features``, ``n_clusters``, ``repeats``;
        ``labels_identical`` (bool) and ``n_labels_differing`` (int);
        ``max_center_difference``, the largest absolute difference between the
        two ``cluster_centers_``, and ``empty_clusters_differ``, whether they
        differ only at clusters left with no sample; ``warnings``, each
        distinct warning of the fits once, prefixed by the estimator that
        gave it; ``inertia``, ``n_iter`` and ``fit_time``
        (median seconds), each a dict keyed by ``"TransformerKMeans"`` and
        ``"KMeans"``; ``time_ratio``, TransformerKMeans' fit time over KMeans'.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> results = compare(load_iris().data, 3, repeats=1)
    >>> results["labels_identical"]
    True
    >>> results["n_iter"]["TransformerKMeans"] == results["n_iter"]["KMeans"]
    True
    """
    params = dict(
        n_clusters=n_clusters,
        init=init,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        random_state=random_state,
    )
    makers = {
        "TransformerKMeans": lambda: TransformerKMeans(**params),
        "KMeans": lambda: KMeans(algorithm="lloyd", **params),
    }
    fitted = {}
    times = {name: [] for name in ESTIMATORS}
    # Every repeat warns alike: each distinct warning is kept once.
    caught = {}
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        for _ in range(repeats):
            for name in ESTIMATORS:
                estimator = makers[name]()
                start = time.perf_counter()
                estimator.fit(X)
                times[name].append(time.perf_counter() - start)
                fitted[name] = estimator
                for record in records:
                    caught.setdefault((record.category, str(record.message)), name)
                records.clear()

    ours, theirs = fitted["TransformerKMeans"], fitted["KMeans"]
    fit_time = {name: statistics.median(times[name]) for name in ESTIMATORS}
    if fit_time["KMeans"] > 0:
        time_ratio = fit_time["TransformerKMeans"] / fit_time["KMeans"]
    else:
        time_ratio = float("inf")
    n_samples, n_features = np.shape(X)
    return {
        "n_samples": n_samples,
        "n_features": n_features,
        "n_clusters": n_clusters,
        "repeats": repeats,
        "labels_identical": bool(np.array_equal(ours.labels_, theirs.labels_)),
        "n_labels_differing": int(np.sum(ours.labels_ != theirs.labels_)),
        "max_center_difference": float(
            np.max(np.abs(ours.cluster_centers_ - theirs.cluster_centers_))
        ),
        "empty_clusters_differ": _only_empty_clusters_differ(ours, theirs),
        "warnings": [f"{name}: {message}" for (_, message), name in caught.items()],
        "inertia": {name: float(fitted[name].inertia_) for name in ESTIMATORS},
        "n_iter": {name: int(fitted[name].n_iter_) for name in ESTIMATORS},
        "fit_time": fit_time,
        "time_ratio": time_ratio,
    }


def _only_empty_clusters_differ(ours, theirs):
    """Whether the centers differ only where a cluster ended with no sample:
    where TransformerKMeans keeps such a center in place and KMeans moves it
    (the README's "Differences from scikit-learn")."""
    differ = np.any(ours.cluster_centers_ != theirs.cluster_centers_, axis=1)
    sizes = np.bincount(ours.labels_, minlength=ours.n_clusters)
    return bool(differ.any() and np.all(sizes[differ] == 0))


def _format_seconds(seconds):
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def format_table(results):
    """The results of :func:`compare` as an aligned plain-text table.

    Parameters
    ----------
    results : dict
        As returned by :func:`compare`.

    Returns
    -------
    table : str
        One quantity per line, without a trailing newline.
    """
    per_estimator = [
        ("", *ESTIMATORS),
        ("inertia", *(f"{results['inertia'][n]:.12g}" for n in ESTIMATORS)),
        ("iterations", *(str(results["n_iter"][n]) for n in ESTIMATORS)),
        (
            f"fit time (median of {results['repeats']})",
            *(_format_seconds(results["fit_time"][n]) for n in ESTIMATORS),
        ),
    ]
    if results["labels_identical"]:
        identical = "yes"
    else:
        identical = (
            f"no ({results['n_labels_differing']} of {results['n_samples']} differ)"
        )
    difference = f"{results['max_center_difference']:.3g}"
    if results.get("empty_clusters_differ"):
        difference += (
            " (only at clusters with no sample: TransformerKMeans keeps such a"
            " center, KMeans moves it)"
        )
    shared = [
        ("labels identical", identical),
        ("max center difference", difference),
        ("fit time ratio", f"{results['time_ratio']:.2f} (TransformerKMeans / KMeans)"),
    ]
    name_width = max(len(row[0]) for row in per_estimator + shared)
    column_widths = [
        max(len(row[i]) for row in per_estimator) for i in range(1, len(ESTIMATORS) + 1)
    ]
    lines = []
    for name, *values in per_estimator:
        cells = [f"{v:>{w}}" for v, w in zip(values, column_widths, strict=True)]
        lines.append(f"{name:<{name_width}}   " + "   ".join(cells))
    lines.append("")
    for name, value in shared:
        lines.append(f"{name:<{name_width}}   {value}")
    return "\n".join(line.rstrip() for line in lines)


# -- reading data -----------------------------------------------------------------


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


# Delimiters tried in this order, None meaning runs of whitespace (what
# numpy.savetxt writes by default); lines starting with "#" are comments, as
# for numpy.loadtxt and pandas' comment option.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", None: "whitespace"}
COMMENT = "#"
# The delimiter argument that asks for detection.
DETECTED = object()


def _cells(line, delimiter):
    """The cells of one line: split on ``delimiter`` (None: whitespace)."""
    return [cell.strip().strip("\"'") for cell in line.split(delimiter)]


def _detected_delimiter(lines):
    """The delimiter that splits most of the first lines into two or more
    numbers each (a header or a ragged line among them does not count); for
    one column, None."""
    best, best_count = None, 0
    for delimiter in DELIMITERS:
        rows = [_cells(line, delimiter) for _, line in lines[:6]]
        count = sum(
            len(row) > 1 and all(_is_number(cell) for cell in row) for row in rows
        )
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _read_text(path, delimiter=DETECTED):
    """Numbers in a delimited text file, the delimiter detected unless
    given (None: whitespace), a first row that is not all numbers skipped as
    a header.

    Returns the array and the line number of each row."""
    with open(path, newline="") as file:
        text = file.read()
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith(COMMENT)
    ]
    if delimiter is DETECTED:
        delimiter = _detected_delimiter(lines)
    rows = [(number, _cells(line, delimiter)) for number, line in lines]
    if rows and not all(_is_number(cell) for cell in rows[0][1]):
        rows = rows[1:]  # a header row
    if not rows:
        raise DataError("no rows of numbers found")
    n_columns = len(rows[0][1])
    name = DELIMITERS.get(delimiter, repr(delimiter))
    for line, row in rows:
        if len(row) != n_columns:
            raise DataError(
                f"line {line} has {len(row)} values where the first data row "
                f"has {n_columns} ({name}-separated)"
            )
        for column, cell in enumerate(row, start=1):
            if not _is_number(cell):
                raise DataError(
                    f"line {line}, column {column}: {cell!r} is not a number "
                    f"({name}-separated values)"
                )
    X = np.array([[float(cell) for cell in row] for _, row in rows])
    return X, [line for line, _ in rows]


def _read_npy(path):
    with open(path, "rb") as file:
        if file.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise DataError("not a .npy file")
    try:
        X = np.load(path, allow_pickle=False)
    except ValueError:
        raise DataError(
            "holds Python objects or is damaged; expected numbers"
        ) from None
    if X.ndim != 2:
        raise DataError(
            f"expected a 2-D array (n_samples, n_features), got shape {X.shape}"
        )
    if X.dtype.kind not in "biuf":
        raise DataError(f"expected numbers, got an array of dtype {X.dtype}")
    return X.astype(np.float64)


def load_data(path, delimiter=None):
    """Read a data matrix from a ``.npy`` file or a delimited text file.

    Parameters
    ----------
    path : str or Path
        A file name ending in ``.npy`` is read with :func:`numpy.load`; any
        other is read as text: one sample per line, the numbers separated by
        commas, semicolons, tabs or whitespace (``numpy.savetxt``'s default),
        detected from the first lines, with an optional header row (a first
        row that is not all numbers); lines starting with ``#`` are comments.
    delimiter : str, default=None
        The delimiter of a text file, instead of detecting it; ``" "`` means
        runs of whitespace.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64

    Raises
    ------
    DataError
        With a one-line message naming the file and the problem (for a value
        that is not a number, NaN or infinite: its line and column).
    """
    path = Path(path)
    lines = None
    try:
        if path.suffix.lower() == ".npy":
            X = _read_npy(path)
        else:
            if delimiter is None:
                delimiter = DETECTED
            elif delimiter == " ":
                delimiter = None  # str.split's runs of whitespace
            X, lines = _read_text(path, delimiter)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file of numbers") from None
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{path}: no data (shape {X.shape})")
    if not np.all(np.isfinite(X)):
        row, column = np.argwhere(~np.isfinite(X))[0].tolist()
        where = f"line {lines[row]}" if lines is not None else f"row {row + 1}"
        raise DataError(
            f"{path}: {where}, column {column + 1}: {X[row, column]} "
            "(NaN and infinite values cannot be clustered)"
        )
    return X


# -- command line -----------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _n_init(text):
    return text if text == "auto" else _positive_int(text)


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def build_parser():
    """The argument parser of ``python -m sklearn_kmt``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Cluster a data set with TransformerKMeans (k-means run by a "
            "transformer with hand-set weights) and with scikit-learn's "
            'KMeans(algorithm="lloyd"), using the same settings and seed, and '
            "print a table comparing them: whether the labels are identical, "
            "how far apart the centers are, the inertia and number of "
            "iterations of each, and their fit times. Also run as "
            "'python -m sklearn_kmt'."
        ),
        epilog=(
            "Exit status: 0 when the two estimators give identical labels, "
            "1 when the labels differ, 2 for a usage error or unreadable data."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default="digits",
        help=(
            "a data set shipped with scikit-learn (no download); default: %(default)s"
        ),
    )
    source.add_argument(
        "--data",
        metavar="FILE",
        help=(
            "cluster your own data instead: a .npy file holding a 2-D array, "
            "or a text file of numbers, one sample per line, separated by "
            "commas, semicolons, tabs or whitespace (a first line that is not "
            "all numbers is taken as a header; lines starting with # are "
            "comments)"
        ),
    )
    parser.add_argument(
        "--delimiter",
        metavar="CHAR",
        help=(
            "the delimiter of a text --data file, ' ' for whitespace; default: "
            "detected among comma, semicolon, tab and whitespace"
        ),
    )
    parser.add_argument(
        "--n-clusters",
        metavar="K",
        type=_positive_int,
        help=(
            "number of clusters; default: the number of classes of the "
            f"built-in data set, {DEFAULT_N_CLUSTERS} with --data"
        ),
    )
    parser.add_argument(
        "--init",
        choices=["k-means++", "random"],
        default="k-means++",
        help=(
            "how the initial centers are chosen: k-means++ seeding or "
            "random samples; default: %(default)s"
        ),
    )
    parser.add_argument(
        "--n-init",
        metavar="N",
        type=_n_init,
        default="auto",
        help=(
            "number of initializations, the best result being kept; 'auto' "
            "means 1 for k-means++ and 10 for random; default: %(default)s"
        ),
    )
    parser.add_argument(
        "--max-iter",
        metavar="N",
        type=_positive_int,
        default=300,
        help="maximum number of iterations of one run; default: %(default)s",
    )
    parser.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-4,
        help=(
            "stop when the centers move less than this, relative to the "
            "average variance of the features; default: %(default)s"
        ),
    )
    parser.add_argument(
        "--random-state",
        metavar="SEED",
        type=int,
        default=0,
        help="seed for the initialization, shared by both; default: %(default)s",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="standardize each feature (zero mean, unit variance) before clustering",
    )
    parser.add_argument(
        "--repeats",
        metavar="N",
        type=_positive_int,
        default=3,
        help=(
            "fit each estimator this many times and report the median fit "
            "time; default: %(default)s"
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


def main(argv=None):
    """Run the comparison from the command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; None means ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 when the labels are identical, 1 when they differ, 2 when the data
        cannot be used. Usage errors exit with status 2 through argparse.
    """
    args = build_parser().parse_args(argv)

    if args.data is not None:
        try:
            X = load_data(args.data, args.delimiter)
        except DataError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 2
        name = args.data
        n_clusters = args.n_clusters or DEFAULT_N_CLUSTERS
    else:
        bunch = DATASETS[args.dataset]()
        X = bunch.data
        name = args.dataset
        n_clusters = args.n_clusters or np.unique(bunch.target).size

    if n_clusters > X.shape[0]:
        print(
            f"{PROG}: error: {n_clusters} clusters asked for but the data has "
            f"only {X.shape[0]} samples",
            file=sys.stderr,
        )
        return 2
    if args.scale:
        X = StandardScaler().fit_transform(X)
    problem = beyond_kmeans_range(X)
    if problem:
        print(f"{PROG}: error: {name}: {problem}", file=sys.stderr)
        return 2

    results = compare(
        X,
        n_clusters,
        init=args.init,
        n_init=args.n_init,
        max_iter=args.max_iter,
        tol=args.tol,
        random_state=args.random_state,
        repeats=args.repeats,
    )
    for warning in results["warnings"]:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    n_features = X.shape[1]
    print(
        f"{name}: {X.shape[0]} samples, {n_features} "
        f"feature{'s' if n_features != 1 else ''}"
        f"{' (standardized)' if args.scale else ''}, {n_clusters} clusters"
    )
    n_init = args.n_init
    if n_init == "auto":  # as both estimators resolve it
        n_init = f"auto ({1 if args.init == 'k-means++' else 10})"
    print(
        f"init={args.init}, n_init={n_init}, max_iter={args.max_iter}, "
        f"tol={args.tol:g}, random_state={args.random_state}"
    )
    print()
    print(format_table(results))
    return 0 if results["labels_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
