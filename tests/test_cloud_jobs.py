"""submit, smoke and warmup on an autospec'd MLClient; metrics from a real local MLflow store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_json import run_json
from tests.fakes.cloud import OUTPUTS, connect_to, fake_ml, job, run_cli, use_fake_pulumi
from workshop.azure import jobs
from workshop.errors import ExitCode
from workshop.paths import JOBS_DIR

LOGREG = JOBS_DIR / "train-logreg.yml"
SWEEP = JOBS_DIR / "sweep-knn.yml"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A local MLflow store standing in for the workspace's: one run, and a sweep of three."""
    import os

    import mlflow

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    uri = (tmp_path_factory.mktemp("mlflow") / "store").as_uri()
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run() as single:
        mlflow.log_metric("accuracy", 0.9213)
    trials = {}
    with mlflow.start_run() as parent:
        for k, acc in ((1, 0.961), (3, 0.9705), (5, 0.968)):
            with mlflow.start_run(nested=True) as child:
                mlflow.log_params({"k": k, "representation": "pca50"})
                mlflow.log_metric("accuracy", acc)
                trials[k] = child.info.run_id
    mlflow.set_tracking_uri("")
    return {"uri": uri, "single": single.info.run_id, "sweep": parent.info.run_id, "trials": trials}


@pytest.fixture
def ml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: dict[str, Any]) -> Any:
    use_fake_pulumi(monkeypatch, tmp_path, {"dev": OUTPUTS})
    client = fake_ml()
    connect_to(monkeypatch, client)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setattr(jobs, "workspace_tracking", lambda _session: store["uri"])
    monkeypatch.setattr(jobs.time, "sleep", lambda _s: None)
    return client


