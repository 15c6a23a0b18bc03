"""Running a training script in-process against a throwaway MLflow store, for the training tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_EMPTY_STORE: list[Path] = []  # the migrated empty store, made once per test process


def _empty_store() -> Path:
    """An empty sqlite store with MLflow's tables: its schema migrations take 10-20 s per new
    store, so they run once per process and every test copies the result (a fraction of a second).
    Removed when the process ends."""
    if not _EMPTY_STORE:
        import mlflow

        folder = Path(tempfile.mkdtemp(prefix="mlflow-empty-store-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        mlflow.MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
        _EMPTY_STORE.append(folder / "mlflow.db")
    return _EMPTY_STORE[0]


@contextmanager
def mlflow_store(path: Path) -> Iterator[str]:
    """Point MLflow at a fresh sqlite store under `path` for the duration; yields its URI.

    A sqlite store puts artifacts in ./mlruns (the working directory, i.e. the checkout) unless
    the experiment says otherwise, so the runs go to an experiment whose artifacts live in `path`.
    """
    import mlflow

    path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_empty_store(), path / "mlflow.db")
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
