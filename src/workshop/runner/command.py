"""Command jobs, and the one way every command runs: a job, a sweep trial or a pipeline step.

A `Task` is a command with its inputs bound; `run_tasks` gives each one a fresh folder with its
own copy of the code (`code/`, the working directory), its own scratch layer over the job's
environment (`environment/`), its outputs, an MLflow run nested under the parent, a log
(`user_logs/std_log.txt`, Azure's name), and a status read from its exit code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.errors import WorkshopError
from workshop.runner import binding
from workshop.runner.environment import Environments
from workshop.runner.folders import inside
from workshop.runner.mounts import Mounts
from workshop.runner.process import Launch, Outcome, child_environment, run_all
from workshop.runner.records import FAILED, FINISHED, KILLED, SKIPPED, Interrupted, RunRecord
from workshop.runner.snapshot import copy_code
from workshop.runner.tracking import Tracker


@dataclass
class RunContext:
    """What every part of one local run shares."""

    job: binding.LoadedJob
    tracker: Tracker
    assets: binding.Assets
    cores: int
    folder: Path  # .workshop/runs/<run-id>
    environments: Environments
    mounts: Mounts  # the run's read-only copies of its data inputs

    def resolve_input(self, value: Any, where: str) -> str:
        """One input of this run as its command sees it (binding.resolve_input, through the
        run's read-only copies)."""
        return binding.resolve_input(value, self.job.folder, self.assets, where, self.mounts)


@dataclass
class Task:
    """A command ready to run: its template, code folder and bound values."""

    name: str
    kind: str  # command | trial | step
    command: str
    code: Path | None  # None: the job has no `code:` and starts in an empty folder
    values: dict[str, str]  # "inputs.x" / "search_space.k" -> text
    outputs: dict[str, str]  # output name -> its type (output_types)
    environment: Any = None  # the YAML's value (a reference or an inline dict)
    env: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None


FILE_OUTPUT = "uri_file"
"""The output type that is one file, not a folder: `${{outputs.x}}` names the file to write.
The job YAML reference says only "For the default `uri_folder` type, the output will correspond
to a folder" (https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command#job-outputs);
that a `uri_file` one is a file is inferred from the type's name and from input mounts ("a file
will be mounted as a file"). Its name on Azure's datastore is not documented; here it is
`outputs/<name>`, in the step's folder."""


def output_types(declared: dict[str, Any] | None) -> dict[str, str]:
    """Output name -> type, `uri_folder` where the YAML gives none (Azure's default: an output
    declared with no value, `outputs: {x: }`, is a folder)."""
    return {
        name: str(spec.get("type") or "uri_folder") if isinstance(spec, dict) else "uri_folder"
        for name, spec in (declared or {}).items()
    }


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""What numpy's BLAS and scikit-learn's OpenMP loops read for their thread count."""


def thread_share(cores: int, concurrency: int, job_env: dict[str, str]) -> dict[str, str]:
    """Each of `concurrency` processes' share of `cores`, as BLAS/OpenMP thread counts.

    On Azure each trial or step has its node's cores to itself; here they share this machine, and
    a BLAS that starts a thread per core in every process spins its threads against the others'
    (measured: a PCA-50 trial beside another and a fit took 20 CPU-seconds instead of 12). Empty
    when the share is the whole machine (BLAS's own default) or when the caller's shell or the
    job's `environment_variables` (`job_env`) set any of these variables: that choice stands whole
    (OpenBLAS reads OPENBLAS_NUM_THREADS before OMP_NUM_THREADS, so setting the others would
    override it). Rounded down: 3 cores for 2 trials give each one thread (never more threads
    than cores).
    """
    share = max(1, cores // max(1, concurrency))
    chosen = any(name in os.environ or name in job_env for name in THREAD_VARIABLES)
    if share >= (os.cpu_count() or 1) or chosen:
        return {}
    return {name: str(share) for name in THREAD_VARIABLES}


def component_task(
    name: str,
    kind: str,
    component: dict[str, Any],
    given: dict[str, Any],
    resolve: Callable[[Any, str], str],
    where: str,
) -> Task:
    """Bind a component's declared inputs from `given` (else its defaults) into a Task."""
    values: dict[str, str] = {}
    declared: dict[str, Any] = component.get("inputs") or {}
    for input_name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if input_name in given and given[input_name] is not None:
            values[f"inputs.{input_name}"] = resolve(given[input_name], f"{where}.{input_name}")
        elif "default" in spec:
            values[f"inputs.{input_name}"] = binding.literal(spec["default"])
        elif not spec.get("optional"):
            raise WorkshopError(
                f"{where}: input {input_name!r} has no value and no default",
                hint=f"bind it in the YAML (inputs: {input_name}: ...) or --set it",
            )
    code = component.get("code")
    return Task(
        name=name,
        kind=kind,
        command=str(component["command"]),
        code=Path(str(code)) if code else None,
        values=values,
        outputs=output_types(component.get("outputs")),
        env={k: str(v) for k, v in (component.get("environment_variables") or {}).items()},
        environment=component.get("environment"),
    )


def job_timeout(spec: dict[str, Any]) -> float | None:
    """A command job's or step's `limits.timeout`: seconds after which Azure cancels it
    (https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.entities.commandjoblimits:
    "The maximum run duration, in seconds, after which the job will be cancelled")."""
    timeout = (spec.get("limits") or {}).get("timeout")
    return float(timeout) if timeout else None


def run_command_job(ctx: RunContext) -> RunRecord:
    """A command job: one task, one top-level MLflow run."""
    spec = ctx.job.spec
    component = dict(spec["component"])
    component["environment_variables"] = {
        **(component.get("environment_variables") or {}),
        **(spec.get("environment_variables") or {}),
    }
    given = spec.get("inputs") or {}
    task = component_task(
        ctx.job.path.stem,
        "command",
        component,
        given,
        ctx.resolve_input,
        f"{ctx.job.path.name}: inputs",
    )
    # The component azure-ai-ml builds from the job declares every output; the job's own
    # `outputs` leaves out those declared with no value (`outputs: {x: }`).
    task.outputs = {**task.outputs, **output_types(spec.get("outputs"))}
    task.timeout = job_timeout(spec)
    [record] = run_tasks(ctx, [task], [ctx.folder], parent=None)
    return record


def run_tasks(
    ctx: RunContext,
    tasks: list[Task],
    folders: list[Path],
    *,
    parent: str | None,
    concurrency: int = 1,
    deadline: float | None = None,
) -> list[RunRecord]:
    """Run tasks (at most `concurrency` at once), each in its folder, each its own MLflow run."""
    records = [RunRecord(task.name, task.kind, params=dict(task.params)) for task in tasks]
    launches: list[Launch] = []
    for task, folder, record in zip(tasks, folders, records, strict=True):
        folder = inside(ctx.folder, str(folder))
        # `outputs/<name>`: the folder, or for a uri_file output the file the command writes
        outputs = {name: inside(folder, "outputs", name) for name in task.outputs}
        values = {**task.values, **{f"outputs.{n}": str(p) for n, p in outputs.items()}}
        command = binding.render(task.command, values, f"{task.name}: command")
        record.folder = str(folder)
        record.outputs = {name: str(path) for name, path in outputs.items()}
        launches.append(
            Launch(
                label=task.name,
                command=command,
                cwd=folder / "code",
                env={},  # set when it starts: its layer over the environment is made then
                log_path=folder / "user_logs" / "std_log.txt",
                timeout=task.timeout,
            )
        )

    attached: dict[int, list[str]] = {}  # launch -> the input copies made for it

    def on_start(i: int) -> dict[str, str]:
        task, launch = tasks[i], launches[i]
        copy_code(task.code, launch.cwd)
        attached[i] = ctx.mounts.attach(task.values.values(), task.name)
        layer = ctx.environments[task.environment].layer(launch.cwd.parent / "environment")
        share = thread_share(ctx.cores, concurrency, task.env)
        launch.env = child_environment({**share, **layer, **task.env})
        for name, path in records[i].outputs.items():
            folder = Path(path).parent if task.outputs[name] == FILE_OUTPUT else Path(path)
            folder.mkdir(parents=True, exist_ok=True)
        run_id = ctx.tracker.start(tasks[i].name, parent, {"workshop.kind": tasks[i].kind})
        records[i].run_id = run_id
        for key, value in tasks[i].params.items():
            # A tag, not a param: the training script logs its own params, and MLflow refuses
            # a param logged twice with different spellings (3 and 3.0).
            ctx.tracker.set_tag(run_id, f"sweep.{key}", value)
        return ctx.tracker.child_env(run_id)

    def on_exit(i: int, outcome: Outcome) -> None:
        names = {value: key for key, value in tasks[i].values.items()}
        ctx.mounts.detach(attached.pop(i, []), tasks[i].name, names)
        record = records[i]
        record.seconds = outcome.seconds
        if outcome.how != "not_started":
            record.spans.append((outcome.started, outcome.started + outcome.seconds))
        record.status = FINISHED if outcome.ok else KILLED if outcome.how == "killed" else FAILED
        if not outcome.ok:
            record.error = outcome.describe()
            if outcome.how == "timeout":  # its own limit, else the sweep's deadline came first
                limit = launches[i].timeout
                reached = limit is not None and outcome.seconds >= limit
                # (the seconds include the stop's grace period: the limit says what was hit)
                record.error = (
                    f"timed out (limit {limit:g} s)"
                    if reached
                    else f"timed out after {outcome.seconds:.0f} s"
                )
        assert record.run_id is not None
        ctx.tracker.log_artifact(record.run_id, launches[i].log_path, "user_logs")
        ctx.tracker.end(record.run_id, record.status)
        record.metrics = ctx.tracker.metrics(record.run_id)

    try:
        outcomes = run_all(
            launches, concurrency=concurrency, deadline=deadline, on_start=on_start, on_exit=on_exit
        )
    except KeyboardInterrupt:
        for record in records:
            if record.run_id is None:
                record.error = "not started (interrupted)"
        raise Interrupted(records) from None
    for record, outcome in zip(records, outcomes, strict=True):
        if outcome.how == "not_started":
            record.status = SKIPPED
            record.error = "not started (the sweep's timeout or an interrupt came first)"
    return records
