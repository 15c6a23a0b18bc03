"""A job's outputs locally as Azure declares them: a folder by default, one file for `uri_file`.

The job YAML reference: "For the default `uri_folder` type, the output will correspond to a
folder" (https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command#job-outputs),
and Microsoft's own example writes into an output declared with no value at all
(`outputs: {hello_output: }`, then `echo ... > ${{outputs.hello_output}}/helloworld.txt`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.runner import run_job
from workshop.runner.tracking import store_uri

A_FILE_AND_A_FOLDER = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
experiment_name: runner-tests
command: echo one file > ${{outputs.note}} && echo in a folder > ${{outputs.bare}}/x.txt
outputs:
  note:
    type: uri_file
  bare:
environment:
  image: python:3.11-slim
"""

FILE_BETWEEN_STEPS = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: runner-tests
jobs:
  write:
    type: command
    command: {write}
    environment:
      image: python:3.11-slim
    outputs:
      note:
        type: uri_file
  read:
    type: command
    command: >-
      test -f ${{{{inputs.note}}}} && cat ${{{{inputs.note}}}} > ${{{{outputs.seen}}}}/seen.txt
    environment:
      image: python:3.11-slim
    inputs:
      note:
        type: uri_file
        path: ${{{{parent.jobs.write.outputs.note}}}}
    outputs:
      seen:
        type: uri_folder
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_uri_file_output_is_a_file_and_a_bare_output_a_folder(home: Path, tmp_path: Path) -> None:
    job = tmp_path / "job.yml"
    job.write_text(A_FILE_AND_A_FOLDER)
    record = run_job(job)
    assert record.status == "FINISHED", record.error
    assert Path(record.outputs["note"]).read_text() == "one file\n"
    assert (Path(record.outputs["bare"]) / "x.txt").read_text() == "in a folder\n"


def test_a_uri_file_output_reaches_the_next_step_as_a_file(home: Path, tmp_path: Path) -> None:
    job = tmp_path / "pipeline.yml"
    job.write_text(FILE_BETWEEN_STEPS.format(write="echo hello > ${{outputs.note}}"))
    record = run_job(job)
    steps = {c.name: c for c in record.children}
    assert record.status == "FINISHED", [(c.name, c.error) for c in record.children]
    assert (Path(steps["read"].outputs["seen"]) / "seen.txt").read_text() == "hello\n"


@pytest.mark.parametrize("keep_going", [False, True])
def test_a_step_that_does_not_write_its_file_output_fails_its_reader_by_name(
    home: Path, tmp_path: Path, keep_going: bool
) -> None:
    """The reader fails without running, as on Azure; `continue_on_step_failure` decides whether
    an independent step still runs."""
    from mlflow.tracking import MlflowClient

    job = tmp_path / "pipeline.yml"
    text = FILE_BETWEEN_STEPS.format(write="'true'") + (
        "  independent:\n    type: command\n    command: echo ran\n"
        "    environment:\n      image: python:3.11-slim\n"
    )
    if keep_going:
        text += "settings:\n  continue_on_step_failure: true\n"
    job.write_text(text)
    record = run_job(job)
    steps = {c.name: c for c in record.children}
    assert record.status == "FAILED"
    assert steps["write"].status == "FINISHED"
    assert steps["read"].status == "FAILED"
    assert (steps["read"].error or "").startswith(
        "pipeline.yml: jobs.read.inputs.note: step write finished without writing its output "
        "'note' ("
    )
    assert steps["independent"].status == ("FINISHED" if keep_going else "SKIPPED")
    from workshop.commands.run import failed_hint

    assert failed_hint(record).startswith("step read did not start: pipeline.yml: jobs.read.")
    assert failed_hint(record).endswith("make step write write it")
    client = MlflowClient(tracking_uri=store_uri(home))
    [experiment] = [e for e in client.search_experiments() if e.name == "runner-tests"]
    runs = {r.info.run_name: r.info.status for r in client.search_runs([experiment.experiment_id])}
    expected = {"pipeline": "FAILED", "write": "FINISHED"}
    if keep_going:
        expected["independent"] = "FINISHED"
    assert runs == expected  # no run left RUNNING; the reader never started one
