"""The benchmark runner on synthetic data: one table, results.json with the machine."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import main


def test_writes_results_with_machine(synthetic_mnist: Path, tmp_path: Path, capsys):
    out = tmp_path / "results.json"
    assert main(["--data", str(synthetic_mnist), "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert {"cpu", "cores", "python", "numpy", "scikit-learn", "date"} <= set(results["machine"])
    knn = results["knn"]
    assert knn["ks"] == [1, 3, 5, 7, 9, 11, 13]
    assert knn["identical_predictions"] is True  # our one pass vs the hands-on's loop
    assert all(v["mismatches"] == 0 for v in knn["per_k"].values())
    assert results["logreg"]["ours"]["converged"] is True
    assert not out.with_suffix(".tmp").exists()
    printed = capsys.readouterr().out
    assert "original (2019)" in printed and "every prediction matches" in printed


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys):
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "workshop data fetch" in err
    assert not (tmp_path / "r.json").exists()
