"""`workshop run` on the tiny fixtures: each job kind, its MLflow runs, nesting and metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.runner import RunOptions, RunRecord, run_job
from workshop.runner.tracking import PARENT_TAG, store_uri

FIXTURES = Path(__file__).parent / "fixtures" / "runner"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow store for the module: creating its tables takes seconds; run ids keep apart."""
    return tmp_path_factory.mktemp("workshop-home")


@pytest.fixture
def home(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKSHOP_HOME", str(store))
    return store


def mlflow_run(home: Path, run_id: str | None):
    from mlflow.tracking import MlflowClient

    assert run_id
    return MlflowClient(tracking_uri=store_uri(home)).get_run(run_id)


def test_command_job_binds_inputs_outputs_and_logs_to_its_run(home: Path) -> None:
    record = run_job(FIXTURES / "command.yml", RunOptions(overrides={"inputs.x": 6}))
    assert record.status == "FINISHED", record.error
    assert record.metrics == {"accuracy": pytest.approx(0.9)}
    result = Path(record.outputs["model"]) / "result.txt"
    assert result.read_text() == "x=6.0 seen=train.txt\n"  # azureml:tiny@latest -> fixtures data
    assert Path(record.outputs["model"]).is_relative_to(home / "runs")
    run = mlflow_run(home, record.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["accuracy"] == pytest.approx(0.9)
    assert run.data.params["x"] == "6.0"  # logged by the script itself, into the runner's run
    assert PARENT_TAG not in run.data.tags
    assert record.experiment == "runner-tests"


def test_sweep_reports_the_best_trial_and_a_failing_one(home: Path) -> None:
    record = run_job(FIXTURES / "sweep.yml")
    assert record.status == "FINISHED"
    by_x = {trial.params["x"]: trial for trial in record.children}
    assert sorted(by_x) == [3, 5, 6]
    assert by_x[6].status == "FAILED" and by_x[6].error == "exit code 3"
    assert by_x[3].metrics["accuracy"] == pytest.approx(0.8)
    assert record.best == by_x[5].name
    assert record.params == {"x": 5}
    assert record.metrics == {"accuracy": pytest.approx(1.0)}
    assert record.outputs == by_x[5].outputs
    for trial in record.children:
        run = mlflow_run(home, trial.run_id)
        assert run.data.tags[PARENT_TAG] == record.run_id
        assert run.info.status == trial.status
    assert mlflow_run(home, record.run_id).data.metrics["accuracy"] == pytest.approx(1.0)
    log = Path(by_x[6].folder or "") / "user_logs" / "std_log.txt"
    assert "failing on purpose for x=6.0" in log.read_text()
    document = record.to_dict()
    assert document["best_trial"]["params"] == {"x": 5}
    assert [t["status"] for t in document["trials"]].count("FAILED") == 1


def steps(record: RunRecord) -> dict[str, RunRecord]:
    return {step.name: step for step in record.children}


def test_pipeline_wires_outputs_nests_steps_and_takes_the_best_sweep_trial(home: Path) -> None:
    overrides = {"jobs.sweep.limits.max_total_trials": 1, "jobs.sweep.search_space.x.values": [5]}
    record = run_job(FIXTURES / "pipeline.yml", RunOptions(overrides=overrides))
    assert record.status == "FINISHED", [(s.name, s.error) for s in record.children]
    by_name = steps(record)
    assert list(by_name) == ["first", "second", "independent", "sweep"]  # dependency order
    first_out = by_name["first"].outputs["model"]
    assert (Path(by_name["second"].outputs["model"]) / "result.txt").read_text() == (
        "x=2.0 seen=result.txt\n"  # `second` read the folder `first` wrote
    )
    assert by_name["second"].metrics == {}  # it ran with --log no: no metric, still FINISHED
    sweep = by_name["sweep"]
    assert sweep.kind == "sweep" and sweep.best == sweep.children[0].name
    assert record.outputs == {"best": sweep.children[0].outputs["model"]}
    assert Path(first_out).is_dir()
    for step in record.children:
        assert mlflow_run(home, step.run_id).data.tags[PARENT_TAG] == record.run_id
    trial_run = mlflow_run(home, sweep.children[0].run_id)
    assert trial_run.data.tags[PARENT_TAG] == sweep.run_id
    assert mlflow_run(home, record.run_id).info.status == "FINISHED"


def test_failed_step_fails_the_pipeline_and_skips_the_rest(home: Path) -> None:
    from workshop.commands.run import failed_hint

    record = run_job(FIXTURES / "pipeline.yml", RunOptions(overrides={"jobs.first.inputs.x": 99}))
    by_name = steps(record)
    assert record.status == "FAILED"
    assert by_name["first"].status == "FAILED"
    # The fix names the failed step's own log file, not the run folder.
    log = Path(by_name["first"].folder or "") / "user_logs" / "std_log.txt"
    assert failed_hint(record) == f"read its log: {log}"
    assert {by_name[s].status for s in ("second", "independent", "sweep")} == {"SKIPPED"}
    assert "continue_on_step_failure is false" in (by_name["independent"].error or "")
    assert mlflow_run(home, record.run_id).info.status == "FAILED"
    assert mlflow_run(home, by_name["first"].run_id).info.status == "FAILED"


def test_continue_on_step_failure_runs_the_independent_steps(home: Path) -> None:
    overrides = {"jobs.first.inputs.x": 99, "settings.continue_on_step_failure": True}
    record = run_job(FIXTURES / "pipeline.yml", RunOptions(overrides=overrides))
    by_name = steps(record)
    assert record.status == "FAILED"
    assert by_name["independent"].status == "FINISHED"
    assert (Path(by_name["independent"].outputs["model"]) / "result.txt").is_file()
    assert by_name["second"].status == "SKIPPED"
    assert "needs first" in (by_name["second"].error or "")
    assert by_name["sweep"].status == "SKIPPED"


SLEEPER = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
experiment_name: runner-tests
command: echo started && sleep 60 && echo never
limits:
  timeout: 1
environment:
  image: python:3.11-slim
"""

SLEEPING_STEP = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: runner-tests
jobs:
  sleeper:
    type: command
    command: echo started && sleep 60 && echo never
    limits:
      timeout: 1
    environment:
      image: python:3.11-slim
"""


@pytest.mark.timeout(50)  # far below the 60 s sleep: the limit, not the command, ended it
@pytest.mark.parametrize("yaml", [SLEEPER, SLEEPING_STEP], ids=["command", "pipeline-step"])
def test_limits_timeout_stops_a_command_job_or_step(home: Path, tmp_path: Path, yaml: str) -> None:
    """Azure cancels a command job after `limits.timeout` seconds (CommandJobLimits)."""
    job = tmp_path / "sleeper.yml"
    job.write_text(yaml)
    record = run_job(job)
    run = record.children[0] if record.kind == "pipeline" else record
    log = (Path(run.folder or "") / "user_logs" / "std_log.txt").read_text()
    assert record.status == "FAILED" and run.status == "FAILED"
    assert run.error == "timed out (limit 1 s)"
    assert log.splitlines() == ["started"]
    assert mlflow_run(home, run.run_id).info.status == "FAILED"


BOUNDED_COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: bounded
type: command
inputs:
  n: {type: integer, default: 5, min: 1, max: 10}
  mode: {type: string, enum: [a, b], default: a}
  flag: {type: boolean, default: false}
command: echo n=${{inputs.n}} mode=${{inputs.mode}} flag=${{inputs.flag}}
environment:
  image: python:3.11-slim
"""

BOUNDED_PIPELINE = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: runner-tests
inputs:
  big: 50
  three: 3
jobs:
  first:
    type: command
    command: echo first ran
    environment:
      image: python:3.11-slim
  bounded:
    type: command
    component: ./bounded.yml
    inputs:
      {binding}
"""


@pytest.mark.parametrize(
    ("binding", "said"),
    [
        ("n: ${{parent.inputs.big}}", "jobs.bounded.inputs.n: 50 is above its max 10"),
        ("n: 0", "jobs.bounded.inputs.n: 0 is below its min 1"),
        ("mode: c", "jobs.bounded.inputs.mode: 'c' is not one of its enum values (a, b)"),
        ("flag: ${{parent.inputs.three}}", "jobs.bounded.inputs.flag: 3 is not a boolean"),
    ],
)
def test_a_literal_the_component_does_not_allow_stops_the_pipeline_before_its_first_step(
    home: Path, tmp_path: Path, binding: str, said: str
) -> None:
    """On Azure such a value fails the job (azure-ai-ml's Input: "If a value below min is
    passed, the job execution will fail"); here it ran, or failed a step after others ran."""
    from workshop.errors import WorkshopError

    (tmp_path / "bounded.yml").write_text(BOUNDED_COMPONENT)
    job = tmp_path / "bounded-pipeline.yml"
    job.write_text(BOUNDED_PIPELINE.replace("{binding}", binding))
    with pytest.raises(WorkshopError) as info:
        run_job(job)
    assert info.value.args[0].startswith(f"bounded-pipeline.yml: {said}, as the step's component")
    assert not list((home / "runs").glob("bounded-pipeline-*"))  # no step ran, nor the run


def test_a_literal_the_component_allows_runs(home: Path, tmp_path: Path) -> None:
    (tmp_path / "bounded.yml").write_text(BOUNDED_COMPONENT)
    job = tmp_path / "allowed-pipeline.yml"
    job.write_text(BOUNDED_PIPELINE.replace("{binding}", "n: ${{parent.inputs.three}}"))
    record = run_job(job)
    assert record.status == "FINISHED", [(c.name, c.error) for c in record.children]
    step = next(c for c in record.children if c.name == "bounded")
    log = (Path(step.folder or "") / "user_logs" / "std_log.txt").read_text()
    assert log.splitlines() == ["n=3 mode=a flag=False"]
