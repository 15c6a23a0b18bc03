"""Run one job YAML locally: load it, set up the run folder and tracking, dispatch on its type."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from workshop.paths import runs_dir
from workshop.runner import binding
from workshop.runner.command import RunContext, Task, output_types, run_command_job
from workshop.runner.environment import Environments
from workshop.runner.mounts import Mounts
from workshop.runner.pipeline import run_pipeline
from workshop.runner.records import KILLED, Interrupted, RunRecord
from workshop.runner.sweep import run_sweep
from workshop.runner.tracking import Tracker
from workshop.stopping import signals_held, stop_signals_interrupt

console = Console(stderr=True)


@dataclass
class RunOptions:
    overrides: dict[str, Any] = field(default_factory=dict)
    cores: int | None = None  # default: os.cpu_count()


def run_job(path: Path, options: RunOptions | None = None) -> RunRecord:
    """Run a command, sweep or pipeline job YAML here; returns its record (status KILLED if
    interrupted: every child process has been stopped by then)."""
    options = options or RunOptions()
    job = binding.load(Path(path), options.overrides)
    assets = binding.Assets(job.folder)
    cores = options.cores or os.cpu_count() or 1
    experiment = job.experiment
    run_name = f"{job.path.stem}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    folder = runs_dir() / "runs" / run_name
    environments = Environments(job, assets)
    mounts = Mounts(folder)
    _report_compute(job, environments, cores)
    binding.check_inputs(job, assets)  # a missing data cache fails before an environment build
    started = time.monotonic()
    with stop_signals_interrupt():
        try:
            environments.realise()  # before any job starts: a broken environment fails here
            tracker = Tracker(experiment)
            ctx = RunContext(job, tracker, assets, cores, folder, environments, mounts)
            record = _dispatch(ctx)
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP
            records = exc.records if isinstance(exc, Interrupted) else []
            record = records[0] if records else RunRecord(job.path.stem, job.kind)
            record.status = KILLED
            record.error = "interrupted (a stop signal): every child process was stopped"
        finally:
            with signals_held():  # the copies go even if a second Ctrl-C comes
                mounts.remove()
    record.seconds = time.monotonic() - started
    record.folder = str(folder)
    record.experiment = experiment
    return record


def _dispatch(ctx: RunContext) -> RunRecord:
    spec = ctx.job.spec
    if ctx.job.kind == "command":
        return run_command_job(ctx)
    if ctx.job.kind == "pipeline":
        return run_pipeline(ctx)
    trial = spec.get("trial") or {}

    def trial_task(params: dict[str, Any]) -> Task:
        values = {
            f"inputs.{name}": ctx.resolve_input(value, f"{ctx.job.path.name}: inputs.{name}")
            for name, value in (spec.get("inputs") or {}).items()
        }
        values.update({f"search_space.{k}": binding.literal(v) for k, v in params.items()})
        return Task(
            name="trial",
            kind="trial",
            command=str(trial["command"]),
            code=Path(str(trial["code"])) if trial.get("code") else None,
            values=values,
            outputs=output_types(spec.get("outputs")),
            env={k: str(v) for k, v in (trial.get("environment_variables") or {}).items()},
            environment=trial.get("environment"),
        )

    return run_sweep(ctx, ctx.job.path.stem, spec, trial_task, ctx.folder, None)


def _report_compute(job: binding.LoadedJob, environments: Environments, cores: int) -> None:
    spec = job.spec
    compute = spec.get("compute") or (spec.get("settings") or {}).get("default_compute")
    console.print(
        f"compute: {compute or '(none)'} -> local ({cores} cores); "
        f"environment: {environments.summary()}",
        highlight=False,
        soft_wrap=True,
    )
    for note in not_reproduced(spec):
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


def not_reproduced(spec: dict[str, Any]) -> list[str]:
    """What Azure would apply that a local run does not, one line each: said, never silent."""
    notes: list[str] = []
    for where, node in (("", spec), ("trial.", spec.get("trial") or {})):
        if not isinstance(node, dict):
            continue
        count = (node.get("resources") or {}).get("instance_count")
        if isinstance(count, int) and count > 1:
            notes.append(f"{where}resources.instance_count {count}: one node (this machine) here")
        distribution = node.get("distribution")
        if distribution:
            kind = distribution.get("type") if isinstance(distribution, dict) else distribution
            notes.append(
                f"{where}distribution ({kind}): one process here; RANK, WORLD_SIZE and the "
                "like are not set"
            )
    if spec.get("early_termination"):
        notes.append("early_termination: not applied here; every trial runs to its end")
    return notes
