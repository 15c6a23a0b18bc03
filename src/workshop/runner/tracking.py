"""The local MLflow store: one SQLite database and an artifact folder under `.workshop/`.

SQLite (not MLflow's file store, which MLflow 3 refuses by default) because it also holds the
model registry the pipeline's register step writes to. A child process joins its run through
MLFLOW_TRACKING_URI and MLFLOW_RUN_ID, exactly as inside an Azure ML job, so the training code's
plain `mlflow.start_run()` logs to the run the runner created for it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from workshop.paths import runs_dir

PARENT_TAG = "mlflow.parentRunId"


def store_uri(home: Path | None = None) -> str:
    return f"sqlite:///{((home or runs_dir()) / 'mlflow.db').resolve()}"


def artifact_root(home: Path | None = None) -> str:
    return ((home or runs_dir()) / "mlartifacts").resolve().as_uri()


def ui_command(home: Path | None = None) -> str:
    """The command that shows every local run in the MLflow UI."""
    return (
        f"mlflow ui --backend-store-uri {store_uri(home)} "
        f"--default-artifact-root {artifact_root(home)}"
    )


class Tracker:
    """Creates, ends and reads the runs of one experiment in the local store."""

    def __init__(self, experiment: str, home: Path | None = None) -> None:
        from mlflow.tracking import MlflowClient

        home = home or runs_dir()
        home.mkdir(parents=True, exist_ok=True)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        self.uri = store_uri(home)
        self.home = home
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = (
            found.experiment_id
            if found
            else self.client.create_experiment(experiment, artifact_location=artifact_root(home))
        )
        self.experiment = experiment

    def start(
        self, name: str, parent: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        all_tags = dict(tags or {})
        if parent:
            all_tags[PARENT_TAG] = parent
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        return run.info.run_id

    def child_env(self, run_id: str) -> dict[str, str]:
        """What a child process needs to log into `run_id`."""
        return {
            "MLFLOW_TRACKING_URI": self.uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": self.experiment_id,
        }

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        for key, value in params.items():
            self.client.log_param(run_id, key, value)

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        stamp = int(time.time() * 1000)
        for key, value in metrics.items():
            self.client.log_metric(run_id, key, value, timestamp=stamp)

    def log_artifact(self, run_id: str, path: Path, folder: str) -> None:
        if path.exists():
            self.client.log_artifact(run_id, str(path), folder)

    def metrics(self, run_id: str) -> dict[str, float]:
        return dict(self.client.get_run(run_id).data.metrics)

    def end(self, run_id: str, status: str) -> None:
        """Set the final status (FINISHED, FAILED, KILLED), whatever the child left."""
        self.client.set_terminated(run_id, status=status)
