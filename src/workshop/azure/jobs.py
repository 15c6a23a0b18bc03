"""Submit a job YAML to the workspace, wait for it, time its phases and read its metrics.

Phase times come from polling `MLClient.jobs.get(name).status` (every `poll_seconds`) and charging
the time between two polls to the status seen at the first: Azure ML reports no status history
through the SDK. NotStarted/Starting/Provisioning/Queued count as *queued* (waiting for the job to
be scheduled or for cluster nodes), Preparing as *image* (building or pulling the environment
image), Running/Finalizing as *running*. The resolution is the polling interval.

Metrics come from the workspace's MLflow tracking server (an Azure ML job's name is its MLflow run
id). azureml-mlflow is not needed: the `azureml://` tracking URI is the HTTPS REST endpoint, and
an ARM bearer token from the same credential authenticates it. The token goes to MLflow's REST
client for each request (AzureTracking), never into `os.environ` (MLflow's MLFLOW_TRACKING_TOKEN),
where every child process this one starts would inherit it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from workshop.errors import WorkshopError
from workshop_common.errors import first_line

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Job
    from azure.core.credentials import TokenCredential

    from workshop.azure.session import Session

PHASE_OF_STATUS = {
    "NotStarted": "queued",
    "Starting": "queued",
    "Provisioning": "queued",
    "Queued": "queued",
    "Scheduled": "queued",
    "Preparing": "image",
    "Running": "running",
    "Finalizing": "running",
    "CancelRequested": "running",
}
PHASES = ("queued", "image", "running")
TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding", "Paused"})


def load_job_file(path: Path) -> Job:
    """`load_job` with errors that name the file and point at `workshop validate`."""
    from azure.ai.ml import load_job

    from workshop.jobspec.kinds import refuse_non_job
    from workshop.sdk import quiet_azure_ml

    quiet_azure_ml()

    if not path.is_file():
        raise WorkshopError(f"{path}: no such job file", hint="see the YAMLs under jobs/")
    refuse_non_job(path, "`workshop submit` submits command, sweep and pipeline jobs")
    try:
        return load_job(path)
    except Exception as exc:  # the SDK raises several unrelated types for a bad YAML
        first = first_line(exc)
        raise WorkshopError(
            f"{path}: not a valid Azure ML job ({first})",
            hint=f"run `workshop validate {path}` for every problem with its key and fix",
        ) from exc


def create(ml: MLClient, job: Job) -> Job:
    """Create the job in the workspace; returns the created job (with name and Studio URL)."""
    return ml.jobs.create_or_update(job)


@dataclass
class PhaseClock:
    """Seconds spent in each phase, from status observations at known times."""

    seconds: dict[str, float] = field(default_factory=dict)
    _last: tuple[str, float] | None = None

    def observe(self, status: str, now: float) -> None:
        if self._last is not None:
            previous, since = self._last
            phase = PHASE_OF_STATUS.get(previous)
            if phase is not None:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + (now - since)
        self._last = (status, now)

    def total(self) -> float:
        return sum(self.seconds.values())


def wait(
    ml: MLClient,
    name: str,
    *,
    poll_seconds: float = 10.0,
    timeout_seconds: float = 3 * 3600,
    on_status: Callable[[str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Job, PhaseClock]:
    """Poll the job until it ends; report each status change through `on_status`."""
    phases = PhaseClock()
    start = clock()
    seen: str | None = None
    while True:
        job = ml.jobs.get(name)
        status = str(job.status or "Unknown")
        now = clock()
        phases.observe(status, now)
        if status != seen:
            seen = status
            if on_status is not None:
                on_status(status, now - start)
        if status in TERMINAL:
            return job, phases
        if now - start > timeout_seconds:
            raise WorkshopError(
                f"job {name} still {status} after {timeout_seconds / 60:.0f} minutes",
                hint=f"look at it in Studio, or cancel it with `az ml job cancel -n {name}`",
            )
        sleep(poll_seconds)


def stream(ml: MLClient, name: str) -> Job:
    """Stream the job's logs to stdout until it ends; return its final state."""
    from azure.ai.ml.exceptions import JobException

    # A failed job raises; its status below says so, and the logs were already printed.
    with contextlib.suppress(JobException):
        ml.jobs.stream(name)
    return ml.jobs.get(name)


