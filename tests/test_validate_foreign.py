"""`workshop validate` on YAML nobody here wrote: valid CLI v2 shapes pass, broken ones fail.

Each case writes files in the shapes of Microsoft's public examples (Azure/azureml-examples,
cli/) into a temporary folder outside this checkout, so the `reference` check is off as it is for
anyone else's files, and validates with `offline=True` (resolving has its own test). One case per
false alarm of issue 12: the valid file must pass, the broken one must fail.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workshop.validate import Finding, Report, validate

pytestmark = pytest.mark.filterwarnings("ignore")

S = "https://azuremlschemas.azureedge.net/latest"
ENV = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip())
    return root / next(iter(files))


def check(path: Path, *, offline: bool = True, references: bool | None = None) -> Report:
    return validate([path], offline=offline, references=references)


def errors(report: Report) -> list[str]:
    return [f.as_line() for f in report.errors]


def only_error(report: Report, check_name: str) -> Finding:
    assert [f.check for f in report.errors] == [check_name], errors(report)
    return report.errors[0]


COMPONENT = f"""
$schema: {S}/commandComponent.schema.json
name: train_model
version: 1
type: command
inputs:
  training_data:
    type: uri_folder
  max_epochs:
    type: integer
    default: 5
    min: 1
    max: 20
  solver:
    type: string
    default: lbfgs
    enum: [lbfgs, saga]
outputs:
  model_output:
    type: uri_folder
code: ./src
environment: {ENV}
command: >-
  python train.py --data ${{{{inputs.training_data}}}} --epochs ${{{{inputs.max_epochs}}}}
  --solver ${{{{inputs.solver}}}} --out ${{{{outputs.model_output}}}}
"""
TRAIN = "import mlflow\nmlflow.log_metric('accuracy', 0.9)\n"


def pipeline(component: str, node_inputs: str = "", compute: str = "azureml:cpu-cluster") -> str:
    return f"""
    $schema: {S}/pipelineJob.schema.json
    type: pipeline
    display_name: train-pipeline
    settings:
      default_compute: {compute}
    inputs:
      raw:
        type: uri_folder
        path: ./data
    jobs:
      train:
        type: command
        component: {component}
        inputs:
          training_data: ${{{{parent.inputs.raw}}}}
          max_epochs: 5
          solver: saga{node_inputs}
    """


def with_component(tmp_path: Path, name: str, text: str) -> Path:
    write(tmp_path, {"components/train.yml": COMPONENT, "components/src/train.py": TRAIN})
    write(tmp_path, {"data/sample.csv": "a,b\n1,2\n"})
    return write(tmp_path, {name: text})


# --- false alarms of issue 12, each with the broken twin that must still fail ---------------


def test_file_prefixed_component(tmp_path: Path) -> None:
    good = with_component(tmp_path, "good.yml", pipeline("file:./components/train.yml"))
    assert check(good).ok, errors(check(good))
    bad = with_component(tmp_path, "bad.yml", pipeline("file:./components/trian.yml"))
    found = {(f.check, f.key) for f in check(bad).errors}  # the SDK's load fails as well
    assert ("local-path", "jobs.train.component") in found
    # the node checks run through a `file:` component
    typo = pipeline("file:./components/train.yml", "\n          solvr: saga")
    finding = only_error(check(with_component(tmp_path, "typo.yml", typo)), "node-io")
    assert finding.key == "jobs.train.inputs.solvr"


def sweep(code: str, metric: str) -> str:
    return f"""
    $schema: {S}/sweepJob.schema.json
    type: sweep
    trial:
      code: {code}
      command: python train.py --C ${{{{search_space.C}}}}
      environment: {ENV}
    compute: azureml:cpu-cluster
    sampling_algorithm: random
    search_space:
      C:
        type: uniform
        min_value: 0.1
        max_value: 1.0
    objective:
      goal: maximize
      primary_metric: {metric}
    limits:
      max_total_trials: 4
    """


def test_autolog_metric_is_a_note_not_an_error(tmp_path: Path) -> None:
    auto = "import mlflow\nmlflow.sklearn.autolog()\nprint('fit')\n"
    write(tmp_path, {"auto/train.py": auto, "plain/train.py": TRAIN})
    good = write(tmp_path, {"good.yml": sweep("./auto", "training_f1_score")})
    report = check(good)
    assert report.ok, errors(report)
    assert [(f.check, f.key) for f in report.notes] == [("metric", "objective.primary_metric")]
    assert "autolog" in report.notes[0].message
    bad = write(tmp_path, {"bad.yml": sweep("./plain", "training_f1_score")})
    assert only_error(check(bad), "metric").key == "objective.primary_metric"


def papermill_job(code: str, notebook: str) -> str:
    return f"""
    $schema: {S}/commandJob.schema.json
    type: command
    code: {code}
    command: >-
      papermill {notebook} outputs/out.ipynb -k python
      -p sample_csv sample.csv
    environment: {ENV}
    compute: azureml:cpu-cluster
    """


def test_papermill_notebook_and_sample_csv_in_the_code_folder(tmp_path: Path) -> None:
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    write(tmp_path, {"nb/train.ipynb": notebook, "nb/sample.csv": "x,y\n1,2\n"})
    good = write(tmp_path, {"good.yml": papermill_job("./nb", "train.ipynb")})
    assert check(good).ok, errors(check(good))  # `-k python` is no python command either
    # what really hurts still fails: a data set next to the notebook
    write(tmp_path, {"nb/big.csv": "1,2,3,4\n" * 20_000})
    finding = only_error(check(good), "code-folder")
    assert "big.csv" in finding.message and "sample.csv" not in finding.message


def test_python_entry_point_missing_is_still_caught(tmp_path: Path) -> None:
    write(tmp_path, {"src/train.py": TRAIN})
    text = f"""
    $schema: {S}/commandJob.schema.json
    command: pip list && python tarin.py
    code: ./src
    environment: {ENV}
    """
    assert only_error(check(write(tmp_path, {"job.yml": text})), "local-path").key == "command"


PIPELINE_COMPONENT = f"""
$schema: {S}/pipelineComponent.schema.json
type: pipeline
name: train_pipeline_component
version: 1
inputs:
  raw:
    type: uri_folder
  compute_name:
    type: string
