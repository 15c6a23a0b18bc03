"""Where things live in a checkout, in one place."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JOBS_DIR = ROOT / "jobs"
TRAINING_DIR = ROOT / "src" / "training"
INFRA_DIR = ROOT / "infra"
DEFAULT_DATA_CACHE = ROOT / "data" / "mnist"
"""The data cache unless WORKSHOP_DATA_DIR moves it; jobs/data-mnist.yml's `path`."""


def data_cache() -> Path:
    """The local MNIST cache (`data/mnist`, which jobs/data-mnist.yml points at)."""
    return Path(os.environ.get("WORKSHOP_DATA_DIR", DEFAULT_DATA_CACHE))


def runs_dir() -> Path:
    """Local run outputs and the MLflow store live under `.workshop/`."""
    return Path(os.environ.get("WORKSHOP_HOME", ROOT / ".workshop"))


def repo_relative(path: Path) -> str:
    """`path` relative to the checkout when it is inside it (shorter to read), else as given."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
