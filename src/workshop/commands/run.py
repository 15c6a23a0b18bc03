"""`workshop run JOB.yml`: run a job YAML from jobs/ on this machine, tracked in a local MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


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
    as_json: Annotated[
        bool,
        typer.Option("--json", help="End the output with one JSON document (status, metrics)."),
    ] = False,
) -> None:
    """Run a job YAML locally, exactly as written for Azure ML.

    Inputs bind to local data (azureml:mnist:1 -> the data cache), outputs to fresh folders under
    .workshop/runs/, and every run, sweep trial and pipeline step is an MLflow run nested under its
    parent in .workshop/mlflow.db. Ctrl-C stops every child process and marks the runs KILLED.

    Exit code: 0 finished, 1 failed, 130 interrupted.
    """
    from workshop.runner import RunOptions, run_job
    from workshop.runner.binding import parse_sets
    from workshop.runner.records import KILLED
    from workshop.runner.report import json_document, print_report

    record = run_job(job, RunOptions(overrides=parse_sets(set_ or [])))
    print_report(record, Console(stderr=as_json))
    if as_json:
        print(json_document(record))
    if record.status == KILLED:
        raise typer.Exit(130)
    if not record.ok:
        raise typer.Exit(1)