outputs:
  trained:
    type: uri_folder
jobs:
  train:
    type: command
    component: ./components/train.yml
    compute: ${{{{parent.inputs.compute_name}}}}
    inputs:
      training_data: ${{{{parent.inputs.RAW}}}}
      max_epochs: 5
      solver: lbfgs
    outputs:
      model_output: ${{{{parent.outputs.trained}}}}
"""


def test_pipeline_component_is_not_a_pipeline_job(tmp_path: Path) -> None:
    good = with_component(tmp_path, "good.yml", PIPELINE_COMPONENT.replace("RAW", "raw"))
    report = check(good, references=True)  # a compute bound from an input is no unknown name
    assert report.ok, errors(report)
    bad = with_component(tmp_path, "bad.yml", PIPELINE_COMPONENT.replace("RAW", "raws"))
    assert only_error(check(bad), "parent").key == "jobs.train.inputs.training_data"


def deployment(extra: str) -> str:
    return f"""
    $schema: {S}/managedOnlineDeployment.schema.json
    name: blue
    model:
      path: ./model
    code_configuration:
      code: ./onlinescoring
      scoring_script: score.py
    environment: {ENV}
    instance_type: Standard_DS3_v2
    instance_count: {extra}
    """


def test_deployment_without_endpoint_name(tmp_path: Path) -> None:
    write(tmp_path, {"onlinescoring/score.py": "def init():\n    pass\n", "model/MLmodel": ""})
    good = write(tmp_path, {"blue.yml": deployment("1")})
    report = check(good)
    assert report.ok, errors(report)
    [note] = report.notes
    assert note.key == "endpoint_name" and "--endpoint-name" in note.fix
    bad = write(tmp_path, {"bad.yml": deployment("many")})
    assert only_error(check(bad), "load").key == "instance_count"


def test_serverless_and_bound_computes(tmp_path: Path) -> None:
    good = with_component(
        tmp_path, "good.yml", pipeline("./components/train.yml", "", "serverless")
    )
    assert check(good, references=True).ok, errors(check(good, references=True))
    bad = with_component(
        tmp_path, "bad.yml", pipeline("./components/train.yml", "", "azureml:gpu-box")
    )
    finding = only_error(check(bad, references=True), "reference")
    assert finding.key == "settings.default_compute" and "serverless" in finding.message


AUTOML = f"""
$schema: {S}/autoMLJob.schema.json
type: automl
experiment_name: dpv2-cli-automl-classifier
compute: azureml:cpu-cluster
task: classification
primary_metric: {{metric}}
target_column_name: y
training_data:
  path: ./training-mltable-folder
  type: mltable
