"""The runner's sqlite3 fast path writes what MLflow itself writes, read back by the real MLflow."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from workshop.runner.tracking import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    PARENT_TAG,
    STORE_MARKER,
    Tracker,
    artifact_uri,
    store_uri,
)

EXPERIMENT = "tracking-tests"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module: MLflow creates its tables once (seconds)."""
    home = tmp_path_factory.mktemp("tracking-home")
    assert not Tracker(EXPERIMENT, home).fast  # no store yet: MLflow creates it
    return home


@pytest.fixture(scope="module")
def client(home: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=store_uri(home))


def test_mlflow_sets_the_store_up_and_the_marker_records_it(home: Path) -> None:
    marker = json.loads((home / STORE_MARKER).read_text())
    with sqlite3.connect(home / "mlflow.db") as db:
        [(revision,)] = db.execute("SELECT version_num FROM alembic_version").fetchall()
    from mlflow.version import VERSION

    assert marker == {"mlflow": VERSION, "revision": revision}
    assert Tracker(EXPERIMENT, home).fast


def _same_run(client: MlflowClient, ours: str, theirs: str, ids: dict[str, Any]) -> None:
    """Every field of two runs equal, but for ids and times (`ids` maps ours to theirs)."""
    a, b = client.get_run(ours), client.get_run(theirs)
    info_a, info_b = dict(a.info), dict(b.info)
    for key in ("run_id", "run_uuid", "start_time", "end_time"):
        info_a.pop(key, None)
        info_b.pop(key, None)
    assert (a.info.end_time is None) == (b.info.end_time is None)
    info_a["artifact_uri"] = info_a["artifact_uri"].replace(ours, theirs)
    assert info_a == info_b
    tags_a = {k: ids.get(v, v) for k, v in a.data.tags.items()}
    assert tags_a == b.data.tags
    assert a.data.params == b.data.params
    assert _nan_safe(a.data.metrics) == _nan_safe(b.data.metrics)
    assert dict(a.inputs.__dict__) == dict(b.inputs.__dict__)


def _nan_safe(metrics: dict[str, float]) -> dict[str, Any]:
    return {k: "nan" if math.isnan(v) else v for k, v in metrics.items()}


def test_runs_made_by_the_fast_path_read_back_as_mlflow_made_them(
    home: Path, client: MlflowClient, tmp_path: Path
) -> None:
    tracker = Tracker(EXPERIMENT, home)
    assert tracker.fast
    experiment_id = tracker.experiment_id
    log = tmp_path / "std_log.txt"
    log.write_text("hello\n")
    metrics = {"accuracy": 0.97, "best_k": 3.0, "nan": math.nan, "big": math.inf, "n": -math.inf}

    parent = tracker.start("sweep", None, {"workshop.kind": "sweep"})
    child = tracker.start("sweep/trial-00", parent, {"workshop.kind": "trial"})
    tracker.set_tag(child, "sweep.k", 3)
    tracker.log_params(parent, {"primary_metric": "accuracy", "max_concurrent_trials": 2})
    tracker.log_params(parent, {"goal": "maximize"})
    tracker.log_metrics(parent, metrics)
    tracker.log_artifact(child, log, "user_logs")
    assert tracker.metrics(child) == {}
    tracker.end(child, "FAILED")

    twin_parent = client.create_run(
        experiment_id, run_name="sweep", tags={"workshop.kind": "sweep"}
    )
    twin_p = twin_parent.info.run_id
    twin_child = client.create_run(
        experiment_id,
        run_name="sweep/trial-00",
        tags={"workshop.kind": "trial", PARENT_TAG: twin_p},
    ).info.run_id
    client.set_tag(twin_child, "sweep.k", 3)
    for key, value in {"primary_metric": "accuracy", "max_concurrent_trials": 2}.items():
        client.log_param(twin_p, key, value)
    client.log_param(twin_p, "goal", "maximize")
    for key, value in metrics.items():
        client.log_metric(twin_p, key, value, timestamp=1)
    client.log_artifact(twin_child, str(log), "user_logs")
    client.set_terminated(twin_child, "FAILED")

    ids = {parent: twin_p, child: twin_child}
    _same_run(client, parent, twin_p, ids)
    _same_run(client, child, twin_child, ids)
    assert _nan_safe(tracker.metrics(parent)) == _nan_safe(client.get_run(twin_p).data.metrics)
    history = client.get_metric_history(parent, "accuracy")
    assert [(m.value, m.step) for m in history] == [(0.97, 0)]

    nested = client.search_runs([experiment_id], f"tags.`{PARENT_TAG}` = '{parent}'")
    assert [r.info.run_id for r in nested] == [child]
    named = client.search_runs([experiment_id], "attributes.run_name = 'sweep/trial-00'")
    assert {r.info.run_id for r in named} == {child, twin_child}
    failed = client.search_runs([experiment_id], "attributes.status = 'FAILED'")
    assert {child, twin_child} <= {r.info.run_id for r in failed}

    # The artifact where MLflow's LocalArtifactRepository puts it, listed and read by MLflow.
    listed = [(a.path, a.file_size) for a in client.list_artifacts(child, "user_logs")]
    assert listed == [(a.path, a.file_size) for a in client.list_artifacts(twin_child, "user_logs")]
    got = Path(client.download_artifacts(child, "user_logs/std_log.txt", str(tmp_path / "dl")))
    assert got.read_text() == "hello\n"

    tracker.end(parent, "FINISHED")
    client.set_terminated(twin_p, "FINISHED")
    _same_run(client, parent, twin_p, ids)


