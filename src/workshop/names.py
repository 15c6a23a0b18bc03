"""Azure ML names this repository creates, in one place.

The Pulumi program (infra/) creates the compute cluster and imports `COMPUTE_NAME` from here;
`workshop validate` checks every `azureml:` reference in jobs/ against these names and against the
environment and data asset YAMLs (whose names and versions live in those files, not here).
"""

from __future__ import annotations

COMPUTE_NAME = "cpu-cluster"
"""The AmlCompute cluster every job runs on (`compute: azureml:cpu-cluster`)."""

EXPERIMENT = "amls-learn-experiment"
"""The experiment the 2019 hands-on used; every job YAML files its runs under it."""

MODEL_NAME = "mnist-classifier"
"""The registered model the pipeline's register step creates and deployment.yml serves."""
