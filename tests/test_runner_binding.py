"""Runner pieces that need no child process: --set, asset lookup, command rendering, sampling."""

from __future__ import annotations

from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.paths import JOBS_DIR
from workshop.runner import binding
from workshop.runner.pipeline import order
from workshop.runner.sweep import sample

FIXTURES = Path(__file__).parent / "fixtures" / "runner"


def test_parse_sets_reads_yaml_scalars_and_rejects_missing_equals() -> None:
    assert binding.parse_sets(["inputs.kmax=5", "a.b=pca50", "c=true", "d=0.5"]) == {
        "inputs.kmax": 5,
        "a.b": "pca50",
        "c": True,
        "d": 0.5,
    }
    with pytest.raises(WorkshopError, match="not key=value"):
        binding.parse_sets(["inputs.kmax"])


def test_set_applies_known_keys_and_names_the_unknown_one() -> None:
    job = binding.load(FIXTURES / "sweep.yml", {"limits.max_total_trials": 2, "inputs.sleep": 1})
    assert job.spec["limits"]["max_total_trials"] == 2
    assert job.spec["inputs"]["sleep"] == 1
    with pytest.raises(WorkshopError, match=r"no key 'nope' under inputs \(keys there: data, "):
        binding.load(FIXTURES / "sweep.yml", {"inputs.nope": 1})
    with pytest.raises(WorkshopError, match="no key 'max_totl_trials' under limits") as info:
        binding.load(FIXTURES / "sweep.yml", {"limits.max_totl_trials": 1})
    # The example is one of this YAML's own keys, not one from this repository's jobs.
    assert "e.g. --set limits.max_concurrent_trials=VALUE" in str(info.value)


def test_a_yaml_the_sdk_cannot_load_is_named_by_key_and_problem(tmp_path) -> None:
    """The SDK's message is a head line over nested JSON; the head line alone named nothing."""
    job = tmp_path / "job.yml"
    job.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: echo hi\ncomand_typo: echo hi\nenvironment:\n  image: python:3.11-slim\n"
    )
    with pytest.raises(WorkshopError, match=r"cannot load it: .*comand_typo: Unknown field"):
        binding.load(job, {})


def test_set_may_bind_a_declared_component_input_of_a_pipeline_step() -> None:
    job = binding.load(FIXTURES / "pipeline.yml", {"jobs.independent.inputs.fail_on": 7})
    assert job.spec["jobs"]["independent"]["inputs"]["fail_on"] == 7
    with pytest.raises(WorkshopError, match=r"no key 'typo' under jobs\.independent\.inputs"):
        binding.load(FIXTURES / "pipeline.yml", {"jobs.independent.inputs.typo": 7})


def test_data_asset_resolves_to_its_local_path_or_says_to_fetch(tmp_path, monkeypatch) -> None:
    assets = binding.Assets(FIXTURES)
    assert assets.data_path("azureml:tiny@latest", "x") == (FIXTURES / "data").resolve()
    assert assets.data_path("azureml:tiny:1", "x") == (FIXTURES / "data").resolve()
    with pytest.raises(WorkshopError, match="no data asset YAML here defines tiny:2"):
        assets.data_path("azureml:tiny:2", "x")
    # jobs/data-mnist.yml points at the data cache, which WORKSHOP_DATA_DIR moves.
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(WorkshopError, match="workshop data fetch"):
        assets.data_path("azureml:mnist:1", "inputs.mnist")
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path))
    assert assets.data_path("azureml:mnist@latest", "inputs.mnist") == tmp_path.resolve()


def test_render_quotes_values_drops_unbound_optional_parts_and_names_unknown_refs() -> None:
    command = "run --a ${{inputs.a}} $[[--b ${{inputs.b}}]] --o ${{outputs.m}}"
    values = {"inputs.a": "two words", "outputs.m": "/out"}
    assert binding.render(command, values, "w") == "run --a 'two words'  --o /out"
    values["inputs.b"] = "3"
    assert binding.render(command, values, "w") == "run --a 'two words' --b 3 --o /out"
    with pytest.raises(WorkshopError, match=r"uses \$\{\{inputs.typo\}\}"):
        binding.render("run ${{inputs.typo}}", values, "w")


