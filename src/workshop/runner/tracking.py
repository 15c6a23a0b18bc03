"""The local MLflow store: one SQLite database and an artifact folder under `.workshop/`.

SQLite (not MLflow's file store, which MLflow 3 refuses by default) because it also holds the
model registry the pipeline's register step writes to. A child process joins its run through
MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID, exactly as inside an Azure ML job,
so the training code's plain `mlflow.start_run()` logs to the run the runner created for it.

The runner itself does not import MLflow when it can help it: importing it and setting up its
SQLAlchemy store costs seconds per run, and the runner only creates runs, tags them, ends them
and reads their metrics. Once MLflow has created (or upgraded) the store, `STORE_MARKER` records
MLflow's version and the schema revision MLflow left in the database. While both still hold, the
runner writes with Python's sqlite3 exactly the rows MLflow's `SqlAlchemyStore` writes for those
calls (`create_run`, `set_tag`, `log_param`, `log_metric`, `set_terminated`, `get_run`'s metrics;
tests/test_runner_tracking.py reads them back with MlflowClient and compares). Any other state (no
database, another revision or MLflow version, an experiment not active, any SQLite error) is left
to MlflowClient itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from workshop.errors import WorkshopError
from workshop.paths import runs_dir

PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
STORE_MARKER = "mlflow-store.json"
"""Beside mlflow.db: {"mlflow": version, "revision": alembic revision} MLflow left there."""
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
"""The MLflow 3 UI opens an experiment by this tag: `custom_model_development` is the classic runs
view, `genai_development` the traces view (mlflow/assistant/skills/mlflow-onboarding/SKILL.md in
mlflow 3.15: "`custom_model_development` -> Traditional ML use case"; the same values are the UI's
ExperimentKind enum in mlflow/server/js/build). Without it the UI may infer GenAI."""
DEFAULT_WORKSPACE = "default"
"""MLflow 3's experiments carry a workspace; without workspaces enabled it is `default`."""
ARTIFACTS_FOLDER = "artifacts"  # SqlAlchemyStore.ARTIFACTS_FOLDER_NAME
TEMP_ARTIFACT_PREFIX = ".artifact.uploading."  # LocalArtifactRepository's staging prefix
MAX_FLOAT = 1.7976931348623157e308  # SqlAlchemyStore.sanitize_metric_value: SQL has no inf


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


def now_ms() -> int:
    return int(time.time() * 1000)  # mlflow.utils.time.get_current_time_millis


