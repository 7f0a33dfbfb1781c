"""The benchmark commands run, in their quick modes, and print their tables."""

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script, argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, *argv])
    runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    return capsys.readouterr().out


def test_compare_with_sklearn_quick(monkeypatch, capsys, tmp_path):
    rst = tmp_path / "results.rst"
    argv = ["--quick", "--layers", "3", "--rst", str(rst)]
    out = run("compare_sklearn.py", argv, monkeypatch, capsys)
    rows = [line.split() for line in out.splitlines() if line.endswith(" MiB")]
    rows = [row for row in rows if row[0].isdigit()]
    assert len(rows) == 4  # two grid points, float64 and float32
    for row in rows:
        ours, theirs, ratio = map(float, row[4:7])
        low, high = map(float, row[7].split("-"))
        assert ours > 0 and theirs > 0
        assert 0 < low <= high
        # The printed times are rounded to the millisecond.
        assert low - 0.01 <= ratio <= high + 0.01
    # Whole fits, routed and not, on noise and on clusters: the labels are
    # KMeans', and the first layer sends every token through the attention.
    routing = out.split("through the assignment attention, layer by layer")[1]
    fits = [line.split() for line in routing.splitlines()[3:7]]
    assert [row[0] for row in fits] == ["noise", "noise", "blobs", "blobs"]
    for row in fits:
        assert "differ" not in row
        through = row[row.index("same") + 1 :]
        assert float(through[0]) == 100.0
        assert all(0.0 <= float(share) <= 100.0 for share in through)
    variants = out.split("relative to TransformerKMeans")[1].splitlines()[2:4]
    for line in variants:
        costs = list(map(float, line.split()[3:]))
        assert len(costs) == 4 and min(costs) > 0  # soft, spherical, trimmed, robust
    assert "spherical k-means on a 500 x 2000" in out
    assert "threadpool:" in out
    # The same tables, as reStructuredText for the documentation.
    text = rst.read_text()
    assert text.count("float64") >= 3 and "soft  spherical  trimmed  robust" in text
    assert "threadpool:" in text


def test_kmedoids_scale_quick(monkeypatch, capsys):
    argv = ["--pam-sizes", "200", "--seeds", "2", "--sizes", "300", "600"]
    argv += ["--n-init", "1", "--n-candidates", "4", "--n-nearest", "4"]
    argv += ["--repeats", "2"]
    out = run("kmedoids_scale.py", argv, monkeypatch, capsys)
    # Against FasterPAM: two seeds, positive times, objectives near PAM's.
    pam = out.split("against FasterPAM")[1].split("against KMeans")[0]
    pam_rows = [line.split() for line in pam.splitlines() if line[:9].strip() == "200"]
    assert [int(row[1]) for row in pam_rows] == [0, 1]
    for row in pam_rows:
        # Times of milliseconds print rounded: their ratio is from the
        # unrounded times.
        ours, theirs, ratio = map(float, row[2:5])
        low, high = map(float, row[5].strip("[]").split("-"))
        objective = float(row[6])
        assert ours > 0 and theirs > 0 and 0 < low <= ratio <= high
        assert 0.9 < objective < 1.5
    # Against KMeans: one row per size, times and their ratio.
    rows = [line.split() for line in out.splitlines() if line.endswith("GiB")]
    assert [int(row[0]) for row in rows] == [300, 600]
    for row in rows:
        ours, theirs, ratio = map(float, row[1:4])
        assert ours > 0 and theirs > 0 and ratio > 0


def test_dask_compare_quick(monkeypatch, capsys):
    pytest.importorskip("distributed")
    out = run("dask_compare.py", ["--quick", "--layers", "3"], monkeypatch, capsys)
    assert "2 worker processes" in out
    times, traffic = out.split("per layer, one more fit of each")
    traffic, routing = traffic.split("whole fits of")
    # Routed and unrouted whole fits, on noise and on clusters: same labels.
    routing_rows = [line.split() for line in routing.splitlines()[3:]]
    assert [row[0] for row in routing_rows] == ["noise", "clustered"]
    for row in routing_rows:
        assert 0 < int(row[4]) <= 3
        auto, lloyd, ratio = map(float, row[5:8])
        assert auto > 0 and lloyd > 0
        assert abs(ratio - auto / lloyd) <= 0.05 * ratio + 0.01
        assert row[9] == "True"
    rows = [line.split() for line in times.splitlines()]
    rows = [row for row in rows if row and row[0].isdigit() and row[1] != "layers"]
    assert len(rows) == 1
    # Tasks and MiB per layer: at least a task a block, bytes not negative.
    traffic_rows = [line.split() for line in traffic.strip().splitlines()[2:]]
    assert [row[:3] for row in traffic_rows] == [rows[0][:3]]
    assert all(float(value) >= 0 for value in traffic_rows[0][3:])
    assert float(traffic_rows[0][3]) >= 4
    ours = float(rows[0][4])
    assert ours > 0
    if "dask-ml" in out and "fails" not in out and "not installed" not in out:
        theirs, ratio = map(float, rows[0][5:7])
        low, high = map(float, rows[0][7].split("-"))
        assert theirs > 0 and low <= high
        assert abs(ratio - ours / theirs) <= 0.01 + 0.01 * ratio
        # Same init, same layers: the same Lloyd iterates.
        assert rows[0][8] == "3/3"
        assert float(rows[0][9]) < 1e-8