def test_grid_expands_every_choice_and_random_is_seeded() -> None:
    space = {"k": {"type": "choice", "values": [1, 3]}, "r": {"type": "choice", "values": "ab"}}
    assert sample(space, "grid", 10, "w") == [
        {"k": 1, "r": "a"},
        {"k": 1, "r": "b"},
        {"k": 3, "r": "a"},
        {"k": 3, "r": "b"},
    ]
    assert len(sample(space, "grid", 3, "w")) == 3
    mixed = {**space, "c": {"type": "uniform", "min_value": 0.1, "max_value": 2.0}}
    with pytest.raises(WorkshopError, match=r"search_space\.c is not a choice"):
        sample(mixed, "grid", 4, "w")
    first = sample(mixed, {"type": "random", "seed": 7}, 5, "w")
    assert first == sample(mixed, {"type": "random", "seed": 7}, 5, "w")
    assert all(0.1 <= p["c"] <= 2.0 and p["k"] in (1, 3) for p in first)


def test_pipeline_steps_run_after_the_steps_they_read_from() -> None:
    job = binding.load(FIXTURES / "pipeline.yml", {})
    steps = order(job.spec["jobs"])
    assert steps.index("first") < steps.index("second")
    assert steps.index("first") < steps.index("sweep")
    cycle = {
        "a": {"inputs": {"x": "${{parent.jobs.b.outputs.m}}"}},
        "b": {"inputs": {"x": {"path": "${{parent.jobs.a.outputs.m}}"}}},
    }
    with pytest.raises(WorkshopError, match="cycle"):
        order(cycle)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("endpoint.yml", "an online endpoint"), ("data-mnist.yml", "a data asset")],
)
def test_a_yaml_that_is_not_a_job_is_named_as_what_it_is(name: str, kind: str) -> None:

    with pytest.raises(WorkshopError, match=f"is {kind} YAML, not a job") as info:
        binding.load(JOBS_DIR / name, {})
    assert "jobs/train-knn.yml" in (info.value.hint or "")


def test_a_folder_or_a_missing_input_is_named_with_the_fix(tmp_path) -> None:
    with pytest.raises(WorkshopError, match="a folder, not a job YAML"):
        binding.load(tmp_path, {})
    with pytest.raises(WorkshopError, match="does not exist") as info:
        binding.resolve_path("./nope", tmp_path, binding.Assets(tmp_path), "job.yml: inputs.data")
    assert "--set inputs.data.path=PATH" in str(info.value)
    assert str(tmp_path) in str(info.value)  # where a relative path is read from
    with pytest.raises(WorkshopError, match=r"a uri_file input, but .* is a folder"):
        binding.resolve_path(".", tmp_path, binding.Assets(tmp_path), "job.yml: x", "uri_file")


def test_a_signal_that_ends_a_command_is_named_as_a_shell_names_it() -> None:
    from workshop.runner.process import Outcome

    assert Outcome("exit", -11).describe() == "exit code 139 (killed by SIGSEGV)"
    assert Outcome("exit", 3).describe() == "exit code 3"


def test_a_sweep_whose_trials_miss_the_objective_says_which_metric_to_log() -> None:
    from workshop.commands.run import failed_hint
    from workshop.runner.records import RunRecord
    from workshop.runner.sweep import MISSED_OBJECTIVE

    trial = RunRecord("trial", "trial", status="FINISHED")
    trial.error = f"{MISSED_OBJECTIVE} 'acc' (objective.primary_metric)"
    sweep = RunRecord("sweep", "sweep", status="FAILED", children=[trial])
    hint = failed_hint(sweep)
    assert "'acc'" in hint and "objective.primary_metric" in hint and "mlflow.log_metric" in hint