def test_submit_creates_the_job_the_yaml_describes(
    ml: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ml.jobs.create_or_update.return_value = job("brave_cat_1", "Starting")
    code, out, _ = run_cli(capsys, "submit", str(LOGREG), "--stack", "dev")
    assert code == 0
    assert "brave_cat_1 submitted: https://ml.azure.com/runs/brave_cat_1" in out
    (sent,), _ = ml.jobs.create_or_update.call_args
    spec = yaml.safe_load(LOGREG.read_text())
    assert sent.type == "command"
    assert sent.experiment_name == spec["experiment_name"]
    assert sent.compute == spec["compute"].removeprefix("azureml:")
    assert sent.environment == spec["environment"].removeprefix("azureml:")
    assert " ".join(sent.command.split()) == " ".join(spec["command"].split())
    assert sent.inputs["mnist"].path.removeprefix("azureml:") == spec["inputs"]["mnist"][
        "path"
    ].removeprefix("azureml:")
    ml.jobs.stream.assert_not_called()


def test_submit_wait_streams_then_reports_metrics(
    ml: Any, store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = store["single"]
    ml.jobs.create_or_update.return_value = job(name, "Starting")
    ml.jobs.get.return_value = job(name, "Completed")
    code, out, _ = run_cli(capsys, "submit", str(LOGREG), "--stack", "dev", "--wait")
    assert code == 0, out
    ml.jobs.stream.assert_called_once_with(name)
    assert "ended Completed" in out and "accuracy" in out and "0.9213" in out


def test_submit_wait_on_a_failed_job_exits_job_failed(
    ml: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from azure.ai.ml.exceptions import JobException

    ml.jobs.create_or_update.return_value = job("sad_dog", "Starting")
    ml.jobs.stream.side_effect = JobException("Execution failed", no_personal_data_message="x")
    ml.jobs.get.return_value = job("sad_dog", "Failed")
    code, _, err = run_cli(capsys, "submit", str(LOGREG), "--stack", "dev", "--wait")
    assert code == ExitCode.JOB_FAILED
    assert "job sad_dog ended Failed" in err and "https://ml.azure.com/runs/sad_dog" in err


def test_sweep_reports_the_best_trial_by_its_objective(
    ml: Any, store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = store["sweep"]
    ml.jobs.create_or_update.return_value = job(name, "Starting", type="sweep")
    sweep = jobs.load_job_file(SWEEP)
    ml.jobs.get.return_value = job(
        name, "Completed", type="sweep", objective=getattr(sweep, "objective", None)
    )
    code, out, _ = run_cli(capsys, "submit", str(SWEEP), "--stack", "dev", "--wait")
    assert code == 0, out
    best = store["trials"][3]
    assert f"best trial of 3: {best} accuracy=0.9705" in out
    assert "k=3" in out and "representation=pca50" in out
    (sent,), _ = ml.jobs.create_or_update.call_args
    assert sent.type == "sweep" and sent.limits.max_total_trials == 14


def test_best_trial_minimizes_when_the_objective_says_so(store: dict[str, Any]) -> None:
    from types import SimpleNamespace

    reader = jobs.MlflowMetrics(store["uri"])
    objective = SimpleNamespace(primary_metric="accuracy", goal="minimize")
    report = jobs.report(
        job(store["sweep"], "Completed", type="sweep", objective=objective), reader
    )
    assert report.best_trial is not None and report.best_trial.run_id == store["trials"][1]


def test_a_bad_job_file_names_the_file_and_validate(
    ml: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("type: command\ncommand: echo\nnot_a_key: 1\n")
    code, _, err = run_cli(capsys, "submit", str(bad), "--stack", "dev")
    assert code == ExitCode.BAD_INPUT and str(bad) in err and "workshop validate" in err
    ml.jobs.create_or_update.assert_not_called()


def _statuses(ml: Any, name: str, statuses: list[str], **extra: Any) -> None:
    ml.jobs.get.side_effect = [job(name, s, **extra) for s in statuses]


def test_phase_clock_charges_time_to_the_status_seen_before() -> None:
    clock = jobs.PhaseClock()
    for status, t in [
        ("NotStarted", 0),
        ("Preparing", 30),
        ("Queued", 400),
        ("Running", 460),
        ("Completed", 520),
    ]:
        clock.observe(status, t)
    assert clock.seconds == {"queued": 90.0, "image": 370.0, "running": 60.0}
    assert clock.total() == 520.0


def test_wait_polls_until_terminal_and_times_each_phase() -> None:
    ml = fake_ml()
    _statuses(ml, "j", ["Starting", "Preparing", "Preparing", "Running", "Completed"])
    ticks = iter([0.0, 0.0, 10.0, 20.0, 30.0, 40.0])  # start, then one per poll
    seen: list[str] = []
    final, phases = jobs.wait(
        ml,
        "j",
        sleep=lambda _s: None,
        clock=lambda: next(ticks),
        on_status=lambda s, _t: seen.append(s),
    )
    assert final.status == "Completed"
    assert seen == ["Starting", "Preparing", "Running", "Completed"]
    assert phases.seconds == {"queued": 10.0, "image": 20.0, "running": 10.0}


def test_smoke_passes_above_the_threshold_and_reports_phases(
    ml: Any,
    store: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    name = store["single"]
    ml.jobs.create_or_update.return_value = job(name, "NotStarted")
    _statuses(ml, name, ["NotStarted", "Preparing", "Running", "Completed"])
    code, out, _ = run_cli(capsys, "smoke", "--stack", "dev", "--poll", "0")
    assert code == 0, out
    assert "smoke test passed: accuracy 0.9213 >= 0.9" in out
    for phase in ("queued", "image", "running", "total"):
        assert phase in out
    (sent,), _ = ml.jobs.create_or_update.call_args
    assert sent.display_name == yaml.safe_load(LOGREG.read_text())["display_name"]
    assert "accuracy: 0.9213 (threshold 0.9)" in summary.read_text()


def test_smoke_fails_below_the_threshold(
    ml: Any, store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = store["single"]
    ml.jobs.create_or_update.return_value = job(name, "NotStarted")
    _statuses(ml, name, ["Running", "Completed"])
    code, _, err = run_cli(
        capsys, "smoke", "--stack", "dev", "--poll", "0", "--min-accuracy", "0.95"
    )
    assert code == ExitCode.CHECK_FAILED
    assert "accuracy 0.9213 is below 0.95" in err


def test_smoke_fails_when_the_job_fails(ml: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ml.jobs.create_or_update.return_value = job("broken", "NotStarted")
    _statuses(ml, "broken", ["Preparing", "Failed"])
    code, _, err = run_cli(capsys, "smoke", "--stack", "dev", "--poll", "0")
    assert code == ExitCode.JOB_FAILED and "smoke job broken ended Failed" in err


def test_warmup_runs_an_import_in_the_jobs_environment_on_the_cluster(
    ml: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ml.jobs.create_or_update.return_value = job("warm_1", "NotStarted")
    _statuses(ml, "warm_1", ["NotStarted", "Preparing", "Running", "Completed"])
    code, out, _ = run_cli(capsys, "warmup", "--stack", "dev", "--poll", "0")
    assert code == 0, out
    (sent,), _ = ml.jobs.create_or_update.call_args
    env = yaml.safe_load((JOBS_DIR / "environment.yml").read_text())["name"]
    assert sent.environment == f"azureml:{env}@latest"
    assert sent.compute == "cpu-cluster"
    assert "import numpy, sklearn, mlflow" in sent.command
    assert "environment image ready" in out


def test_warmup_that_fails_exits_job_failed(ml: Any, capsys: pytest.CaptureFixture[str]) -> None:
    ml.jobs.create_or_update.return_value = job("warm_2", "NotStarted")
    _statuses(ml, "warm_2", ["Preparing", "Failed"])
    code, _, err = run_cli(capsys, "warmup", "--stack", "dev", "--poll", "0")
    assert code == ExitCode.JOB_FAILED and "warm-up job warm_2 ended Failed" in err


def test_submit_json_reports_the_job_its_status_and_metrics(
    ml: Any, store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = store["single"]
    ml.jobs.create_or_update.return_value = job(name, "Starting")
    ml.jobs.get.return_value = job(name, "Completed")
    code, doc, err = run_json(
        capsys, "submit", str(LOGREG), "--stack", "dev", "--wait", result_keys={"job", "status"}
    )
    assert code == ExitCode.OK and doc["command"] == "submit"
    assert doc["result"]["job"] == {"name": name, "studio_url": f"https://ml.azure.com/runs/{name}"}
    assert (
        doc["result"]["metrics"] == {"accuracy": 0.9213} and doc["result"]["status"] == "Completed"
    )
    assert doc["result"]["workspace"]["name"] == OUTPUTS["workspaceName"]
    assert "ended Completed" in err

    ml.jobs.get.return_value = job(name, "Failed")
    code, doc, _ = run_json(capsys, "submit", str(LOGREG), "--stack", "dev", "--wait")
    assert code == ExitCode.JOB_FAILED and doc["result"]["status"] == "Failed"
    assert doc["error"]["message"] == f"job {name} ended Failed"


def test_warmup_and_smoke_json_report_phases_and_the_accuracy(
    ml: Any, store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = store["single"]
    ml.jobs.create_or_update.return_value = job(name, "NotStarted")
    _statuses(ml, name, ["Preparing", "Running", "Completed"])
    keys = {"job", "status", "phases"}
    code, doc, _ = run_json(capsys, "warmup", "--stack", "dev", "--poll", "0", result_keys=keys)
    assert code == ExitCode.OK and doc["result"]["status"] == "Completed"
    _statuses(ml, name, ["Preparing", "Failed"])
    code, doc, _ = run_json(capsys, "warmup", "--stack", "dev", "--poll", "0", result_keys=keys)
    assert code == ExitCode.JOB_FAILED and doc["result"]["status"] == "Failed"

    keys |= {"accuracy", "min_accuracy", "metrics"}
    _statuses(ml, name, ["Running", "Completed"])
    code, doc, _ = run_json(capsys, "smoke", "--stack", "dev", "--poll", "0", result_keys=keys)
    assert code == ExitCode.OK and doc["result"]["accuracy"] == 0.9213
    _statuses(ml, name, ["Running", "Completed"])
    code, doc, _ = run_json(
        capsys, "smoke", "--stack", "dev", "--poll", "0", "--min-accuracy", "0.95", result_keys=keys
    )
    assert code == ExitCode.CHECK_FAILED and doc["result"]["min_accuracy"] == 0.95
    assert "below 0.95" in doc["error"]["message"]