class Tracker:
    """Creates, ends and reads the runs of one experiment in the local store."""

    def __init__(self, experiment: str, home: Path | None = None) -> None:
        home = (home or runs_dir()).resolve()
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.uri = store_uri(home)
        self.experiment = experiment
        self._client: Any = None
        self.db: sqlite3.Connection | None = _open_if_current(home)
        found = self._fast(lambda db: _active_experiment(db, experiment)) if self.db else None
        if found is None:
            self.experiment_id = self._experiment_with_mlflow(experiment)
        else:
            self.experiment_id = found
            self._fast(lambda db: _mark_training(db, found))
            if self.db is None:  # the store refused a write: MLflow does it
                self._experiment_with_mlflow(experiment)

    @property
    def fast(self) -> bool:
        """True while runs are written with sqlite3 (see the module docstring)."""
        return self.db is not None

    @property
    def client(self) -> Any:
        """MlflowClient on the same store (imported on first use)."""
        if self._client is None:
            from mlflow.tracking import MlflowClient

            _quiet_store_set_up()
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def _experiment_with_mlflow(self, experiment: str) -> str:
        _create_store(self.home)
        try:
            found = self.client.get_experiment_by_name(experiment)
        except Exception as exc:  # SQLAlchemy's and MLflow's errors: the store, not the job
            raise _unusable_store(self.home, exc) from exc
        client = self.client
        if found is None:
            experiment_id = client.create_experiment(
                experiment,
                artifact_location=artifact_root(self.home),
                tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING},
            )
        else:
            experiment_id = found.experiment_id
            if EXPERIMENT_KIND_TAG not in found.tags:
                client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
        _write_marker(self.home)
        return str(experiment_id)

    def _fast(self, write: Any) -> Any:
        """`write(db)` in one transaction; on any SQLite error, MLflow takes over (None)."""
        if self.db is None:
            return None
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: no upgrade from a read lock
            try:
                result = write(db)
            except BaseException:
                db.rollback()
                raise
            db.commit()
            return result
        except sqlite3.Error:
            db.close()
            self.db = None
            return None

    def start(
        self, name: str, parent: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        all_tags = dict(tags or {})
        if parent:
            all_tags[PARENT_TAG] = parent
        run_id = self._fast(lambda db: _create_run(db, self.experiment_id, name, all_tags))
        if run_id is None:
            run_id = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
            run_id = run_id.info.run_id
        return run_id

    def child_env(self, run_id: str) -> dict[str, str]:
        """What a child process needs to log into `run_id`."""
        return {
            "MLFLOW_TRACKING_URI": self.uri,
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_EXPERIMENT_ID": self.experiment_id,
        }

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        done = self._fast(lambda db: _set_tags(db, run_id, {key: str(value)}))
        if done is None:
            self.client.set_tag(run_id, key, value)

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        done = self._fast(lambda db: _log_params(db, run_id, params))
        if done is None:
            for key, value in params.items():
                self.client.log_param(run_id, key, value)

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        stamp = now_ms()
        done = self._fast(lambda db: _log_metrics(db, run_id, metrics, stamp))
        if done is None:
            for key, value in metrics.items():
                self.client.log_metric(run_id, key, value, timestamp=stamp)

    def log_artifact(self, run_id: str, path: Path, folder: str) -> None:
        if not path.exists():
            return
        uri = self._fast(lambda db: _artifact_uri(db, run_id))
        if uri is None or not uri.startswith("file:"):
            self.client.log_artifact(run_id, str(path), folder)
            return
        _copy_artifact(path, Path(unquote(urlparse(uri).path)) / folder)

    def metrics(self, run_id: str) -> dict[str, float]:
        found = self._fast(lambda db: _latest_metrics(db, run_id))
        if found is None:
            found = dict(self.client.get_run(run_id).data.metrics)
        return found

    def end(self, run_id: str, status: str) -> None:
        """Set the final status (FINISHED, FAILED, KILLED), whatever the child left."""
        done = self._fast(lambda db: _terminate(db, run_id, status, now_ms()))
        if done is None:
            self.client.set_terminated(run_id, status=status)


def artifact_uri(run_id: str, home: Path | None = None) -> str:
    """Where a run's artifacts are: read with sqlite3 while the store is current (see the module
    docstring), else with MlflowClient; "" for a run the store does not know."""
    home = (home or runs_dir()).resolve()
    db = _open_if_current(home)
    if db is not None:
        try:
            return _artifact_uri(db, run_id)
        except sqlite3.DataError:  # the store is current and has no such run
            return ""
        except sqlite3.Error:
            pass
        finally:
            db.close()
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(tracking_uri=store_uri(home)).get_run(run_id).info.artifact_uri or ""
    except MlflowException:
        return ""


# The store's state -------------------------------------------------------------------------


def _mlflow_version() -> str | None:
    try:
        return metadata.version("mlflow")
    except metadata.PackageNotFoundError:
        return None


def _revision(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def _create_store(home: Path) -> None:
    """A new store is built under a temporary name, then linked into place whole.

    MLflow creates a store's schema by running its migrations one by one (seconds; dozens of
    ALTER TABLEs, not one transaction). Interrupted half-way, in place, the database was
    left half-migrated, and every later run failed on it ("table _alembic_tmp_experiments already
    exists"). Built aside, an interrupt leaves only the temporary file, which is removed.
    `os.link` does not replace a store another process linked first: theirs stands.
    """
    path = home / "mlflow.db"
    if path.exists():
        return
    temp = home / f".tmp-{uuid.uuid4().hex}.db"
    temp.touch(exist_ok=False)  # SQLite takes an empty file as an empty database; unlike
    try:  # mkstemp's 0600, the umask sets its mode, as it does a store MLflow creates in place
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        _quiet_store_set_up()  # after the import, which sets MLflow's loggers up
        store = SqlAlchemyStore(f"sqlite:///{temp}", artifact_root(home))  # runs the migrations
        store.engine.dispose()  # no connection left open on the file once it is the store
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: moved, unless one appeared meanwhile
            if not path.exists():
                os.replace(temp, path)
    finally:
        for leftover in (temp, temp.with_name(temp.name + "-journal")):
            leftover.unlink(missing_ok=True)


def _quiet_store_set_up() -> None:
    """MLflow logs every migration it runs at INFO; a trainee needs none of those lines."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)


def _unusable_store(home: Path, exc: Exception) -> WorkshopError:
    """MLflow's error on opening the store, as one naming the file and the way out."""
    path = home / "mlflow.db"
    text = str(exc).strip()
    return WorkshopError(
        f"the local MLflow store {path} cannot be used: "
        f"{text.splitlines()[0] if text else type(exc).__name__}",
        hint=f"move it aside (`mv {path} {path}.broken`) and rerun: the next run creates a new "
        "store (the old one's runs, if MLflow can read them: "
        f"`mlflow ui --backend-store-uri sqlite:///{path}.broken`)",
    )


def _write_marker(home: Path) -> None:
    """After MlflowClient set the store up: which MLflow, which schema revision (atomically)."""
    path = home / "mlflow.db"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            revision = _revision(db)
        finally:
            db.close()
        marker = {"mlflow": _mlflow_version(), "revision": revision}
        fd, temp = tempfile.mkstemp(dir=home, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(marker, out)
        os.replace(temp, home / STORE_MARKER)
    except (OSError, sqlite3.Error):
        (home / STORE_MARKER).unlink(missing_ok=True)


def _open_if_current(home: Path) -> sqlite3.Connection | None:
    """A connection to the store if MLflow left it at the marker's revision, with this MLflow."""
    path = home / "mlflow.db"
    try:
        marker = json.loads((home / STORE_MARKER).read_text(encoding="utf-8"))
        if not path.is_file() or marker.get("mlflow") != _mlflow_version():
            return None
        db = sqlite3.connect(path, timeout=30, isolation_level=None)  # transactions: _fast
    except (OSError, ValueError, AttributeError, sqlite3.Error):
        return None
    try:
        if marker.get("revision") and _revision(db) == marker["revision"]:
            return db
    except sqlite3.Error:
        pass
    db.close()
    return None


def _active_experiment(db: sqlite3.Connection, name: str) -> str | None:
    row = db.execute(
        "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ? AND workspace = ?",
        (name, DEFAULT_WORKSPACE),
    ).fetchone()
    return str(row[0]) if row and row[1] == "active" else None


def _mark_training(db: sqlite3.Connection, experiment_id: str) -> bool:
    """SqlAlchemyStore.set_experiment_tag's row, only where the experiment has no kind yet."""
    db.execute(
        'INSERT OR IGNORE INTO experiment_tags ("key", value, experiment_id) VALUES (?, ?, ?)',
        (EXPERIMENT_KIND_TAG, MODEL_TRAINING, int(experiment_id)),
    )
    return True


# The rows SqlAlchemyStore writes -----------------------------------------------------------


def _create_run(db: sqlite3.Connection, experiment_id: str, name: str, tags: dict[str, str]) -> str:
    """SqlAlchemyStore.create_run as MlflowClient.create_run(experiment, name, tags) calls it."""
    row = db.execute(
        "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
        (int(experiment_id),),
    ).fetchone()
    if row is None or row[1] != "active":
        raise sqlite3.DataError("the experiment is not active")  # MLflow says why
    run_id = uuid.uuid4().hex
    artifact_uri = f"{str(row[0]).rstrip('/')}/{run_id}/{ARTIFACTS_FOLDER}"
    db.execute(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
        "experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', "
        "'active', ?, ?, NULL)",
        (
            run_id,
            name,
            tags.get("mlflow.user", "unknown"),
            now_ms(),
            artifact_uri,
            int(experiment_id),
        ),
    )
    _set_tags(db, run_id, {**{k: str(v) for k, v in tags.items()}, RUN_NAME_TAG: name})
    return run_id


def _set_tags(db: sqlite3.Connection, run_id: str, tags: dict[str, str]) -> bool:
    _require_active_run(db, run_id)
    if (
        RUN_NAME_TAG in tags
        and db.execute(
            'SELECT 1 FROM tags WHERE run_uuid = ? AND "key" = ?', (run_id, RUN_NAME_TAG)
        ).fetchone()
    ):
        raise sqlite3.DataError("renaming a run is MLflow's to do")
    db.executemany(
        'INSERT OR REPLACE INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)',
        [(key, value, run_id) for key, value in tags.items()],
    )
    return True


def _log_params(db: sqlite3.Connection, run_id: str, params: dict[str, Any]) -> bool:
    _require_active_run(db, run_id)
    for key, value in params.items():
        text = str(value)
        old = db.execute(
            'SELECT value FROM params WHERE run_uuid = ? AND "key" = ?', (run_id, key)
        ).fetchone()
        if old is not None and old[0] != text:
            raise sqlite3.DataError("a param logged twice with two values: MLflow refuses it")
        db.execute(
            'INSERT OR IGNORE INTO params ("key", value, run_uuid) VALUES (?, ?, ?)',
            (key, text, run_id),
        )
    return True


def _log_metrics(
    db: sqlite3.Connection, run_id: str, metrics: dict[str, float], stamp: int
) -> bool:
    """Metric rows at step 0, and latest_metrics where the new one is more recent (as MLflow)."""
    _require_active_run(db, run_id)
    for key, raw in metrics.items():
        number = float(raw)
        is_nan = math.isnan(number)
        value = 0.0 if is_nan else max(-MAX_FLOAT, min(MAX_FLOAT, number))
        db.execute(
            'INSERT OR IGNORE INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) '
            "VALUES (?, ?, ?, ?, 0, ?)",
            (key, value, stamp, run_id, int(is_nan)),
        )
        old = db.execute(
            'SELECT step, timestamp, value FROM latest_metrics WHERE run_uuid = ? AND "key" = ?',
            (run_id, key),
        ).fetchone()
        if old is None or (0, stamp, value) > tuple(old):
            db.execute(
                'INSERT OR REPLACE INTO latest_metrics ("key", value, timestamp, step, is_nan, '
                "run_uuid) VALUES (?, ?, ?, 0, ?, ?)",
                (key, value, stamp, int(is_nan), run_id),
            )
    return True


def _terminate(db: sqlite3.Connection, run_id: str, status: str, end_time: int) -> bool:
    """SqlAlchemyStore.update_run_info(status, end_time) as MlflowClient.set_terminated does."""
    if status not in {"FINISHED", "FAILED", "KILLED", "RUNNING", "SCHEDULED"}:
        raise sqlite3.DataError(f"unknown status {status}")  # MLflow names the error
    _require_active_run(db, run_id)
    db.execute(
        "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?", (status, end_time, run_id)
    )
    return True


def _latest_metrics(db: sqlite3.Connection, run_id: str) -> dict[str, float]:
    _require_active_run(db, run_id)
    rows = db.execute(
        'SELECT "key", value, is_nan FROM latest_metrics WHERE run_uuid = ?', (run_id,)
    ).fetchall()
    return {str(key): math.nan if is_nan else float(value) for key, value, is_nan in rows}


def _artifact_uri(db: sqlite3.Connection, run_id: str) -> str:
    row = db.execute("SELECT artifact_uri FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
    if row is None or not row[0]:
        raise sqlite3.DataError("no such run")
    return str(row[0])


def _require_active_run(db: sqlite3.Connection, run_id: str) -> None:
    row = db.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
    if row is None or row[0] != "active":
        raise sqlite3.DataError("no such active run")  # MLflow reports it in its own words


def _copy_artifact(path: Path, folder: Path) -> None:
    """LocalArtifactRepository.log_artifact: a staged copy renamed into `folder/<name>`."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=TEMP_ARTIFACT_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as source:
            shutil.copyfileobj(source, out)
        os.replace(temp, folder / path.name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
