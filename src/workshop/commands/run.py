"""`workshop run JOB.yml`: run a job YAML from jobs/ on this machine, tracked in a local MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from workshop import json_report
from workshop.errors import ExitCode, WorkshopError
from workshop.json_report import JsonFlag

if TYPE_CHECKING:
    from workshop.runner.records import RunRecord


def register(app: typer.Typer) -> None:
    app.command(name="run")(run)


def run(
    job: Annotated[
        Path,
        typer.Argument(
            metavar="JOB.yml",
            help="A command, sweep or pipeline job YAML, e.g. jobs/train-knn.yml.",
        ),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a key of the YAML, e.g. inputs.kmax=5, limits.max_total_trials=4, "
            "jobs.train_logreg.inputs.data=... (repeatable; the key must exist).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a job YAML locally, exactly as written for Azure ML.

    Inputs bind to local data (azureml:mnist:1 -> the data cache), outputs to fresh folders under
    .workshop/runs/, and every run, sweep trial and pipeline step is an MLflow run nested under its
    parent in .workshop/mlflow.db. Ctrl-C stops every child process and marks the runs KILLED.

    A job that fails exits JOB_FAILED, an interrupted one INTERRUPTED (exit codes:
    `workshop --help`).
    """

    from workshop.runner import RunOptions, run_job
    from workshop.runner.binding import parse_sets
    from workshop.runner.records import KILLED
    from workshop.runner.report import json_result, print_report

    record = run_job(job, RunOptions(overrides=parse_sets(set_ or [])))
    print_report(record, Console())
    json_report.record(**json_result(record))
    if record.status == KILLED:
        started = any(run.run_id for run in record.walk())
        raise WorkshopError(
            f"{record.kind} job {record.name} was interrupted; "
            + ("its runs are marked KILLED" if started else "it was stopped before it started"),
            exit_code=ExitCode.INTERRUPTED,
        )
    if not record.ok:
        raise WorkshopError(
            f"{record.kind} job {record.name} ended {record.status}",
            hint=failed_hint(record),
            exit_code=ExitCode.JOB_FAILED,
        )


def failed_hint(record: RunRecord) -> str:
    """Where to look: the sweep objective a trial did not log, or the failed run's own log."""
    from workshop.runner.records import SKIPPED
    from workshop.runner.sweep import MISSED_OBJECTIVE

    for run in record.walk():  # a trial that finished but did not log the sweep's objective
        if run.error and run.error.startswith(MISSED_OBJECTIVE):
            return (
                f"a trial {run.error}: log it from the training script (mlflow.log_metric) "
                "or change the sweep's objective.primary_metric"
            )
    failed = [run for run in record.walk() if not run.ok and run.status != SKIPPED]
    for run in reversed(failed):  # the innermost first: a trial's or a step's own log
        log = Path(run.folder or "") / "user_logs" / "std_log.txt"
        if run.folder and log.is_file():
            return f"read its log: {log}"
        if run.folder is None and run.error:  # a step that could not start has no log
            return f"{run.kind} {run.name} did not start: {run.error}"
    return f"read the logs under {record.folder}"