def test_a_child_joins_the_fast_paths_run_as_on_azure(home: Path, client: MlflowClient) -> None:
    """MLFLOW_RUN_ID/EXPERIMENT_ID/TRACKING_URI: MLflow's own fluent API resumes the run."""
    tracker = Tracker(EXPERIMENT, home)
    run_id = tracker.start("joined", None, {"workshop.kind": "command"})
    code = (
        "import mlflow\nwith mlflow.start_run() as run:\n"
        "    mlflow.log_metric('accuracy', 0.5); mlflow.log_param('k', 3)\n"
        "    print(run.info.run_id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **tracker.child_env(run_id)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == run_id
    tracker.end(run_id, "FINISHED")
    assert tracker.metrics(run_id) == {"accuracy": 0.5}
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"k": "3"}


def test_any_other_store_state_is_left_to_mlflow(tmp_path: Path) -> None:
    home = tmp_path / "other"
    Tracker(EXPERIMENT, home)  # MLflow creates the store
    marker = home / STORE_MARKER
    recorded = json.loads(marker.read_text())
    for changed in ({**recorded, "revision": "0000"}, {**recorded, "mlflow": "0.0.1"}, None):
        if changed is None:
            marker.write_text("{garbage")
        else:
            marker.write_text(json.dumps(changed))
        tracker = Tracker(EXPERIMENT, home)
        assert not tracker.fast
        run_id = tracker.start("by-mlflow")
        tracker.end(run_id, "FINISHED")
        assert tracker.client.get_run(run_id).info.status == "FINISHED"
        assert json.loads(marker.read_text()) == recorded  # MLflow's set-up wrote it back
        assert Tracker(EXPERIMENT, home).fast

    # A store MLflow upgraded behind the marker's back: another revision in the database.
    with sqlite3.connect(home / "mlflow.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'elsewhere'")
    assert not Tracker(EXPERIMENT, home).fast


def test_artifact_uri_reads_what_mlflow_reads(home: Path, client: MlflowClient) -> None:
    tracker = Tracker(EXPERIMENT, home)
    run_id = tracker.start("where")
    expected = client.get_run(run_id).info.artifact_uri
    assert artifact_uri(run_id, home) == expected  # sqlite3, the store being current
    marker = home / STORE_MARKER
    recorded = marker.read_text()
    marker.write_text("{garbage")  # not current: MLflow reads it
    try:
        assert artifact_uri(run_id, home) == expected
        assert artifact_uri("0" * 32, home) == ""
    finally:
        marker.write_text(recorded)
    assert artifact_uri("0" * 32, home) == ""


