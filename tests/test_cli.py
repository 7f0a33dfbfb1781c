"""Tests of the command line: ``python -m sklearn_kmt``."""

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, make_blobs

import sklearn_kmt.__main__ as cli
from sklearn_kmt.__main__ import compare, format_table, main

OPTIONS = [
    "--dataset",
    "--data",
    "--delimiter",
    "--n-clusters",
    "--init",
    "--n-init",
    "--max-iter",
    "--tol",
    "--random-state",
    "--scale",
    "--repeats",
    "--version",
]


@pytest.fixture
def blobs():
    X, _ = make_blobs(n_samples=60, n_features=3, centers=3, random_state=0)
    return X


def table_value(output, name):
    """The text after a row name of the printed table."""
    match = re.search(rf"^{re.escape(name)}\s+(.+)$", output, flags=re.MULTILINE)
    assert match, f"no row {name!r} in:\n{output}"
    return match.group(1)


# -- compare and format_table --------------------------------------------------


def test_compare_finds_identical_results_on_iris():
    results = compare(load_iris().data, 3, repeats=2)
    assert results["labels_identical"] is True
    assert results["n_labels_differing"] == 0
    assert results["max_center_difference"] < 1e-10
    assert results["n_iter"]["TransformerKMeans"] == results["n_iter"]["KMeans"]
    ours, theirs = results["inertia"]["TransformerKMeans"], results["inertia"]["KMeans"]
    assert ours == pytest.approx(theirs, rel=1e-10)
    assert (results["n_samples"], results["n_features"]) == (150, 4)
    assert results["repeats"] == 2
    assert all(results["fit_time"][name] > 0 for name in cli.ESTIMATORS)


def test_compare_passes_parameters_to_both_estimators(blobs):
    results = compare(blobs, 4, init="random", n_init=2, max_iter=1, repeats=1)
    assert results["n_clusters"] == 4
    # With a single iteration allowed, both stop after it.
    assert results["n_iter"] == {"TransformerKMeans": 1, "KMeans": 1}
    assert results["labels_identical"] is True


def fake_results(labels_identical):
    return {
        "n_samples": 150,
        "n_features": 4,
        "n_clusters": 3,
        "repeats": 5,
        "labels_identical": labels_identical,
        "n_labels_differing": 0 if labels_identical else 7,
        "max_center_difference": 2.5e-15,
        "inertia": {"TransformerKMeans": 78.85566582, "KMeans": 78.85566583},
        "n_iter": {"TransformerKMeans": 4, "KMeans": 6},
        "fit_time": {"TransformerKMeans": 0.0123, "KMeans": 2.5},
        "time_ratio": 0.0123 / 2.5,
    }


def test_format_table_shows_every_quantity():
    table = format_table(fake_results(labels_identical=True))
    header = table.splitlines()[0].split()
    assert header == ["TransformerKMeans", "KMeans"]
    assert table_value(table, "labels identical") == "yes"
    assert table_value(table, "max center difference") == "2.5e-15"
    assert table_value(table, "inertia").split() == ["78.85566582", "78.85566583"]
    assert table_value(table, "iterations").split() == ["4", "6"]
    fit_times = re.split(r"\s{2,}", table_value(table, "fit time (median of 5)"))
    assert fit_times == ["12.3 ms", "2.50 s"]
    assert table_value(table, "fit time ratio").startswith("0.00 ")


def test_format_table_reports_differing_labels():
    table = format_table(fake_results(labels_identical=False))
    assert table_value(table, "labels identical") == "no (7 of 150 differ)"


def test_format_table_aligns_columns():
    lines = format_table(fake_results(labels_identical=True)).splitlines()
    per_estimator = lines[:4]
    # The values of each estimator end in the same column.
    assert len({len(line) for line in per_estimator}) == 1
    shared = lines[5:]
    starts = {len(line) - len(line.split("   ", 1)[1].lstrip()) for line in shared}
    assert len(starts) == 1


# -- main on built-in data sets ------------------------------------------------


def test_default_run_compares_on_digits(capsys):
    assert main([]) == 0
    output = capsys.readouterr().out
    assert output.startswith("digits: 1797 samples, 64 features, 10 clusters")
    settings = (
        "init=k-means++, n_init=auto (1), max_iter=300, tol=0.0001, random_state=0"
    )
    assert settings in output
    assert "fit time (median of 3)" in output
    assert table_value(output, "labels identical") == "yes"
    assert "TransformerKMeans" in output and "KMeans" in output


@pytest.mark.parametrize(
    "dataset, shape",
    [("iris", (150, 4, 3)), ("wine", (178, 13, 3)), ("breast_cancer", (569, 30, 2))],
)
def test_builtin_datasets_default_to_their_number_of_classes(capsys, dataset, shape):
    assert main(["--dataset", dataset, "--repeats", "1"]) == 0
    output = capsys.readouterr().out
    n_samples, n_features, n_clusters = shape
    assert output.startswith(
        f"{dataset}: {n_samples} samples, {n_features} features, {n_clusters} clusters"
    )
    assert table_value(output, "labels identical") == "yes"


