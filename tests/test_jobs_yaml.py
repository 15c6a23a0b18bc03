"""The real YAMLs under jobs/: each loads with its azure-ai-ml loader, and agrees with the code.

Agreement that can drift silently: the job inputs and the training scripts' defaults, the sweep's
trial budget and its grid, the pipeline's sweep and sweep-knn.yml, the names in
workshop.names and workshop_common.contract.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from mnist_trainer import knn, logreg

from workshop import names
from workshop.jobspec.kinds import detect_kind
from workshop.jobspec.sdkload import KIND_LOADERS
from workshop.jobspec.sdkload import loaders as sdk_loaders
from workshop.paths import JOBS_DIR
from workshop_common import contract

# azure-ai-ml's schemas emit hundreds of marshmallow deprecation warnings on every load.
pytestmark = pytest.mark.filterwarnings("ignore")

EXPECTED_KINDS = {
    "train-logreg.yml": "command_job",
    "train-knn.yml": "command_job",
    "sweep-knn.yml": "sweep_job",
    "pipeline.yml": "pipeline_job",
    "schedule.yml": "schedule",
    "endpoint.yml": "online_endpoint",
    "deployment.yml": "online_deployment",
    "environment.yml": "environment",
    "data-mnist.yml": "data",
    "components/prepare-data.yml": "component",
    "components/train-logreg.yml": "component",
    "components/train-knn.yml": "component",
    "components/compare-models.yml": "component",
    "components/register-model.yml": "component",
}


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((JOBS_DIR / name).read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_loads_with_the_sdk(name: str) -> None:
    data = load(name)
    assert data["$schema"].startswith("https://azuremlschemas.azureedge.net/latest/")
    kind = detect_kind(data)
    assert kind is not None and kind == EXPECTED_KINDS[name]
    entity = sdk_loaders()[kind](JOBS_DIR / name)
    assert type(entity).__name__ != "dict"
    assert KIND_LOADERS[kind].startswith("load_")


def test_every_yaml_is_listed() -> None:
    found = {str(p.relative_to(JOBS_DIR)) for p in JOBS_DIR.rglob("*.yml")}
    assert found - {"environment/conda.yml"} == set(EXPECTED_KINDS)


def test_logreg_inputs_are_the_script_defaults() -> None:
    inputs = load("train-logreg.yml")["inputs"]
    assert inputs["max_iter"] == logreg.DEFAULTS["max_iter"]
    assert math.isclose(inputs["C"], logreg.DEFAULTS["C"])


def test_knn_inputs_are_the_script_defaults() -> None:
    inputs = load("train-knn.yml")["inputs"]
    args = knn.parse_args(["--data", "d", "--model-dir", "m"])
    assert (inputs["kmax"], inputs["kinterval"]) == (args.kmax, args.kinterval) == (15, 2)
    assert inputs["representation"] in knn.REPRESENTATIONS


def grid_size(space: dict[str, Any]) -> int:
    return math.prod(len(spec["values"]) for spec in space.values())


def test_sweep_budget_covers_the_grid_and_matches_the_pipeline() -> None:
    sweep = load("sweep-knn.yml")
    node = load("pipeline.yml")["jobs"]["sweep_knn"]
    assert sweep["limits"]["max_total_trials"] == grid_size(sweep["search_space"])
    assert node["search_space"] == sweep["search_space"]
    assert node["limits"] == sweep["limits"] and node["objective"] == sweep["objective"]
    assert set(sweep["search_space"]["representation"]["values"]) == set(knn.REPRESENTATIONS)
    assert sweep["limits"]["max_concurrent_trials"] <= sweep["limits"]["max_total_trials"]


def test_names_come_from_one_place() -> None:
    for name in ("train-logreg.yml", "train-knn.yml", "sweep-knn.yml", "pipeline.yml"):
        data = load(name)
        assert data["experiment_name"] == names.EXPERIMENT
        compute = data.get("compute") or data["settings"]["default_compute"]
        assert compute == f"azureml:{contract.CLUSTER_NAME}"
    register = load("components/register-model.yml")
    assert register["inputs"]["model_name"]["default"] == names.MODEL_NAME
    assert load("deployment.yml")["model"] == f"azureml:{names.MODEL_NAME}@latest"
    assert load("deployment.yml")["endpoint_name"] == load("endpoint.yml")["name"]


def test_schedule_runs_the_pipeline() -> None:
    schedule = load("schedule.yml")
    assert (JOBS_DIR / schedule["create_job"]).resolve() == (JOBS_DIR / "pipeline.yml").resolve()
    assert schedule["trigger"]["frequency"] == "week"


def test_code_paths_point_at_the_training_package() -> None:
    training = (Path(__file__).parents[1] / "src" / "training").resolve()
    for path in JOBS_DIR.rglob("*.yml"):
        data = yaml.safe_load(path.read_text()) or {}
        code = data.get("code") or (data.get("trial") or {}).get("code")
        code = code or (data.get("code_configuration") or {}).get("code")
        if code:
            assert (path.parent / code).resolve() == training, path


def test_the_deployment_runs_as_many_workers_as_it_takes_concurrent_requests() -> None:
    # "Your model must be configured to handle concurrent requests. To do so, pass WORKER_COUNT
    # as an environment variable" (max_concurrent_requests_per_instance):
    # https://learn.microsoft.com/en-us/azure/machine-learning/reference-yaml-deployment-managed-online
    from azure.ai.ml import load_online_deployment

    deployment = load_online_deployment(JOBS_DIR / "deployment.yml")
    settings = deployment.request_settings
    assert settings is not None and deployment.environment_variables is not None
    workers = int(deployment.environment_variables["WORKER_COUNT"])
    assert workers == settings.max_concurrent_requests_per_instance
    assert workers >= 2