def test_a_sqlite_error_mid_run_hands_over_to_mlflow(home: Path, client: MlflowClient) -> None:
    tracker = Tracker(EXPERIMENT, home)
    run_id = tracker.start("handover")
    assert tracker.db is not None
    tracker.db.close()  # every later sqlite3 call fails: "Cannot operate on a closed database"
    tracker.log_metrics(run_id, {"accuracy": 0.25})
    tracker.end(run_id, "FINISHED")
    assert not tracker.fast
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.metrics == {"accuracy": 0.25}


def test_the_experiment_opens_as_model_training_in_the_mlflow_ui(
    home: Path, client: MlflowClient
) -> None:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None and experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    # An experiment made before the tag existed (or by someone else) gets it, on either path.
    for name in ("older-fast", "older-mlflow"):
        experiment_id = client.create_experiment(name)
        assert EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags
        if name == "older-mlflow":
            (home / STORE_MARKER).write_text("{}")
        Tracker(name, home)
        assert client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    # A kind someone chose is kept.
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, "genai_development")
    assert Tracker("older-mlflow", home).fast
    assert client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG] == "genai_development"


@contextlib.contextmanager
def _interrupted_migrations() -> Iterator[None]:
    """Ctrl-C inside MLflow's schema migrations, where a real one left a store no later run could
    open: right after a migration has created the `_alembic_tmp_` copy of a table it rebuilds
    (SQLite's ALTER TABLE by copy), KeyboardInterrupt is raised, as the signal would be."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE _ALEMBIC_TMP_"):
            raise KeyboardInterrupt

    event.listen(Engine, "after_cursor_execute", after)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        event.remove(Engine, "after_cursor_execute", after)


def test_a_first_run_interrupted_while_the_store_is_created_leaves_no_store(
    tmp_path: Path,
) -> None:
    home = tmp_path / "first"
    with _interrupted_migrations():
        Tracker(EXPERIMENT, home)
    assert sorted(p.name for p in home.iterdir()) == []  # no store, no temporary file
    tracker = Tracker(EXPERIMENT, home)  # the next run creates the store whole
    run_id = tracker.start("after-the-interrupt")
    tracker.end(run_id, "FINISHED")
    assert tracker.client.get_run(run_id).info.status == "FINISHED"
    assert Tracker(EXPERIMENT, home).fast


def test_a_store_mlflow_cannot_open_is_named_with_the_way_out(tmp_path: Path) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from workshop.errors import WorkshopError

    made = tmp_path / "made"  # its engine stays in MLflow's per-URI cache: copied out of it
    made.mkdir()
    with _interrupted_migrations():  # migrated in place, as MLflow does: half a schema
        SqlAlchemyStore(store_uri(made), made.as_uri())
    home = tmp_path / "half"
    home.mkdir()
    shutil.copyfile(made / "mlflow.db", home / "mlflow.db")
    with pytest.raises(WorkshopError) as raised:
        Tracker(EXPERIMENT, home)
    db = home / "mlflow.db"
    assert str(raised.value).startswith(f"the local MLflow store {db} cannot be used: ")
    assert raised.value.hint is not None and f"mv {db} {db}.broken" in raised.value.hint
    db.rename(db.with_name("mlflow.db.broken"))  # the way out the message gives, then a new
    subprocess.run(  # process, as the rerun is (this one's engine for the URI is MLflow's cache)
        [sys.executable, "-c", _CREATE, str(home), EXPERIMENT], check=True, timeout=120
    )
    assert Tracker(EXPERIMENT, home).fast


_CREATE = (
    "import sys; from pathlib import Path; from workshop.runner.tracking import Tracker; "
    "Tracker(sys.argv[2], Path(sys.argv[1]))"
)


def test_a_new_store_is_created_quietly_with_the_umasks_mode(tmp_path: Path) -> None:
    """MLflow logs each migration at INFO (a trainee needs none of it); the file's mode is the
    umask's, as for a store MLflow creates in place (a temporary file's 0600 is not)."""
    home = tmp_path / "fresh"
    done = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022)\n{_CREATE}", str(home), EXPERIMENT],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "database tables" not in done.stderr + done.stdout
    assert (home / "mlflow.db").stat().st_mode & 0o777 == 0o644