# ---------------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class RunMetrics:
    """One MLflow run's id, parameters and latest metric values."""

    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]


class MetricsReader(Protocol):
    def run(self, run_id: str) -> RunMetrics: ...

    def children(self, run_id: str) -> list[RunMetrics]: ...


@dataclass(frozen=True)
class AzureTracking:
    """A workspace's MLflow REST endpoint and the credential its bearer tokens come from.

    MLflow's REST store asks `host_creds` before every request, so each request carries a token
    fetched then (azure-identity caches it until shortly before it expires: a long sweep never
    reads with a stale one), and the token lives only in that request, not in the environment.
    """

    uri: str
    credential: TokenCredential

    def host_creds(self) -> Any:
        from mlflow.utils.rest_utils import MlflowHostCreds

        from workshop_common.arm import ARM_SCOPE

        return MlflowHostCreds(host=self.uri, token=self.credential.get_token(ARM_SCOPE).token)


Tracking = str | AzureTracking
"""Where runs are read: a tracking URI MLflow resolves itself (local stores), or a workspace."""


def mlflow_store(tracking: Tracking) -> Any:
    """Something with MLflow's get_run/search_runs/get_metric_history for `tracking`."""
    if isinstance(tracking, AzureTracking):
        from mlflow.store.tracking.rest_store import RestStore

        return RestStore(tracking.host_creds)
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking)


class MlflowMetrics:
    """Reads runs from an MLflow tracking server (the workspace's, or any URI in tests)."""

    def __init__(self, tracking: Tracking) -> None:
        self._client = mlflow_store(tracking)

    def run(self, run_id: str) -> RunMetrics:
        got = self._client.get_run(run_id)
        return RunMetrics(got.info.run_id, dict(got.data.params), dict(got.data.metrics))

    def children(self, run_id: str) -> list[RunMetrics]:
        from mlflow.entities import ViewType

        parent = self._client.get_run(run_id)
        runs = self._client.search_runs(
            experiment_ids=[parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
            run_view_type=ViewType.ACTIVE_ONLY,
            max_results=1000,
        )
        return [RunMetrics(r.info.run_id, dict(r.data.params), dict(r.data.metrics)) for r in runs]


def workspace_tracking(session: Session) -> AzureTracking:
    """The workspace's MLflow endpoint as HTTPS, with the session's credential for its tokens."""
    with_session = session.ml.workspaces.get(session.workspace.name)
    uri = getattr(with_session, "mlflow_tracking_uri", None)
    if not uri:
        raise WorkshopError(
            f"workspace {session.workspace.name} reports no MLflow tracking URI",
            hint="open the job in Studio to see its metrics",
        )
    return AzureTracking("https://" + uri.removeprefix("azureml://"), session.credential)


def metrics_reader(session: Session) -> MetricsReader:
    return MlflowMetrics(workspace_tracking(session))


@dataclass(frozen=True)
class JobReport:
    """What a finished job produced: its metrics, and for a sweep the best trial."""

    status: str
    metrics: dict[str, float]
    best_trial: RunMetrics | None = None
    primary_metric: str | None = None
    trials: int = 0


def report(job: Job, reader: MetricsReader) -> JobReport:
    """The job's metrics; for a sweep, the best child run by the sweep's own objective."""
    status = str(job.status)
    name = str(job.name)
    if job.type != "sweep":
        return JobReport(status, reader.run(name).metrics)
    objective: Any = getattr(job, "objective", None)
    metric = str(getattr(objective, "primary_metric", None) or "accuracy")
    maximize = str(getattr(objective, "goal", "maximize")).lower() != "minimize"
    trials = [t for t in reader.children(name) if metric in t.metrics]
    best_id = (job.properties or {}).get("best_child_run_id")
    best = next((t for t in trials if t.run_id == best_id), None)
    if best is None and trials:
        pick = max if maximize else min
        best = pick(trials, key=lambda t: t.metrics[metric])
    return JobReport(status, reader.run(name).metrics, best, metric, len(trials))
