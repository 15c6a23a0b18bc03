"""`workshop demo` (`make demo`): the whole hands-on on this machine, through the job YAMLs.

Fetch MNIST, run jobs/train-knn.yml, then jobs/sweep-knn.yml with jobs/train-logreg.yml beside it,
with the local runner, serve the most accurate model with the inference server, score a few test
digits, and print a summary. `run_demo` returns per-phase timings so `make bench` can report them.

Time budget (issue 11): 60 s on 2 cores with full MNIST after the first run, and every core busy
without more threads than cores (a BLAS thread waiting for a core spins, and CPU time grows by
half). So: train-knn first, alone, its search on every core; then the sweep with train-logreg
beside it as a `workshop run` process of its own (its fit runs on one thread: its result depends on
the thread count, mnist_trainer.logreg), its log in a file and its report printed when it ends. The
sweep's trials, two at a time, get one BLAS thread each (the runner's thread share,
workshop.runner.command.thread_share). Every trial runs its own search plus a few seconds of Python
and MLflow start-up, so the demo sweeps k in {1, 3, 5} on PCA-50 only (3 trials): train-knn has
already scored raw pixels for every k in one pass, and a raw trial would repeat that search.
`--full-sweep` (or `workshop run jobs/sweep-knn.yml`) runs the YAML's whole 7 x 2 grid.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()

DEMO_SWEEP = {
    "search_space.k.values": [1, 3, 5],
    "search_space.representation.values": ["pca50"],
    "limits.max_total_trials": 3,
    "limits.max_concurrent_trials": 2,
}
FIRST_JOB = "train-knn.yml"  # alone: its search takes every core
SWEEP_JOB = "sweep-knn.yml"
BACKGROUND_JOB = "train-logreg.yml"  # one core for its whole fit: runs beside the sweep


@dataclass
class DemoResult:
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    accuracy: dict[str, float] = field(default_factory=dict)  # job -> test accuracy
    best_job: str | None = None
    sample_accuracy: float | None = None


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)


def demo(
    sample: Annotated[
        int, typer.Option("--sample", min=1, help="Test digits to score at the end.")
    ] = 10,
    full_sweep: Annotated[
        bool, typer.Option("--full-sweep", help="Sweep the YAML's whole 7 x 2 grid (slower).")
    ] = False,
) -> None:
    """Run the hands-on end to end here: data, three jobs, a local endpoint, a few predictions."""
    result = run_demo(sample=sample, full_sweep=full_sweep)
    if result.best_job is None:
        raise typer.Exit(1)


def run_demo(*, sample: int = 10, full_sweep: bool = False) -> DemoResult:
    """The demo's phases; returns accuracies and per-phase timings (also in .workshop/)."""
    from workshop.mnist.fetch import fetch_mnist
    from workshop.paths import JOBS_DIR, data_cache, runs_dir
    from workshop.runner import RunOptions, RunRecord, run_job
    from workshop.runner.report import print_report
    from workshop.runner.tracking import ui_command
    from workshop.stopping import stop_signals_interrupt

    result = DemoResult()
    started = time.monotonic()

    def phase(name: str, t0: float) -> None:
        result.timings[name] = round(time.monotonic() - t0, 2)
        console.rule(f"[bold]{name}[/] done in {result.timings[name]:.1f} s")

    console.rule("[bold]1. data[/]: workshop data fetch")
    t0 = time.monotonic()
    fetch_mnist(data_cache())
    phase("fetch", t0)

    records: dict[str, RunRecord] = {}

    def foreground(number: int, name: str, overrides: dict[str, Any]) -> None:
        shown = " ".join(f"--set {k}={json.dumps(v)}" for k, v in overrides.items())
        console.rule(f"[bold]{number}. workshop run jobs/{name}[/] {shown}")
        t0 = time.monotonic()
        record = run_job(JOBS_DIR / name, RunOptions(overrides=overrides))
        print_report(record, console)
        phase(Path(name).stem, t0)
        _check(record, name)
        records[Path(name).stem] = record

    foreground(2, FIRST_JOB, {})

    background = BACKGROUND_JOB
    console.rule(f"[bold]3. workshop run jobs/{background}[/] (beside the sweep)")
    log = runs_dir() / f"demo-{Path(background).stem}.log"
    console.print(
        f"its fit takes one core for ~15 s; log: {log}, report when it ends",
        highlight=False,
        soft_wrap=True,
    )
    t_background = time.monotonic()
    # SIGTERM/SIGHUP as Ctrl-C for the whole phase, so leaving it stops the background job too.
    with stop_signals_interrupt(), _job_process(JOBS_DIR / background, log) as finished:
        foreground(4, SWEEP_JOB, {} if full_sweep else DEMO_SWEEP)
        console.rule(f"[bold]3. workshop run jobs/{background}[/]: waiting for it to end")
        record = finished()
    print_report(record, console)
    # Its own time, from its record: beside the sweep, the wall clock would repeat the sweep's.
    result.timings[Path(background).stem] = round(record.seconds, 2)
    console.rule(
        f"[bold]{Path(background).stem}[/] done: {record.seconds:.1f} s beside the sweep "
        f"({time.monotonic() - t_background:.1f} s until both ended)"
    )
    _check(record, background)
    records = {Path(background).stem: record, **records}
    for stem, done in records.items():
        result.accuracy[stem] = done.metrics.get("accuracy", float("nan"))

    best_name = max(result.accuracy, key=lambda n: result.accuracy[n])
    result.best_job = best_name
    model_dir = Path(records[best_name].outputs["model"])
    console.rule(f"[bold]5. workshop serve --model[/] {model_dir} (the best: {best_name})")
    t0 = time.monotonic()
    result.sample_accuracy = _serve_and_score(model_dir, sample)
    phase("serve+score", t0)
    result.timings["total"] = round(time.monotonic() - started, 2)

    _summary(records, result, ui_command())
    timings_file = runs_dir() / "demo-timings.json"
    timings_file.write_text(json.dumps(result.__dict__, indent=2) + "\n")
    console.print(f"timings: {timings_file}", highlight=False, soft_wrap=True)
    return result


