"""Where the checkout's shared folders are: what both the CLI and the Pulumi program read.

The job YAMLs (jobs/) hold the data asset and environment both register, and the MNIST data
cache is what `workshop data fetch` fills and the program's upload reads. The CLI's other paths
(runs, environments, downloads) live in workshop.paths.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JOBS_DIR = ROOT / "jobs"
DATA_DIR_ENV = "WORKSHOP_DATA_DIR"
DEFAULT_DATA_CACHE = ROOT / "data" / "mnist"
"""The data cache unless WORKSHOP_DATA_DIR moves it; jobs/data-mnist.yml's `path`."""


def data_cache() -> Path:
    """The local MNIST cache (`data/mnist`, which jobs/data-mnist.yml points at)."""
    return Path(os.environ.get(DATA_DIR_ENV, DEFAULT_DATA_CACHE))