limits:
  timeout_minutes: 60
  max_trials: 5
"""


def test_automl_job_is_validated_not_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"training-mltable-folder/MLTable": "paths:\n  - file: ./train.csv\n"})
    good = write(tmp_path, {"good.yml": AUTOML.format(metric="accuracy")})
    report = check(good)
    assert report.ok and not report.warnings, [f.as_line() for f in report.findings]
    bad = write(tmp_path, {"bad.yml": AUTOML.format(metric="f1_banana")})
    assert only_error(check(bad), "load").key.startswith("primary_metric")


DATA_IMPORT = f"""
$schema: {S}/dataImport.schema.json
type: mltable
name: sales_from_db
source:
  type: database
  query: select * from sales
  connection: azureml:my_sql_connection
path: azureml://datastores/workspaceblobstore/paths/imports/${{{{name}}}}
"""


def test_data_import_is_not_a_plain_data_asset(tmp_path: Path) -> None:
    good = write(tmp_path, {"import.yml": DATA_IMPORT})
    report = check(good)
    assert report.ok and not report.warnings, [f.as_line() for f in report.findings]
    bad = write(tmp_path, {"bad.yml": DATA_IMPORT.replace("type: database", "type: spreadsheet")})
    assert only_error(check(bad), "load").key.startswith("source")


ENDPOINT_DEPLOYMENT = f"""
$schema: {S}/managedOnlineDeployment.schema.json
name: blue
endpoint_name: my-endpoint
model: azureml:my-model:1
code_configuration:
  code: ./onlinescoring
  scoring_script: score.py
