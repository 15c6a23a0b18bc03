"""Sweep jobs (and sweep steps of a pipeline): trials from the search space, the best by objective.

Grid expands every `choice`; random draws with the YAML's seed (bayesian runs as random here,
with a warning). Limits: `max_total_trials`, `max_concurrent_trials` (capped by this machine's
cores), `timeout` (no new trials after it, running ones stopped) and `trial_timeout`.
A failing trial is recorded and the others go on; the sweep fails only if no trial produced the
primary metric. The sweep's outputs are its best trial's outputs.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from workshop.errors import WorkshopError
from workshop.runner.command import RunContext, Task, run_tasks
from workshop.runner.records import FAILED, FINISHED, KILLED, Interrupted, RunRecord

MISSED_OBJECTIVE = "finished without logging"
"""How a trial that ended well but logged no objective metric is described (`workshop run`'s
fix looks for it)."""

console = Console(stderr=True)


def sample(
    search_space: dict[str, Any], algorithm: Any, max_trials: int, where: str
) -> list[dict[str, Any]]:
    """The parameter sets to try, in order, at most max_trials of them."""
    kind = algorithm.get("type") if isinstance(algorithm, dict) else str(algorithm or "random")
    if kind == "grid":
        names, choices = [], []
        for name, dist in search_space.items():
            if not isinstance(dist, dict) or dist.get("type") != "choice":
                raise WorkshopError(
                    f"{where}: search_space.{name} is not a choice; grid sampling needs choices",
                    hint="use type: choice with values, or sampling_algorithm: random",
                )
            names.append(name)
            choices.append(list(dist["values"]))
        grid = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]
        return grid[:max_trials]
    if kind not in {"random", "bayesian"}:
        raise WorkshopError(f"{where}: sampling_algorithm {kind!r} is unknown")
    if kind == "bayesian":
        console.print(f"[yellow]warning:[/] {where}: bayesian sampling runs as random locally")
    seed = algorithm.get("seed") if isinstance(algorithm, dict) else None
    rng = random.Random(seed)
    return [
        {
            name: _draw(rng, dist, f"{where}: search_space.{name}")
            for name, dist in search_space.items()
        }
        for _ in range(max_trials)
    ]


def _draw(rng: random.Random, dist: dict[str, Any], where: str) -> Any:
    kind = dist.get("type")
    q = dist.get("q")

    def quantize(x: float) -> float:
        return round(x / q) * q if q else x

    if kind == "choice":
        return rng.choice(list(dist["values"]))
    if kind == "randint":
        return rng.randrange(int(dist["upper"]))
    if kind in {"uniform", "quniform"}:
        return quantize(rng.uniform(dist["min_value"], dist["max_value"]))
    if kind in {"loguniform", "qloguniform"}:
        return quantize(math.exp(rng.uniform(dist["min_value"], dist["max_value"])))
    if kind in {"normal", "qnormal"}:
        return quantize(rng.gauss(dist["mu"], dist["sigma"]))
    if kind in {"lognormal", "qlognormal"}:
        return quantize(math.exp(rng.gauss(dist["mu"], dist["sigma"])))
    raise WorkshopError(f"{where}: distribution {kind!r} is unknown")


def run_sweep(
    ctx: RunContext,
    name: str,
    sweep: dict[str, Any],
    trial_task: Callable[[dict[str, Any]], Task],
    folder: Path,
    parent: str | None,
    kind: str = "sweep",
) -> RunRecord:
    """Run the trials of a sweep (job or pipeline step) under one parent MLflow run."""
    where = f"{ctx.job.path.name}: {name}"
    limits = sweep.get("limits") or {}
    objective = sweep.get("objective") or {}
    metric = objective.get("primary_metric")
    goal = str(objective.get("goal", "maximize")).lower()
    if not metric:
        raise WorkshopError(f"{where}: objective.primary_metric is missing")
    total = int(limits.get("max_total_trials") or 0)
    if total < 1:
        raise WorkshopError(f"{where}: limits.max_total_trials is missing or below 1")
    params_list = sample(
        sweep.get("search_space") or {}, sweep.get("sampling_algorithm"), total, where
    )
    concurrency = min(
        int(limits.get("max_concurrent_trials") or total), ctx.cores, len(params_list)
    )
    tasks = []
    for i, params in enumerate(params_list):
        task = trial_task(params)
        task.name, task.kind, task.params = f"{name}/trial-{i:02d}", "trial", params
        task.timeout = limits.get("trial_timeout")
        tasks.append(task)
    folders = [folder / "trials" / f"{i:02d}" for i in range(len(tasks))]

    record = RunRecord(name, kind, folder=str(folder))
    record.run_id = ctx.tracker.start(name, parent, {"workshop.kind": "sweep"})
    ctx.tracker.log_params(
        record.run_id,
        {"primary_metric": metric, "goal": goal, "max_concurrent_trials": concurrency},
    )
    console.print(
        f"[bold]{name}[/]: {len(tasks)} trials, {concurrency} at a time "
        f"(objective: {goal} {metric})"
    )
    timeout = limits.get("timeout")
    deadline = time.monotonic() + float(timeout) if timeout else None
    started = time.monotonic()
    try:
        record.children = run_tasks(
            ctx, tasks, folders, parent=record.run_id, concurrency=concurrency, deadline=deadline
        )
    except Interrupted as exc:
        record.children = exc.records
        record.status = KILLED
        record.seconds = time.monotonic() - started
        ctx.tracker.end(record.run_id, KILLED)
        raise Interrupted([record]) from None
    record.seconds = time.monotonic() - started

    scored = [t for t in record.children if t.ok and metric in t.metrics]
    for trial in record.children:
        if trial.ok and metric not in trial.metrics:
            trial.error = f"{MISSED_OBJECTIVE} {metric!r} (objective.primary_metric)"
    if scored:
        pick = max if goal == "maximize" else min
        best = pick(scored, key=lambda t: t.metrics[metric])
        record.best = best.name
        record.metrics = {metric: best.metrics[metric]}
        record.params = dict(best.params)
        record.outputs = dict(best.outputs)
        record.status = FINISHED
        ctx.tracker.log_metrics(record.run_id, record.metrics)
        ctx.tracker.set_tag(record.run_id, "best_trial_run_id", best.run_id or "")
    else:
        record.status = FAILED
        record.error = f"no trial finished with the primary metric {metric!r}"
    ctx.tracker.end(record.run_id, record.status)
    return record
