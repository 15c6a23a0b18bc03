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


def test_an_output_not_written_and_paths_that_do_not_exist_are_not_shown_as_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A uri_file output the job did not write, and a run stopped before its folder or the
    MLflow store existed (Ctrl-C during the first run's set-up)."""
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    record = RunRecord("train", "command", folder=str(tmp_path / "runs" / "train-1"))
    record.outputs = {"note": str(tmp_path / "runs" / "train-1" / "outputs" / "note")}

    def printed() -> list[str]:
        console = Console(record=True, width=300)
        print_report(record, console)
        return console.export_text().splitlines()

    lines = printed()
    assert (
        f"output note: {record.outputs['note']} (not written: the job made no such file)" in lines
    )
    assert not [line for line in lines if line.startswith(("run folder:", "see every run:"))]
    Path(record.outputs["note"]).parent.mkdir(parents=True)
    (tmp_path / "mlflow.db").touch()
    lines = printed()
    assert f"run folder: {record.folder}" in lines
    assert any(line.startswith("see every run: mlflow ui") for line in lines)


@pytest.mark.parametrize(
    ("started", "said"),
    [(True, "its runs are marked KILLED"), (False, "it was stopped before it started")],
)
def test_an_interrupted_run_says_whether_it_had_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: bool, said: str
) -> None:
    from typer.testing import CliRunner

    import workshop.runner
    from workshop.cli import app
    from workshop.errors import ExitCode, WorkshopError
    from workshop.runner.records import KILLED

    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    record = RunRecord("train", "command", status=KILLED, run_id="abc" if started else None)
    monkeypatch.setattr(workshop.runner, "run_job", lambda *args, **kwargs: record)
    job = tmp_path / "train.yml"
    job.write_text("command: echo\n")
    raised = CliRunner().invoke(app, ["run", str(job)]).exception  # main() prints it
    assert isinstance(raised, WorkshopError) and raised.exit_code == ExitCode.INTERRUPTED
    assert raised.args[0] == f"command job train was interrupted; {said}"