environment: azureml:my-env:3
instance_type: Standard_DS3_v2
instance_count: 1
"""


def test_reference_check_is_for_this_repository(tmp_path: Path) -> None:
    write(tmp_path, {"onlinescoring/score.py": "def init():\n    pass\n"})
    path = write(tmp_path, {"blue.yml": ENDPOINT_DEPLOYMENT})
    assert check(path).ok, errors(check(path))  # someone else's workspace names
    asked = {f.check for f in check(path, references=True).errors}
    assert asked == {"reference"}


def amlignore_job(tmp_path: Path) -> Path:
    write(tmp_path, {"src/train.py": TRAIN, "src/data/big.csv": "1,2,3,4\n" * 20_000})
    text = f"""
    $schema: {S}/commandJob.schema.json
    command: python train.py
    code: ./src
    environment: {ENV}
    """
    return write(tmp_path, {"job.yml": text})


def test_ignore_rules_are_azure_ml_s(tmp_path: Path) -> None:
    path = amlignore_job(tmp_path)
    assert only_error(check(path), "code-folder").key == "code"
    (tmp_path / "src" / ".gitignore").write_text("data/\n")  # the fallback without .amlignore
    assert check(path).ok, errors(check(path))
    (tmp_path / "src" / ".amlignore").write_text("*.csv\n!big.csv\n")  # negation re-includes
    assert "big.csv" in only_error(check(path), "code-folder").message


ENVIRONMENT = f"""
$schema: {S}/environment.schema.json
name: sklearn-env
version: 1
image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
conda_file: conda.yml
"""

# --- new checks -----------------------------------------------------------------------------


def test_conda_file_keys_and_pip_entries(tmp_path: Path) -> None:
    env = ENVIRONMENT
    conda = "name: e\ndependency:\n  - python=3.11\n  - pip:\n    - scikit-learn=1.5.2\n"
    write(tmp_path, {"env.yml": env, "conda.yml": conda})
    # the misspelt key hides the list, so fix it first and see the pip entry
    found = {(f.key, f.check) for f in check(tmp_path / "env.yml").errors}
    assert found == {("dependency", "conda-file")}
    (tmp_path / "conda.yml").write_text(conda.replace("dependency:", "dependencies:"))
    finding = only_error(check(tmp_path / "env.yml"), "conda-file")
    assert finding.key == "dependencies[1].pip[0]" and "scikit-learn==1.5.2" in finding.fix
    good = conda.replace("dependency:", "dependencies:").replace("=1.5.2", "==1.5.2")
    (tmp_path / "conda.yml").write_text(good + "    - --extra-index-url https://x.org/simple\n")
    report = check(tmp_path / "env.yml")
    assert report.ok and next(f.message for f in report.notes).startswith("not resolved")


def test_conda_file_that_does_not_resolve(tmp_path: Path) -> None:
    env = ENVIRONMENT
    conda = "dependencies:\n  - python=3.11\n  - pip:\n    - numpy==1.26.4\n    - pandas==2.2.3\n"
    write(tmp_path, {"env.yml": env, "conda.yml": conda})
    assert check(tmp_path / "env.yml", offline=False).ok
    (tmp_path / "conda.yml").write_text(conda.replace("numpy==1.26.4", "numpy==1.19.5"))
    finding = only_error(check(tmp_path / "env.yml", offline=False), "conda-file")
    assert finding.key == "dependencies" and "numpy" in finding.message


def search_pipeline(space: str) -> str:
    return f"""
    $schema: {S}/pipelineJob.schema.json
    type: pipeline
    settings:
      default_compute: azureml:cpu-cluster
    inputs:
      raw:
        type: uri_folder
        path: ./data
    jobs:
      tune:
        type: sweep
        trial: ./components/train.yml
        inputs:
          training_data: ${{{{parent.inputs.raw}}}}
        sampling_algorithm: random
        search_space:
          {space}
        objective:
          goal: maximize
          primary_metric: accuracy
        limits:
          max_total_trials: 4
    """


@pytest.mark.parametrize(
    ("space", "key", "text"),
    [
        ("solver: {type: choice, values: [lbfgs, adam]}", "values", "adam"),
        ("max_epochs: {type: choice, values: [5, 50]}", "values", "above"),
        ("max_epochs: {type: randint, upper: 40}", "upper", "39"),
        ("max_epochs: {type: uniform, min_value: 0, max_value: 10}", "min_value", "below"),
    ],
)
def test_search_space_outside_the_trial_input(
    tmp_path: Path, space: str, key: str, text: str
) -> None:
    good = with_component(
        tmp_path, "good.yml", search_pipeline("max_epochs: {type: choice, values: [5, 10]}")
    )
    assert check(good).ok, errors(check(good))
    bad = with_component(tmp_path, "bad.yml", search_pipeline(space))
    found = check(bad).errors  # randint from 0 also falls below `min: 1`
    assert found and {f.check for f in found} == {"search-space"}, errors(check(bad))
    assert any(f.key.endswith(f".{key}") and text in f.message for f in found)


def test_dependency_cycle_between_steps(tmp_path: Path) -> None:
    text = f"""
    $schema: {S}/pipelineJob.schema.json
    type: pipeline
    settings:
      default_compute: azureml:cpu-cluster
    jobs:
      first:
        type: command
        component: ./components/train.yml
        inputs:
          training_data: ${{{{parent.jobs.second.outputs.model_output}}}}
          max_epochs: 5
          solver: saga
      second:
        type: command
        component: ./components/train.yml
        inputs:
          training_data: ${{{{parent.jobs.first.outputs.model_output}}}}
          max_epochs: 5
          solver: saga
    """
    finding = only_error(check(with_component(tmp_path, "cycle.yml", text)), "cycle")
    assert "first -> second -> first" in finding.message


@pytest.mark.parametrize("value", ["./data", "azureml:mnist:1"])
def test_a_path_or_asset_string_bound_to_a_data_input_is_data(tmp_path: Path, value: str) -> None:
    # azure-ai-ml turns the string into `{type: uri_folder, path: <value>}`
    body = pipeline("./components/train.yml").replace("${{parent.inputs.raw}}", value)
    report = check(with_component(tmp_path, "good.yml", body))
    assert report.ok, errors(report)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("./dta", "uri_folder"),
        ("mnist", "uri_folder"),
        ("7", "uri_folder"),
    ],
)
def test_literal_bound_to_a_data_input(tmp_path: Path, value: str, text: str) -> None:
    body = pipeline("./components/train.yml").replace("${{parent.inputs.raw}}", value)
    found = check(with_component(tmp_path, "bad.yml", body)).errors
    [finding] = [f for f in found if f.check == "input-type"]  # for 7 the SDK's load fails too
    assert finding.key == "jobs.train.inputs.training_data" and text in finding.message
    assert {f.check for f in found} <= {"input-type", "load"}


def test_text_bound_to_an_integer_input(tmp_path: Path) -> None:
    body = pipeline("./components/train.yml").replace("max_epochs: 5", "max_epochs: five")
    finding = only_error(check(with_component(tmp_path, "bad.yml", body)), "input-type")
    assert finding.key == "jobs.train.inputs.max_epochs"


@pytest.mark.parametrize(("epochs", "ok"), [("5", True), ("five", False)])
def test_a_pipeline_input_bound_to_an_integer_input_is_checked_by_its_value(
    tmp_path: Path, epochs: str, ok: bool
) -> None:
    """azureml-examples' pipelines bind `${{parent.inputs.X}}` to typed component inputs: the
    pipeline input's value is what must be an integer, not the expression's text."""
    body = (
        pipeline("./components/train.yml")
        .replace("max_epochs: 5", "max_epochs: ${{parent.inputs.epochs}}")
        .replace("    inputs:\n      raw:", f"    inputs:\n      epochs: {epochs}\n      raw:")
    )
    assert "epochs: " + epochs in body
    report = check(with_component(tmp_path, "pipeline.yml", body))
    if ok:
        assert report.ok, errors(report)
    else:
        finding = only_error(report, "input-type")
        assert finding.key == "jobs.train.inputs.max_epochs"
        assert "'${{parent.inputs.epochs}}' (= 'five') is not an integer" in finding.message


def test_an_inline_environments_conda_file_is_not_advised_a_job_schema(tmp_path: Path) -> None:
    (tmp_path / "conda.yml").write_text(
        "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n"
    )
    (tmp_path / "job.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "type: command\ncommand: echo hi\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1\n"
        "  conda_file: ./conda.yml\n"
    )
    (tmp_path / "notes.yml").write_text("foo: 1\n")
    report = validate([tmp_path], offline=True)
    kinds = {f.file.name for f in report.findings if f.check == "kind"}
    assert kinds == {"notes.yml"}, [f.as_line() for f in report.findings]


def test_an_inline_environments_conda_file_is_resolved_like_an_environment_yamls(
    tmp_path: Path,
) -> None:
    """The real resolver: two pins of numpy cannot both hold (found by a new-user review)."""
    (tmp_path / "conda.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pip:\n      - numpy==1.26.4\n      - numpy==2.0.0\n"
    )
    (tmp_path / "job.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "type: command\ncommand: echo hi\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20250601.v1\n"
        "  conda_file: ./conda.yml\n"
    )
    report = validate([tmp_path / "job.yml"])
    found = [f for f in report.findings if f.check == "conda-file"]
    assert found and found[0].file == (tmp_path / "conda.yml").resolve(), report.findings
    assert "numpy==1.26.4" in found[0].message and "numpy==2.0.0" in found[0].message


@pytest.mark.parametrize("compute", ["serverles", "azureml:serverles", "servrless", "locall"])
def test_a_typo_of_a_built_in_compute_is_suggested_outside_the_checkout(
    tmp_path: Path, compute: str
) -> None:
    # Built-in names: `serverless` (https://learn.microsoft.com/azure/machine-learning/
    # how-to-use-serverless-compute) and `local`; outside the checkout other names are not checked.
    text = f"$schema: {S}/commandJob.schema.json\ncommand: echo hi\nenvironment: {ENV}\n"
    path = write(tmp_path, {"job.yml": text + f"compute: {compute}\n"})
    report = check(path)
    assert report.ok  # a workspace may have a compute by that name: a warning, not an error
    [warning] = [f for f in report.warnings if f.key == "compute"]
    expected = "local" if "loc" in compute else "serverless"
    assert f"did you mean `{expected}`?" in warning.fix, warning.as_line()
    for fine in ("serverless", "cpu-cluster", "azureml:gpu-cluster"):
        fine_path = write(tmp_path, {"ok.yml": text + f"compute: {fine}\n"})
        assert not [f for f in check(fine_path).findings if f.key == "compute"], fine


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("max_epochs: 5", "max_epochs: 25", "25 is above its max 20"),
        ("max_epochs: 5", "max_epochs: 0", "0 is below its min 1"),
        ("solver: saga", "solver: adam", "'adam' is not one of its enum values (lbfgs, saga)"),
    ],
)
def test_a_literal_outside_the_components_min_max_or_enum(
    tmp_path: Path, old: str, new: str, said: str
) -> None:
    """azure-ai-ml's Input: "If a value below min is passed, the job execution will fail"."""
    body = pipeline("./components/train.yml").replace(old, new)
    finding = only_error(check(with_component(tmp_path, "bad.yml", body)), "input-type")
    assert said in finding.message and "on Azure the job fails" in finding.message
