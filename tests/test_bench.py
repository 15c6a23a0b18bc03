"""The benchmark runner on synthetic data: one table, results.json with the machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.demo import demo_section


def test_writes_results_with_machine(synthetic_mnist: Path, tmp_path: Path, capsys):
    out = tmp_path / "results.json"
    assert main(["--data", str(synthetic_mnist), "--out", str(out), "--skip-demo"]) == 0
    results = json.loads(out.read_text())
    assert {"cpu", "cores", "python", "numpy", "scikit-learn", "date"} <= set(results["machine"])
    knn = results["knn"]
    assert knn["ks"] == [1, 3, 5, 7, 9, 11, 13]
    assert knn["identical_predictions"] is True  # our one pass vs the hands-on's loop
    assert all(v["mismatches"] == 0 for v in knn["per_k"].values())
    assert results["logreg"]["ours"]["converged"] is True
    assert {"load_before", "load_after"} <= set(results["machine"])  # the figures' context
    runs = results["runs"]  # `workshop run` end to end, as a trainee types it
    assert runs["knn"]["saved_model_mismatches_vs_2019"] == 0
    knn_run = runs["knn"]
    assert knn_run["seconds"] == pytest.approx(
        knn_run["compute_seconds"] + knn_run["overhead_seconds"], abs=0.02
    )
    # The runner's own time: end to end less the job's process, which the run's JSON reports.
    assert 0 < knn_run["runner_seconds"] < knn_run["seconds"]
    assert knn_run["runner_seconds"] <= knn_run["overhead_seconds"] + 0.02
    build = runs["setup"]["environment_build_seconds"]  # the jobs' environment, built or found
    assert isinstance(build, float) and build > 0
    assert not out.with_suffix(".tmp").exists()
    printed = capsys.readouterr().out
    assert "original (2019)" in printed and "every prediction matches" in printed
    assert "workshop run train-knn.yml" in printed and "environment build" in printed
    assert "of which the runner's own" in printed


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys):
    assert main(["--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "workshop data fetch" in err
    assert not (tmp_path / "r.json").exists()


def test_demo_section_reports_every_phase_against_the_budget():
    figures = {
        "timings": {"fetch": 0.4, "train-logreg": 80.2, "sweep-knn": 260.0, "total": 340.6},
        "accuracy": {"train-logreg": 0.9265},
    }
    section = demo_section(figures)
    rows = {what.strip(): ours for what, _, ours in section.rows}
    assert rows["train-logreg"] == "80 s" and rows["total"] == "341 s"
    assert rows["within 60 s"] == "NO"  # 340.6 s is over the 60 s budget
    assert rows["accuracy train-logreg"] == "0.9265"
    assert section.figures["within_budget"] is False
    figures["timings"]["total"] = 59.0
    assert demo_section(figures).figures["within_budget"] is True
    # Judged on the whole command when it was timed: the tool's start and summary count too.
    timed = demo_section({**figures, "process_seconds": 61.2})
    assert timed.figures["within_budget"] is False
    assert {w.strip(): o for w, _, o in timed.rows}["the whole command, start to exit"] == "61.2 s"
    # One decimal: a run just under the budget never reads as the budget itself ("60 s").
    close = demo_section({**figures, "process_seconds": 59.66})
    assert close.figures["within_budget"] is True
    assert {w.strip(): o for w, _, o in close.rows}["the whole command, start to exit"] == "59.7 s"