def _check(record: Any, name: str) -> None:
    """Stop the demo at a job that did not finish: an interrupt, or an error naming its logs."""
    from workshop.errors import WorkshopError
    from workshop.runner.records import KILLED

    if record.status == KILLED:
        raise KeyboardInterrupt
    if not record.ok:
        raise WorkshopError(
            f"jobs/{name} ended {record.status}: {record.error or 'see the output above'}",
            hint=f"read the logs under {record.folder}",
        )


@contextlib.contextmanager
def _job_process(job: Path, log: Path) -> Iterator[Callable[[], Any]]:
    """`workshop run JOB --json` as a process of its own, its log into `log`; yields a function
    that waits for it and returns its RunRecord.

    The process prints its one JSON document on stdout (kept beside the log, `log` + `.json`) and
    everything else on stderr. Leaving the block early (an error, Ctrl-C, SIGTERM: the runner
    turns stop signals into KeyboardInterrupt) sends the process SIGTERM, which `workshop run`
    answers by stopping every process it started and marking its run killed; then waits for it.
    """
    from workshop.stopping import signals_held

    document = log.with_name(log.name + ".json")
    with log.open("w") as out, document.open("w") as stdout:
        # Unbuffered, so the log can be followed while it runs.
        popen = subprocess.Popen(
            [sys.executable, "-m", "workshop", "run", str(job), "--json"],
            stdout=stdout,
            stderr=out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        done = False

        def finished() -> Any:
            nonlocal done
            popen.wait()
            done = True
            return _record_from_json(document.read_text(errors="replace"), job, log)

        try:
            yield finished
        finally:
            if not done:
                with signals_held():  # a second Ctrl-C cannot cut this short
                    popen.terminate()
                    try:
                        popen.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        popen.kill()
                        popen.wait()


def _record_from_json(output: str, job: Path, log: Path) -> Any:
    """The RunRecord a `workshop run --json` document describes (its `result` is
    RunRecord.to_dict; `error` says why when there is no result)."""
    from workshop.errors import WorkshopError
    from workshop.runner.records import FAILED, RunRecord

    try:
        envelope = json.loads(output)
    except ValueError:
        envelope = None
    data = envelope.get("result") if isinstance(envelope, dict) else None
    if not isinstance(data, dict) or "status" not in data:
        error = (envelope or {}).get("error") if isinstance(envelope, dict) else None
        reason = f": {error.get('message')}" if isinstance(error, dict) else ""
        raise WorkshopError(
            f"`workshop run jobs/{job.name}` ended without its JSON report{reason}",
            hint=f"read its log: {log}",
        )
    return RunRecord(
        name=data.get("name", job.stem),
        kind=data.get("type", "command"),
        status=data.get("status", FAILED),
        run_id=data.get("mlflow_run_id"),
        folder=data.get("folder"),
        metrics=data.get("metrics") or {},
        params=data.get("params") or {},
        outputs=data.get("outputs") or {},
        error=data.get("error"),
        seconds=float(data.get("seconds") or 0.0),
        experiment=data.get("experiment"),
    )


def _serve_and_score(model_dir: Path, sample: int) -> float:
    from workshop import local_endpoint
    from workshop.commands.serve import score_sample
    from workshop.paths import runs_dir

    log = runs_dir() / "demo-server.log"
    with local_endpoint.serving(model_dir, local_endpoint.free_port(), log=log) as (url, _):
        console.print(f"serving on {url} (log: {log})", highlight=False, soft_wrap=True)
        return score_sample(url, sample, seed=int(time.time()) % 1000)


def _summary(records: dict[str, Any], result: DemoResult, ui: str) -> None:
    from workshop.runner.tracking import artifact_uri

    table = Table(title="the hands-on, run locally", title_justify="left")
    for column in ("job", "accuracy", "best k / params", "seconds"):
        table.add_column(column)
    places: list[str] = []
    for name, record in records.items():
        best = record.best_child()
        detail = (
            ", ".join(f"{k}={v}" for k, v in record.params.items())
            if best
            else (f"k={int(record.metrics['best_k'])}" if "best_k" in record.metrics else "")
        )
        run_id = best.run_id if best else record.run_id
        artifacts = artifact_uri(run_id) if run_id else ""
        marker = " (served)" if name == result.best_job else ""
        table.add_row(
            name + marker,
            f"{result.accuracy[name]:.4f}",
            detail,
            f"{result.timings.get(name, 0):.0f}",
        )
        places.append(f"{name}: model {_relative_to_cwd(record.outputs.get('model', ''))}")
        places.append(
            f"{name}: plots and logs {_relative_to_cwd(artifacts.removeprefix('file://'))}"
        )
    console.print(table)
    for line in places:
        console.print(line, highlight=False, soft_wrap=True)
    if result.sample_accuracy is not None:
        console.print(f"local endpoint: {result.sample_accuracy:.0%} of the sampled test digits")
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in result.timings.items())
    console.print(f"phases: {phases}", highlight=False)
    console.print(f"every run in the MLflow UI: {ui}", highlight=False, soft_wrap=True)


def _relative_to_cwd(path: str) -> str:
    """A path relative to the current folder when it is under it (shorter to read)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path
