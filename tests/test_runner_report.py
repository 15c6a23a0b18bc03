"""What `workshop run` prints after a run: the outputs, and which of them are empty."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from workshop.runner.records import FAILED, RunRecord
from workshop.runner.report import print_report


def test_an_empty_output_folder_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    empty, written = tmp_path / "model", tmp_path / "metrics"
    empty.mkdir()
    written.mkdir()
    (written / "accuracy.txt").write_text("0.9")
    record = RunRecord("train", "command", folder=str(tmp_path))
    record.status = FAILED
    record.outputs = {"model": str(empty), "metrics": str(written)}
    console = Console(record=True, width=200)
    print_report(record, console)
    lines = console.export_text().splitlines()
    assert f"output model: {empty} (empty: the job wrote nothing there)" in lines
    assert f"output metrics: {written}" in lines