def test_settings_a_local_run_does_not_apply_are_named(tmp_path) -> None:
    from workshop.runner.jobs import not_reproduced

    job = tmp_path / "job.yml"
    job.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: python -c pass\nenvironment:\n  image: python:3.11-slim\n"
        "resources:\n  instance_count: 2\ndistribution:\n  type: pytorch\n"
        "  process_count_per_instance: 1\n"
    )
    notes = not_reproduced(binding.load(job, {}).spec)
    assert any(n.startswith("resources.instance_count 2:") for n in notes), notes
    assert any(n.startswith("distribution (pytorch): one process here") for n in notes), notes
    assert not_reproduced(binding.load(FIXTURES / "sweep.yml", {}).spec) == []


BOOLEANS = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
command: echo ${{inputs.flag}} ${{inputs.clear}} ${{inputs.n}} ${{inputs.text}}
inputs:
  flag: true
  clear: false
  n: 1
  text: "1"
environment:
  image: python:3.11-slim
"""


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        ({}, ("True", "False", "1", "1")),
        ({"inputs.flag": False, "inputs.clear": True}, ("False", "True", "1", "1")),
    ],
)
def test_a_boolean_input_reaches_the_command_as_azure_passes_it(
    tmp_path: Path, sets: dict[str, object], expected: tuple[str, ...]
) -> None:
    """azure-ai-ml's job dict holds `flag: true` as 1; the REST body it sends to Azure holds
    'True' (checked: `load_job(...)._to_rest_object()`), and that is what the command gets."""
    from workshop.runner.command import component_task

    path = tmp_path / "job.yml"
    path.write_text(BOOLEANS)
    job = binding.load(path, sets)
    assets = binding.Assets(job.folder)
    task = component_task(
        "job",
        "command",
        job.spec["component"],
        job.spec["inputs"],
        lambda value, where: binding.resolve_input(value, job.folder, assets, where),
        "job.yml: inputs",
    )
    names = ("flag", "clear", "n", "text")
    assert tuple(task.values[f"inputs.{name}"] for name in names) == expected


BOOLEAN_SWEEP = """\
$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
inputs:
  flag: true
  n: 1
trial:
  command: echo ${{inputs.flag}} ${{inputs.n}} ${{search_space.x}}
  environment:
    image: python:3.11-slim
sampling_algorithm: grid
search_space:
  x: {type: choice, values: [1]}
objective: {goal: maximize, primary_metric: acc}
limits: {max_total_trials: 1}
"""

BOOLEAN_PIPELINE = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
inputs:
  bb: true
jobs:
  step:
    type: command
    command: echo ${{inputs.flag}} ${{inputs.text}}
    environment:
      image: python:3.11-slim
    inputs:
      flag: false
      text: ${{parent.inputs.bb}}
"""


@pytest.mark.parametrize(
    ("yaml", "sets", "where", "expected"),
    [
        (BOOLEAN_SWEEP, {}, ("inputs",), {"flag": True, "n": 1}),
        (BOOLEAN_SWEEP, {"inputs.flag": False}, ("inputs",), {"flag": False, "n": 1}),
        (BOOLEAN_PIPELINE, {}, ("inputs",), {"bb": True}),
        (BOOLEAN_PIPELINE, {}, ("jobs", "step", "inputs"), {"flag": False}),
    ],
)
def test_boolean_inputs_stay_boolean_in_every_kind_of_job(
    tmp_path: Path,
    yaml: str,
    sets: dict[str, object],
    where: tuple[str, ...],
    expected: dict[str, object],
) -> None:
    """azure-ai-ml's dictionary form writes them as 1/0; what the runner binds must be True/False
    (`binding.literal` renders them as Azure does), whichever input they reach."""
    path = tmp_path / "job.yml"
    path.write_text(yaml)
    found: object = binding.load(path, sets).spec
    for key in where:
        assert isinstance(found, dict)
        found = found[key]
    assert isinstance(found, dict)
    for name, value in expected.items():
        assert found[name] == value and type(found[name]) is type(value)
