"""azure-ai-ml's loader for each kind of spec: its public `azure.ai.ml.load_*` functions.

`load_schedule` is the one loader the SDK does not export publicly (azure-ai-ml 1.35), so that one
private import lives here alone; tests/test_jobspec_kinds.py fails loudly when the SDK moves it.
azure-ai-ml takes seconds to import, so nothing here imports it before `loaders()` is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

KIND_LOADERS = {
    "command_job": "load_job",
    "sweep_job": "load_job",
    "pipeline_job": "load_job",
    "automl_job": "load_job",
    "spark_job": "load_job",
    "component": "load_component",
    "pipeline_component": "load_component",
    "schedule": "load_schedule",
    "online_endpoint": "load_online_endpoint",
    "online_deployment": "load_online_deployment",
    "batch_endpoint": "load_batch_endpoint",
    "batch_deployment": "load_batch_deployment",
    "environment": "load_environment",
    "data": "load_data",
    "data_import": "load_data",
    "model": "load_model",
}


def private_load_schedule() -> Callable[..., Any]:
    """The SDK's schedule loader (private module; no public export exists)."""
    from azure.ai.ml.entities._load_functions import load_schedule

    return load_schedule


def loaders() -> dict[str, Callable[..., Any]]:
    """The loader for each kind (imports the SDK, once, quietly)."""
    import azure.ai.ml as sdk

    from workshop.sdk import quiet_azure_ml

    quiet_azure_ml()
    found: dict[str, Callable[..., Any]] = {}
    for kind, name in KIND_LOADERS.items():
        found[kind] = private_load_schedule() if name == "load_schedule" else getattr(sdk, name)
    return found
