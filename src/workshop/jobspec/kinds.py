"""What an Azure ML CLI v2 YAML is: from its `$schema`, else from the keys its kind requires.

Schema file names are those Microsoft publishes under https://azuremlschemas.azureedge.net/latest/
(the CLI v2 YAML reference, https://learn.microsoft.com/azure/machine-learning/reference-yaml-overview,
lists one per kind). AutoML jobs have one schema per task (`autoMLClassificationJob`, ...), so any
`automl...job` name is an AutoML job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCHEMA_KINDS = {
    "commandjob": "command_job",
    "sweepjob": "sweep_job",
    "pipelinejob": "pipeline_job",
    "sparkjob": "spark_job",
    "commandcomponent": "component",
    "parallelcomponent": "component",
    "sparkcomponent": "component",
    "pipelinecomponent": "pipeline_component",
    "schedule": "schedule",
    "managedonlineendpoint": "online_endpoint",
    "kubernetesonlineendpoint": "online_endpoint",
    "managedonlinedeployment": "online_deployment",
    "kubernetesonlinedeployment": "online_deployment",
    "batchendpoint": "batch_endpoint",
    "batchdeployment": "batch_deployment",
    "modelbatchdeployment": "batch_deployment",
    "pipelinecomponentbatchdeployment": "batch_deployment",
    "environment": "environment",
    "data": "data",
    "dataimport": "data_import",
    "model": "model",
}

JOB_KINDS = frozenset({"command_job", "sweep_job", "pipeline_job", "automl_job", "spark_job"})
"""Kinds `az ml job create` takes."""


def schema_name(data: dict[str, Any]) -> str:
    """`commandjob` from `https://.../latest/commandJob.schema.json` ('' without `$schema`)."""
    schema = str(data.get("$schema", ""))
    return schema.rsplit("/", 1)[-1].lower().removesuffix(".json").removesuffix(".schema")


def detect_kind(data: dict[str, Any]) -> str | None:
    """The kind from `$schema`, falling back to the keys each kind requires."""
    name = schema_name(data)
    if name in SCHEMA_KINDS:
        return SCHEMA_KINDS[name]
    if name.startswith("automl") and name.endswith("job"):
        return "automl_job"
    kind = data.get("type")
    if "create_job" in data and "trigger" in data:
        return "schedule"
    if "endpoint_name" in data or ("model" in data and "instance_type" in data):
        return "online_deployment"
    if "auth_mode" in data:
        return "online_endpoint"
    if kind == "automl":
        return "automl_job"
    if kind == "sweep":
        return "sweep_job"
    if kind == "pipeline":
        # A pipeline component is registered under a name and version; a job is not.
        return "pipeline_component" if "version" in data else "pipeline_job"
    if kind in {"parallel", "spark"} and "version" in data:
        return "component"
    if kind == "command" or "command" in data:
        # A component has a name and a version of its own; a job is named by the service.
        return "component" if "version" in data else "command_job"
    if "image" in data or "build" in data or "conda_file" in data:
        return "environment"
    if kind in {"uri_folder", "uri_file", "mltable"} and isinstance(data.get("source"), dict):
        return "data_import"
    if kind in {"uri_folder", "uri_file", "mltable"} and "path" in data:
        return "data"
    if kind in {"mlflow_model", "custom_model", "triton_model"} and "path" in data:
        return "model"
    return None


def describe(kind: str) -> str:
    """`a data asset`, `an online endpoint`: the kind as a sentence names it."""
    name = {"data": "data asset", "data_import": "data import"}.get(kind, kind.replace("_", " "))
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def refuse_non_job(path: Path, what_runs: str) -> None:
    """A WorkshopError when `path` is no job: an endpoint, a data asset, ... or unreadable YAML
    (an alias bomb is refused here, before the SDK reads the file). Nothing for a job, or when
    the keys cannot tell (the loader reports it)."""
    from workshop.errors import WorkshopError
    from workshop.jobspec.yamlread import SpecReadError, read_mapping

    try:
        data = read_mapping(path)
    except SpecReadError as exc:
        raise WorkshopError(f"{exc.path}: {exc.key}: {exc.message}", hint=exc.fix) from None
    kind = detect_kind(data)
    if kind is None or kind in JOB_KINDS:
        return
    raise WorkshopError(
        f"{path} is {describe(kind)} YAML, not a job",
        hint=f"{what_runs}, e.g. jobs/train-knn.yml; `workshop validate {path}` checks this one",
    )
