"""Shared fixtures; helpers for synthetic data live in tests/mnist_fixtures.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mnist_fixtures import make_mnist_dir, real_mnist_or_none


@pytest.fixture
def synthetic_mnist(tmp_path: Path) -> Path:
    """A directory with the four MNIST .gz files: 200 train and 50 test synthetic images."""
    return make_mnist_dir(tmp_path / "mnist")


@pytest.fixture
def real_mnist_dir() -> Path:
    """The real MNIST files ($WORKSHOP_MNIST_MIRROR as a local directory); skips without them."""
    found = real_mnist_or_none()
    if found is None:
        pytest.skip("WORKSHOP_MNIST_MIRROR does not point at a directory with the 4 MNIST files")
    return found


@pytest.fixture(scope="session", autouse=True)
def job_environments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Job environments (`workshop run` builds one per conda file) shared by the whole session,
    outside the checkout: building jobs/environment takes a while. WORKSHOP_ENV_DIR set before
    the session keeps them across sessions; subprocesses inherit it.

    Under pytest-xdist (`make pytest`) the workers share one folder, and the project's
    environment is built there once, before any test, by whichever worker comes first: tests
    that give a job a deadline (tests/test_runner_interrupt.py) must not spend it on the build,
    and a second build of the same environment would only cost CPU."""
    given = os.environ.get("WORKSHOP_ENV_DIR")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if given:
        path = Path(given)
    elif worker:  # basetemp is <session folder>/<worker>: the session folder is shared
        path = tmp_path_factory.getbasetemp().parent / "job-environments"
        path.mkdir(exist_ok=True)
    else:
        path = tmp_path_factory.mktemp("job-environments")
    os.environ["WORKSHOP_ENV_DIR"] = str(path)
    if worker:
        _build_project_environment_once(path)
    yield path
    if given is None:
        os.environ.pop("WORKSHOP_ENV_DIR", None)


def _build_project_environment_once(path: Path) -> None:
    """Build jobs/environment (every job, sweep trial and the server use it) under a lock on
    `path`: the first worker builds it, the others wait and find it built."""
    import fcntl

    from workshop.paths import JOBS_DIR
    from workshop.runner.environment import prepare

    with path.with_name(path.name + ".lock").open("w") as lock:  # beside it: tests list it
        fcntl.flock(lock, fcntl.LOCK_EX)
        prepare(JOBS_DIR / "train-knn.yml")


# Builds that tests watch happen on one worker: test_runner_isolation.py looks in the shared
# environment folder for unfinished builds after its conflicting build, so none of its own
# (azureml:small:1) may be under way on another worker then.
_ONE_WORKER = {"test_runner_isolation.py": "runner-isolation"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        group = _ONE_WORKER.get(item.path.name)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


# Tests must leave the checkout as they found it: no MLflow store or run outputs in the tree
# (a sqlite MLflow store without an artifact location writes to ./mlruns, for instance).
_LITTER = ("mlruns", "mlflow.db", "src/training/mlruns", "notebooks/mlruns", "notebooks/.workshop")
_ROOT = Path(__file__).resolve().parents[1]
_present_at_start = {name for name in _LITTER if (_ROOT / name).exists()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = [name for name in _LITTER if (_ROOT / name).exists() and name not in _present_at_start]
    if left:
        print(
            f"\nerror: the tests left {', '.join(left)} in the checkout; find the test that "
            "writes there and point it at tmp_path"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
