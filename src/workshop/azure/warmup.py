"""A tiny job that makes Azure ML build the training environment's image before the workshop.

The first job in a fresh workspace waits 5-15 minutes while the image is built; running one
import on the cluster beforehand moves that wait to the operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from workshop.paths import JOBS_DIR
from workshop_common.contract import CLUSTER_NAME

if TYPE_CHECKING:
    from azure.ai.ml.entities import Command

EXPERIMENT = "workshop-warmup"
IMPORTS = "import numpy, sklearn, mlflow, matplotlib; print('environment ready')"


def environment_name() -> str:
    """The environment jobs/ uses (its name lives in jobs/environment.yml)."""
    spec = yaml.safe_load((JOBS_DIR / "environment.yml").read_text(encoding="utf-8"))
    return str(spec["name"])


def warmup_job() -> Command:
    from azure.ai.ml import command

    return command(
        command=f'python -c "{IMPORTS}"',
        environment=f"azureml:{environment_name()}@latest",
        compute=CLUSTER_NAME,
        experiment_name=EXPERIMENT,
        display_name="environment-warmup",
        description="Builds the mnist-sklearn image so trainees do not wait for it.",
    )
