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
    the session keeps them across sessions; subprocesses inherit it."""
    given = os.environ.get("WORKSHOP_ENV_DIR")
    path = Path(given) if given else tmp_path_factory.mktemp("job-environments")
    os.environ["WORKSHOP_ENV_DIR"] = str(path)
    yield path
    if given is None:
        os.environ.pop("WORKSHOP_ENV_DIR", None)


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
