"""Azure ML names the jobs use that the Pulumi program does not create.

`workshop validate` checks every `azureml:` reference in jobs/ against these names, the cluster
the program creates (workshop_common.contract.CLUSTER_NAME) and the environment and data asset
YAMLs (whose names and versions live in those files, not here).
"""

from __future__ import annotations

EXPERIMENT = "amls-learn-experiment"
"""The experiment the 2019 hands-on used; every job YAML files its runs under it."""

MODEL_NAME = "mnist-classifier"
"""The registered model the pipeline's register step creates and deployment.yml serves."""