def test_options_reach_the_comparison(capsys):
    argv = [
        "--dataset", "iris", "--n-clusters", "4", "--init", "random", "--n-init", "2",
        "--max-iter", "50", "--tol", "0.001", "--random-state", "7", "--scale",
        "--repeats", "2",
    ]  # fmt: skip
    assert main(argv) == 0
    output = capsys.readouterr().out
    assert output.startswith("iris: 150 samples, 4 features (standardized), 4 clusters")
    assert "init=random, n_init=2, max_iter=50, tol=0.001, random_state=7" in output
    assert "fit time (median of 2)" in output


def test_scale_standardizes_before_clustering(capsys):
    main(["--dataset", "wine", "--repeats", "1"])
    raw = float(table_value(capsys.readouterr().out, "inertia").split()[0])
    main(["--dataset", "wine", "--scale", "--repeats", "1"])
    scaled = float(table_value(capsys.readouterr().out, "inertia").split()[0])
    # wine's features have very different scales: standardizing changes the
    # objective by orders of magnitude.
    assert scaled < raw / 100


def test_differing_labels_exit_with_status_1(capsys, monkeypatch):
    class RenamedKMeans(KMeans):
        """KMeans whose cluster indices are shifted by one."""

        def fit(self, X, y=None, sample_weight=None):
            super().fit(X, sample_weight=sample_weight)
            self.labels_ = (self.labels_ + 1) % self.n_clusters
            return self

    monkeypatch.setattr(cli, "TransformerKMeans", RenamedKMeans)
    assert main(["--dataset", "iris", "--repeats", "1"]) == 1
    output = capsys.readouterr().out
    assert table_value(output, "labels identical") == "no (150 of 150 differ)"


# -- main on user data -----------------------------------------------------------


def test_data_csv_with_header(tmp_path, capsys, blobs):
    path = tmp_path / "blobs.csv"
    np.savetxt(path, blobs, delimiter=",", header="a,b,c", comments="")
    assert path.read_text().startswith("a,b,c\n")
    assert main(["--data", str(path), "--n-clusters", "3", "--repeats", "1"]) == 0
    output = capsys.readouterr().out
    assert output.startswith(f"{path}: 60 samples, 3 features, 3 clusters")
    assert table_value(output, "labels identical") == "yes"


def test_data_csv_without_header(tmp_path, capsys, blobs):
    path = tmp_path / "blobs.csv"
    np.savetxt(path, blobs, delimiter=",")
    assert main(["--data", str(path), "--n-clusters", "3", "--repeats", "1"]) == 0
    output = capsys.readouterr().out
    # The first row is data, not a header: all 60 samples are kept.
    assert output.startswith(f"{path}: 60 samples, 3 features, 3 clusters")
    assert table_value(output, "labels identical") == "yes"


def test_data_npy(tmp_path, capsys, blobs):
    path = tmp_path / "blobs.npy"
    np.save(path, blobs)
    assert main(["--data", str(path), "--n-clusters", "3", "--repeats", "1"]) == 0
    output = capsys.readouterr().out
    assert output.startswith(f"{path}: 60 samples, 3 features, 3 clusters")
    assert table_value(output, "labels identical") == "yes"


def test_data_results_equal_those_of_compare(tmp_path, capsys, blobs):
    path = tmp_path / "blobs.npy"
    np.save(path, blobs)
    main(["--data", str(path), "--n-clusters", "3", "--repeats", "1"])
    printed = table_value(capsys.readouterr().out, "inertia").split()
    inertia = compare(blobs, 3, repeats=1)["inertia"]
    assert printed == [f"{inertia[name]:.12g}" for name in cli.ESTIMATORS]


def test_user_data_defaults_to_8_clusters(tmp_path, capsys, blobs):
    path = tmp_path / "blobs.npy"
    np.save(path, blobs)
    assert main(["--data", str(path), "--repeats", "1"]) == 0
    assert ", 8 clusters" in capsys.readouterr().out.splitlines()[0]


BAD_FILES = [
    ("missing.csv", None, "cannot read the file"),
    ("ragged.csv", "1,2\n3,4,5\n", "line 2 has 3 values"),
    ("letters.csv", "a,b\n1,2\n3,x\n", "line 3, column 2: 'x' is not a number"),
    ("header_only.csv", "a,b\n", "no rows of numbers"),
    ("empty.csv", "", "no rows of numbers"),
    ("holes.csv", "1,2\nnan,4\n", "line 2, column 1: nan (NaN and infinite"),
    ("infinite.txt", "# x y\n1 2\n3 -inf\n", "line 3, column 2: -inf"),
    ("text.npy", "1,2\n3,4\n", "not a .npy file"),
]


