"""workshop.jobspec: kinds, the one `${{...}}` grammar and `azureml:` parser, the SDK loaders.

The runner and validate must read specs the same way: they import these, never their own copies.
"""

from __future__ import annotations

import pytest

from workshop.jobspec import expressions, kinds, references, sdkload
from workshop.paths import JOBS_DIR

S = "https://azuremlschemas.azureedge.net/latest"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (
            {"$schema": f"{S}/pipelineComponent.schema.json", "type": "pipeline"},
            "pipeline_component",
        ),
        ({"$schema": f"{S}/pipelineJob.schema.json", "type": "pipeline"}, "pipeline_job"),
        ({"type": "pipeline", "name": "p", "version": 1, "jobs": {}}, "pipeline_component"),
        ({"type": "pipeline", "jobs": {}}, "pipeline_job"),
        ({"$schema": f"{S}/autoMLJob.schema.json"}, "automl_job"),
        ({"$schema": f"{S}/autoMLImageClassificationJob.schema.json"}, "automl_job"),
        ({"type": "automl", "task": "classification"}, "automl_job"),
        ({"$schema": f"{S}/dataImport.schema.json", "type": "mltable"}, "data_import"),
        ({"type": "mltable", "source": {"type": "database"}, "path": "azureml://x"}, "data_import"),
        ({"type": "uri_folder", "path": "./data"}, "data"),
        (
            {"name": "blue", "model": "azureml:m:1", "instance_type": "Standard_DS3_v2"},
            "online_deployment",
        ),
    ],
)
def test_detect_kind(data: dict[str, object], kind: str) -> None:
    assert kinds.detect_kind(data) == kind


def test_every_kind_has_a_loader() -> None:
    assert set(kinds.SCHEMA_KINDS.values()) | {"automl_job"} <= set(sdkload.KIND_LOADERS)


@pytest.mark.filterwarnings("ignore")
def test_private_schedule_loader_still_exists_and_loads() -> None:
    """Fails loudly when azure-ai-ml moves `load_schedule` (the one private import here)."""
    import azure.ai.ml as sdk

    assert not hasattr(sdk, "load_schedule"), "a public load_schedule exists now: use it"
    schedule = sdkload.loaders()["schedule"](JOBS_DIR / "schedule.yml")
    assert type(schedule).__name__ == "JobSchedule"


def test_one_grammar_for_expressions() -> None:
    text = "python t.py --x ${{inputs.x}} $[[--y ${{ inputs.y }}]] --o ${{outputs.o}}"
    assert expressions.expressions(text) == ["inputs.x", "inputs.y", "outputs.o"]
    assert expressions.parse_parent("parent.jobs.train.outputs.model") == expressions.ParentRef(
        "outputs", "model", step="train"
    )
    assert expressions.parse_parent("parent.inputs.data") == expressions.ParentRef("inputs", "data")
    assert expressions.parse_parent("parent.jobs.prep-job.outputs.prep_data") == (
        expressions.ParentRef("outputs", "prep_data", step="prep-job")
    )
    assert expressions.PARENT_REF.match("${{parent.jobs.prep-job.outputs.prep_data}}")
    assert expressions.parse_parent("parent.jobs.train") is None
    assert expressions.is_expression(" ${{parent.inputs.compute_name}} ")
    assert not expressions.is_expression("cpu-${{inputs.x}}")


def test_the_runner_uses_the_same_grammar() -> None:
    from workshop.runner import binding, pipeline

    assert binding.PLACEHOLDER is expressions.EXPRESSION
    assert binding.OPTIONAL is expressions.OPTIONAL
    assert pipeline.PARENT_REF is expressions.PARENT_REF
    assert not hasattr(binding, "ASSET_REF")


def test_cycles() -> None:
    def node(*steps: str) -> dict[str, object]:
        return {"inputs": {s: f"${{{{parent.jobs.{s}.outputs.out}}}}" for s in steps}}

    steps = {"a": node("c"), "b": node("a"), "c": node("b"), "d": node("a")}
    assert expressions.find_cycle(expressions.step_dependencies(steps)) == ["a", "c", "b", "a"]
    assert (
        expressions.find_cycle(expressions.step_dependencies({"a": node(), "b": node("a")})) is None
    )


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("azureml:mnist:1", references.AssetRef("mnist", "1")),
        ("azureml:mnist@latest", references.AssetRef("mnist", label="latest")),
        ("azureml:cpu-cluster", references.AssetRef("cpu-cluster")),
        ("azureml://registries/azureml/environments/sklearn-1.5/labels/latest", None),
        ("azureml:/subscriptions/x/resourceGroups/y", None),
        ("azureml:../data", None),
        ("./data", None),
    ],
)
def test_azureml_references(value: str, parsed: references.AssetRef | None) -> None:
    assert references.parse_asset(value) == parsed


def test_local_paths() -> None:
    assert references.local_path("file:./components/train.yml") == "./components/train.yml"
    assert references.local_path("./src") == "./src"
    assert references.local_path("azureml:x:1") is None
    assert references.local_path("https://example.com/x") is None
