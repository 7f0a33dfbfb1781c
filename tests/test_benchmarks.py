"""The benchmark commands run, in their quick modes, and print their tables."""

import runpy
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run(script, argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, *argv])
    runpy.run_path(str(BENCHMARKS / script), run_name="__main__")
    return capsys.readouterr().out


def test_compare_with_sklearn_quick(monkeypatch, capsys):
    out = run("compare_sklearn.py", ["--quick", "--layers", "3"], monkeypatch, capsys)
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
    for name in ("TransformerSoftKMeans", "TransformerTrimmedKMeans", "spherical"):
        assert name in out
    assert "threadpool: openblas" in out or "threadpool:" in out


def test_kmedoids_scale_quick(monkeypatch, capsys):
    out = run(
        "kmedoids_scale.py",
        ["--sizes", "300", "600", "--n-init", "1", "--n-candidates", "4"],
        monkeypatch,
        capsys,
    )
    rows = [line.split() for line in out.splitlines() if line.endswith("GiB")]
    assert [int(row[0]) for row in rows] == [300, 600]
    assert all(float(row[1]) > 0 for row in rows)
