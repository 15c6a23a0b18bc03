"""Where things live in a checkout, in one place (the folders the Pulumi program shares with the
CLI are defined in workshop_common.paths and re-exported here)."""

from __future__ import annotations

import os
from pathlib import Path

from workshop_common.paths import DEFAULT_DATA_CACHE as DEFAULT_DATA_CACHE
from workshop_common.paths import JOBS_DIR as JOBS_DIR
from workshop_common.paths import ROOT as ROOT
from workshop_common.paths import data_cache as data_cache

TRAINING_DIR = ROOT / "src" / "training"
INFRA_DIR = ROOT / "infra"


def runs_dir() -> Path:
    """Local run outputs and the MLflow store live under `.workshop/`."""
    return Path(os.environ.get("WORKSHOP_HOME", ROOT / ".workshop"))


def env_cache() -> Path:
    """Job environments built from conda files, keyed by content: `WORKSHOP_ENV_DIR`, else
    `envs/` under the workshop home (tests share one per session: a build takes a while)."""
    found = os.environ.get("WORKSHOP_ENV_DIR")
    return Path(found) if found else runs_dir() / "envs"


def runner_cache() -> Path:
    """What `workshop run` keeps between runs to start fast (loaded job YAMLs, code folders'
    file lists), keyed by content: `cache/` under the workshop home, never the source tree."""
    return runs_dir() / "cache"


def download_cache() -> Path:
    """`https://` inputs, downloaded once: `downloads/` under the workshop home."""
    return runs_dir() / "downloads"


def repo_relative(path: Path) -> str:
    """`path` relative to the checkout when it is inside it (shorter to read), else as given."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
