"""Running a training script in-process against a throwaway MLflow store, for the training tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any


@contextmanager
def mlflow_store(path: Path) -> Iterator[str]:
    """Point MLflow at a fresh sqlite store under `path` for the duration; yields its URI.

    A sqlite store puts artifacts in ./mlruns (the working directory, i.e. the checkout) unless
    the experiment says otherwise, so the runs go to an experiment whose artifacts live in `path`.
    """
    import mlflow

    (path / "mlflow.db").write_bytes(_fresh_store())
    uri = f"sqlite:///{path / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("tests", artifact_location=(path / "mlruns").as_uri())
    # Through the environment, not mlflow.set_experiment: that one stays active in this process
    # after the store is gone, and the next test's runs then look for this experiment id.
    previous_experiment = os.environ.get("MLFLOW_EXPERIMENT_ID")
    os.environ["MLFLOW_EXPERIMENT_ID"] = experiment
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)
        if previous_experiment is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = previous_experiment


@cache
def _fresh_store() -> bytes:
    """The bytes of a new, empty sqlite MLflow store, made once per session.

    Creating one runs MLflow's schema migrations: a second of CPU and, with sqlite's fsync per
    step, several seconds of wall time on a busy disk. Each test still gets a store of its own,
    with the tables and rows MLflow makes for a new one; only the migrations run once.
    """
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory(prefix="mlflow-store-") as folder:
        db = Path(folder) / "mlflow.db"
        MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()  # creates the tables
        return db.read_bytes()


def run_and_fetch(main: Callable[[list[str]], None], argv: list[str]):
    """Run a script's main(argv) and return the MLflow run it logged (the latest one)."""
    import mlflow

    main(argv)
    run = mlflow.last_active_run()
    assert run is not None, "the script logged no MLflow run"
    return run


def load_model(model_dir: Path) -> Any:
    """The sklearn model a script saved, loaded as the scoring script loads it."""
    from mlflow import sklearn as mlflow_sklearn

    return mlflow_sklearn.load_model(str(model_dir))