@pytest.mark.parametrize(
    "name, content, message", BAD_FILES, ids=[name for name, _, _ in BAD_FILES]
)
def test_bad_file_gives_one_line_error(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    assert main(["--data", str(path), "--repeats", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"sklearn-kmt: error: {path}: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    "array, message",
    [
        (np.arange(5.0), "expected a 2-D array"),
        (np.array([["a", "b"], ["c", "d"]]), "expected numbers"),
    ],
    ids=["1-D", "strings"],
)
def test_unusable_npy_array_gives_one_line_error(tmp_path, capsys, array, message):
    path = tmp_path / "data.npy"
    np.save(path, array)
    assert main(["--data", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_more_clusters_than_samples_is_an_error(tmp_path, capsys, blobs):
    path = tmp_path / "blobs.npy"
    np.save(path, blobs[:5])
    assert main(["--data", str(path), "--n-clusters", "6"]) == 2
    assert "6 clusters asked for but the data has only 5 samples" in (
        capsys.readouterr().err
    )


# -- usage errors and help -------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--dataset", "mnist"],
        ["--init", "kmeans"],
        ["--n-clusters", "0"],
        ["--n-init", "many"],
        ["--max-iter", "-1"],
        ["--tol", "-0.1"],
        ["--repeats", "0"],
        ["--data", "x.csv", "--dataset", "iris"],
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_with_status_2(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_explains_every_option_and_the_exit_status(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option in OPTIONS:
        assert option in text
    for dataset in cli.DATASETS:
        assert dataset in text
    assert "0 when the two estimators give identical labels" in text
    assert "1 when the labels differ" in text


def test_version(capsys):
    from sklearn_kmt import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sklearn-kmt {__version__}"


@pytest.mark.parametrize("magnitude", [1e153, 1e300, 1e-310])
def test_data_beyond_kmeans_range_gives_one_line_error(
    tmp_path, capsys, blobs, magnitude
):
    # Where KMeans' summed squared distances overflow float64 or lose their
    # digits, there is no KMeans result to compare with: a usage error, not
    # "labels differ".
    path = tmp_path / "far.npy"
    np.save(path, blobs * magnitude)
    assert main(["--data", str(path), "--n-clusters", "3", "--repeats", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"sklearn-kmt: error: {path}: values of magnitude")
    assert "KMeans" in lines[0]


@pytest.mark.parametrize(
    "delimiter, header",
    [(",", ""), (";", "x;y;z\n"), ("\t", "x\ty\tz\n"), (" ", "# x y z\n")],
    ids=["comma", "semicolon-header", "tab-header", "savetxt-comment"],
)
def test_text_delimiters_are_detected(tmp_path, capsys, blobs, delimiter, header):
    path = tmp_path / "data.txt"
    body = "\n".join(delimiter.join(repr(float(v)) for v in row) for row in blobs)
    path.write_text(header + body + "\n")
    assert main(["--data", str(path), "--repeats", "1", "--n-clusters", "3"]) == 0
    assert f"{blobs.shape[0]} samples, 3 features" in capsys.readouterr().out
    np.testing.assert_array_equal(cli.load_data(path), blobs)


def test_numpy_savetxt_default_file_reads_as_saved(tmp_path, blobs):
    # savetxt writes whitespace-separated numbers, '# '-prefixed header lines.
    path = tmp_path / "saved.txt"
    np.savetxt(path, blobs, header="first second third")
    np.testing.assert_array_equal(cli.load_data(path), blobs)


def test_delimiter_option_overrides_detection(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("1;2\n3;4\n5;6\n")
    # The first row is no numbers with commas: a header; the second fails.
    with pytest.raises(cli.DataError, match="line 2, column 1: '3;4'"):
        cli.load_data(path, ",")
    np.testing.assert_array_equal(cli.load_data(path, ";"), [[1, 2], [3, 4], [5, 6]])


def test_whitespace_delimiter_is_taken_as_given(tmp_path):
    path = tmp_path / "commas.txt"
    path.write_text("1,2\n3,4\n")
    np.testing.assert_array_equal(cli.load_data(path), [[1, 2], [3, 4]])
    # Split on whitespace, the first row is no numbers (a header), the
    # second fails: not detected as commas.
    with pytest.raises(cli.DataError, match="line 2, column 1: '3,4'"):
        cli.load_data(path, " ")


def test_repeated_warnings_are_printed_once_in_plain_words(tmp_path, capsys):
    # Fewer distinct points than clusters: every fit warns alike.
    path = tmp_path / "duplicates.csv"
    path.write_text("\n".join(["0,0", "1,1", "2,2"] * 10) + "\n")
    main(["--data", str(path), "--n-clusters", "5", "--repeats", "3"])
    err = capsys.readouterr().err.splitlines()
    assert len(err) == len(set(err)) >= 1
    assert all(line.startswith("sklearn-kmt: warning: ") for line in err)
    assert not any(".py:" in line for line in err)  # no source lines


def test_difference_at_empty_clusters_is_explained(capsys):
    results = fake_results(labels_identical=True)
    results["empty_clusters_differ"] = True
    assert "only at clusters with no sample" in table_value(
        format_table(results), "max center difference"
    )


def test_one_feature_is_singular(tmp_path, capsys):
    path = tmp_path / "line.csv"
    path.write_text("\n".join(str(v) for v in range(20)) + "\n")
    main(["--data", str(path), "--n-clusters", "2", "--repeats", "1"])
    assert "20 samples, 1 feature," in capsys.readouterr().out
