"""`workshop run jobs/train-*.yml` end to end, timed as a trainee runs it, in a warm home.

Each job runs as its own process (`python -m workshop run JOB --json`), exactly as typed, with the
benchmark's MNIST folder as the only mirror and a throw-away WORKSHOP_HOME shared by every run of
one benchmark (so `make demo` afterwards is a run "after the first run"); `azureml:mnist:1` binds
to the benchmark's data folder itself. The one-time set-up (the MLflow store's tables, the job's
environment) happens before the clock starts and is reported on its own rows. The runner's
overhead is end to end minus the training script's own compute (the `search_seconds` /
`fit_seconds` metric the script logs): everything that is not the job's work. The runner's own
time is end to end minus the wall time of the job's process, which the runner reports
(`process_seconds` in the run's JSON): what the runner adds to what the script costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOG = Path(__file__).with_name("runs.log")  # __main__ puts it beside --out
JOBS = Path(__file__).resolve().parent.parent / "jobs"
EXPERIMENT = "amls-learn-experiment"  # the jobs' experiment_name


def bench_env(data_dir: Path, home: Path) -> dict[str, str]:
    """The environment every timed process gets: only the benchmark's data, a home of its own."""
    return {
        **os.environ,
        "WORKSHOP_MNIST_MIRROR": str(data_dir.resolve()),
        "WORKSHOP_HOME": str(home),
        "WORKSHOP_DATA_DIR": str(data_dir.resolve()),  # azureml:mnist:1 -> these files
    }


def prepare_home(home: Path, env: dict[str, str]) -> dict[str, float | None]:
    """The one-time costs, timed: the MLflow store's tables, the jobs' environment."""
    started = time.perf_counter()
    _run([sys.executable, "-c", _CREATE_STORE, str(home), EXPERIMENT], env)
    store_seconds = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    _run([sys.executable, "-c", _FIRST_LOOK, *(str(JOBS / job) for job in TIMED_JOBS)], env)
    return {
        "mlflow_store_seconds": store_seconds,
        "first_load_seconds": round(time.perf_counter() - started, 2),
        "environment_build_seconds": environment_build(JOBS / "train-knn.yml", env),
    }


TIMED_JOBS = ("train-knn.yml", "train-logreg.yml")

# The runner reads a job YAML through azure-ai-ml once per content and lists a code folder's
# upload once per change (workshop.runner.loadcache, .snapshot; both under the home): a trainee
# pays that on the first `workshop run` of a job only, so it is timed here, on its own row.
_FIRST_LOOK = (
    "import sys; from pathlib import Path; from workshop.runner.binding import load; "
    "from workshop.runner.snapshot import snapshot_files\n"
    "for yml in sys.argv[1:]:\n"
    "    job = load(Path(yml), {})\n"
    "    code = (job.spec.get('component') or job.spec).get('code') or job.spec.get('code')\n"
    "    snapshot_files(Path(code)) if code else None\n"
)


# A fresh store runs MLflow's schema migrations once (seconds); a trainee pays that on the first
# `workshop run` only, so the timed runs start with it done.
_CREATE_STORE = (
    "import sys; from pathlib import Path; from workshop.runner.tracking import Tracker; "
    "Tracker(sys.argv[2], Path(sys.argv[1]))"
)


def environment_build(job: Path, env: dict[str, str]) -> float | None:
    """Seconds to build `job`'s environment in a fresh home (the one-time cost of a new one).

    Times `workshop.runner.environment.prepare` in a child process, so the timed runs that follow
    start with a warm environment. None (reported as "n/a") if the runner has no such step.
    """
    from workshop.runner import environment

    if not callable(getattr(environment, "prepare", None)):
        return None
    code = (
        "import sys; from pathlib import Path; "
        "from workshop.runner.environment import prepare; prepare(Path(sys.argv[1]))"
    )
    started = time.perf_counter()
    _run([sys.executable, "-c", code, str(job)], env)
    return round(time.perf_counter() - started, 2)


def run_job(job: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """`workshop run jobs/<job> --json`: wall seconds and the run's JSON document."""
    started = time.perf_counter()
    out = _run([sys.executable, "-m", "workshop", "run", str(JOBS / job), "--json"], env)
    seconds = time.perf_counter() - started
    document = json.loads(out)["result"]  # stdout is the one --json document (logs: stderr)
    if document.get("status") != "FINISHED":
        raise RuntimeError(f"`workshop run jobs/{job}` ended {document.get('status')}; see {LOG}")
    return seconds, document


def runner_seconds(seconds: float, document: dict[str, Any]) -> float:
    """End to end minus the job's own process(es): the runner's start-up, set-up and wrap-up."""
    return round(seconds - float(document["process_seconds"]), 2)


def saved_model_predictions(document: dict[str, Any], x_test: Any) -> Any:
    """What the run's saved model predicts for the test images, sent 0-1 as the endpoint sends."""
    from mlflow import sklearn as mlflow_sklearn

    model: Any = mlflow_sklearn.load_model(document["outputs"]["model"])
    return model.predict(x_test / 255.0)


def model_megabytes(document: dict[str, Any]) -> float:
    folder = Path(document["outputs"]["model"])
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def _run(command: list[str], env: dict[str, str]) -> str:
    with LOG.open("a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        log.write(done.stdout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:4])} failed (exit {done.returncode}); see {LOG}")
    return done.stdout
