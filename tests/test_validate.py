"""`workshop validate`: the real jobs/ pass, and every check fires on a YAML broken for it.

Each broken case copies the real jobs/ into a temporary checkout (src/ and data/ linked back),
breaks one thing in one file, validates that file and asserts the check, the key and the fix.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from workshop.cli import app
from workshop.errors import ExitCode, WorkshopError
from workshop.paths import JOBS_DIR, ROOT
from workshop.validate import Finding, validate
from workshop.validate.metrics import entry_module, logged_metrics

ENVIRONMENT_VERSION = yaml.safe_load((JOBS_DIR / "environment.yml").read_text())["version"]

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of jobs/ whose `../src` and `../data` resolve to the real checkout's."""
    shutil.copytree(JOBS_DIR, tmp_path / "jobs")
    (tmp_path / "src").symlink_to(ROOT / "src")
    (tmp_path / "data").mkdir()
    return tmp_path / "jobs"


def broken(jobs: Path, name: str, mutate: Mutation) -> Path:
    path = jobs / name
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def only(findings: list[Finding], check: str) -> Finding:
    """The single error of `check`; fails when another check fires as well or none does."""
    errors = [f for f in findings if f.severity == "error"]
    assert [f.check for f in errors] == [check], [f.as_line() for f in errors]
    return errors[0]


def assert_names(finding: Finding, path: Path, key: str, *fix: str) -> None:
    assert finding.file == path.resolve()
    assert finding.key == key
    for text in fix:
        assert text in finding.fix or text in finding.message, finding.as_line()


def test_real_jobs_pass() -> None:
    report = validate([JOBS_DIR])
    assert report.ok, [f.as_line() for f in report.errors]
    names = {p.name for p in report.files}
    assert {"pipeline.yml", "sweep-knn.yml", "deployment.yml", "prepare-data.yml"} <= names
    assert all(f.check == "local-path" for f in report.warnings)  # at most: data not fetched


def test_undeclared_input_in_command(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["command"] = d["command"].replace("${{inputs.mnist}}", "${{inputs.mnisst}}")

    path = broken(checkout, "train-logreg.yml", mutate)
    findings = validate([path]).errors
    binding = [f for f in findings if f.check == "binding"]
    assert len(binding) == 1
    assert_names(binding[0], path, "command", "declare `inputs.mnisst`", "did you mean `mnist`")


def test_undeclared_output_in_component(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["command"] = d["command"].replace("${{outputs.data}}", "${{outputs.dta}}")

    path = broken(checkout, "components/prepare-data.yml", mutate)
    binding = [f for f in validate([path]).errors if f.check == "binding"]
    assert len(binding) == 1
    assert_names(binding[0], path, "command", "declare `outputs.dta`")


def test_unknown_search_space_name_in_trial(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["trial"]["command"] = d["trial"]["command"].replace(
            "search_space.k}}", "search_space.kk}}"
        )

    path = broken(checkout, "sweep-knn.yml", mutate)
    finding = only(validate([path]).findings, "binding")
    assert_names(finding, path, "trial.command", "declare `search_space.kk`")


def test_grid_with_non_choice(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["search_space"]["k"] = {"type": "randint", "upper": 13}

    path = broken(checkout, "sweep-knn.yml", mutate)
    finding = only(validate([path]).findings, "search-space")
    assert_names(finding, path, "search_space.k.type", "type: choice", "randint")


def test_pipeline_sweep_space_names_a_trial_input(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        space = d["jobs"]["sweep_knn"]["search_space"]
        space["neighbours"] = space.pop("k")

    path = broken(checkout, "pipeline.yml", mutate)
    finding = only(validate([path]).findings, "search-space")
    assert_names(finding, path, "jobs.sweep_knn.search_space.neighbours", "name a trial input")


@pytest.mark.parametrize(
    ("node", "binding", "expected"),
    [
        ("compare_models", "${{parent.jobs.train_logreg.outputs.modle}}", "did you mean `model`"),
        ("compare_models", "${{parent.jobs.train_logrg.outputs.model}}", "did you mean"),
        ("prepare_data", "${{parent.inputs.mnistt}}", "declare `inputs.mnistt`"),
    ],
)
def test_parent_bindings(checkout: Path, node: str, binding: str, expected: str) -> None:
    key = "logreg_model" if node == "compare_models" else "mnist"

    def mutate(d: dict[str, Any]) -> None:
        d["jobs"][node]["inputs"][key] = binding

    path = broken(checkout, "pipeline.yml", mutate)
    findings = [f for f in validate([path]).errors if f.check == "parent"]
    assert len(findings) == 1, findings
    assert_names(findings[0], path, f"jobs.{node}.inputs.{key}", expected)


def test_parent_binding_to_a_sweep_node_uses_the_trial_outputs(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["jobs"]["compare_models"]["inputs"]["knn_model"] = (
            "${{parent.jobs.sweep_knn.outputs.best}}"
        )

    path = broken(checkout, "pipeline.yml", mutate)
    finding = only(validate([path]).findings, "parent")
    assert_names(finding, path, "jobs.compare_models.inputs.knn_model", "outputs: model")


def test_node_input_the_component_does_not_declare(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        inputs = d["jobs"]["train_logreg"]["inputs"]
        inputs["dat"] = inputs.pop("data")

    path = broken(checkout, "pipeline.yml", mutate)
    findings = [f for f in validate([path]).errors if f.check == "node-io"]
    assert len(findings) == 1
    assert_names(findings[0], path, "jobs.train_logreg.inputs.dat", "did you mean `data`")


def test_objective_not_logged(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["objective"]["primary_metric"] = "acuracy"

    path = broken(checkout, "sweep-knn.yml", mutate)
    finding = only(validate([path]).findings, "metric")
    assert_names(finding, path, "objective.primary_metric", "did you mean `accuracy`")


def test_missing_code_folder(checkout: Path) -> None:
    path = broken(checkout, "train-knn.yml", lambda d: d.update(code="../src/trainng"))
    findings = [f for f in validate([path]).errors if f.check == "local-path"]
    assert len(findings) == 1
    assert_names(findings[0], path, "code", "../src/trainng", "relative paths resolve")


def test_missing_scoring_script(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["code_configuration"]["scoring_script"] = "mnist_trainer/scor.py"

    path = broken(checkout, "deployment.yml", mutate)
    finding = only(validate([path]).findings, "local-path")
    assert_names(finding, path, "code_configuration.scoring_script", "relative to")


def test_missing_conda_file(checkout: Path) -> None:
    path = broken(checkout, "environment.yml", lambda d: d.update(conda_file="env/conda.yml"))
    findings = [f for f in validate([path]).errors if f.check == "local-path"]
    assert len(findings) == 1
    assert_names(findings[0], path, "conda_file", "env/conda.yml")


def test_missing_module_in_command(checkout: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["command"] = d["command"].replace("mnist_trainer.prepare", "mnist_trainer.prep")

    path = broken(checkout, "components/prepare-data.yml", mutate)
    finding = only(validate([path]).findings, "local-path")
    assert_names(finding, path, "command", "python -m package.module")


def test_missing_data_cache_is_a_warning(checkout: Path) -> None:
    path = broken(checkout, "data-mnist.yml", lambda d: d.update(path="../data/nothing-here"))
    report = validate([path])
    assert report.ok
    [warning] = report.warnings
    assert_names(warning, path, "path", "workshop data fetch")


def test_code_folder_with_data_tests_and_secrets(checkout: Path) -> None:
    code = checkout / "code"
    (code / "tests").mkdir(parents=True)
    (code / "train.py").write_text("print('hi')\n")
    (code / "digits.csv").write_text("1,2,3\n" * 20_000)  # 120 KB: a data set, not a sample
    (code / "explore.ipynb").write_text("{}")  # a small notebook is no problem
    (code / "tests" / "helpers.py").write_text("")
    (code / ".env").write_text("KEY=secret\n")
    path = broken(
        checkout,
        "train-knn.yml",
        lambda d: d.update(code="code", command="python train.py ${{inputs.mnist}}"),
    )
    finding = only(validate([path]).findings, "code-folder")
    assert_names(finding, path, "code", "digits.csv", ".env", "tests/helpers.py")
    assert "explore.ipynb" not in finding.message


def test_code_folder_over_one_megabyte(checkout: Path) -> None:
    code = checkout / "code"
    code.mkdir()
    (code / "train.py").write_text("import helpers\n")
    (code / "helpers.py").write_text("# " + "x" * 1_100_000 + "\n")  # the command names train.py
    path = broken(
        checkout, "train-knn.yml", lambda d: d.update(code="code", command="python train.py")
    )
    finding = only(validate([path]).findings, "code-folder")
    assert_names(finding, path, "code", "1 MB")


@pytest.mark.parametrize(
    ("name", "mutate", "key", "expected"),
    [
        (
            "train-logreg.yml",
            lambda d: d.update(compute="azureml:gpu-cluster"),
            "compute",
            "cpu-cluster",
        ),
        (
            "train-logreg.yml",
            lambda d: d.update(environment="azureml:mnist-sklearn:2"),
            "environment",
            f"azureml:mnist-sklearn:{ENVIRONMENT_VERSION}",
        ),
        (
            "train-logreg.yml",
            lambda d: d["inputs"]["mnist"].update(path="azureml:mnist-digits@latest"),
            "inputs.mnist.path",
            "data asset",
        ),
        (
            "deployment.yml",
            lambda d: d.update(model="azureml:mnist-clf@latest"),
            "model",
            "mnist-classifier",
        ),
        (
            "pipeline.yml",
            lambda d: d["settings"].update(default_compute="azureml:cpu"),
            "settings.default_compute",
            "cpu-cluster",
        ),
    ],
)
def test_azureml_references(
    checkout: Path, name: str, mutate: Mutation, key: str, expected: str
) -> None:
    path = broken(checkout, name, mutate)
    finding = only(validate([path], references=True).findings, "reference")
    assert_names(finding, path, key, expected)


def test_sdk_load_error_is_reported_without_traceback(checkout: Path) -> None:
    path = broken(checkout, "endpoint.yml", lambda d: d.update(auth_mode="password"))
    finding = only(validate([path]).findings, "load")
    assert finding.file == path.resolve()
    assert "auth_mode" in finding.key and "Traceback" not in finding.message
    assert "key" in finding.message  # the allowed values the SDK lists


def test_yaml_syntax_error(checkout: Path) -> None:
    path = checkout / "train-logreg.yml"
    path.write_text("type: command\ncommand: [unclosed\n")
    finding = only(validate([path]).findings, "load")
    assert finding.key == "(syntax)" and "line" in finding.message


def test_unknown_yaml_is_a_warning(checkout: Path) -> None:
    path = checkout / "notes.yml"
    path.write_text("hello: world\n")
    report = validate([path])
    assert report.ok and [f.check for f in report.warnings] == ["kind"]


def test_cli_exit_codes_and_json(checkout: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["validate", str(JOBS_DIR)])
    assert good.exit_code == 0, good.output
    assert "0 error(s)" in good.output

    path = broken(checkout, "sweep-knn.yml", lambda d: d["objective"].update(primary_metric="acc"))
    bad = runner.invoke(app, ["validate", str(path)])
    assert isinstance(bad.exception, WorkshopError)  # workshop.cli.main prints it, and exits:
    assert bad.exception.exit_code == ExitCode.BAD_INPUT
    assert "sweep-knn.yml: objective.primary_metric" in bad.output and "fix:" in bad.output

    as_json = runner.invoke(app, ["validate", "--json", str(path)])
    document = json.loads(as_json.stdout)  # one document, nothing else on stdout
    assert document["ok"] is False and document["exit_code"] == ExitCode.BAD_INPUT
    assert document["result"]["findings"][0]["check"] == "metric"
    assert "objective.primary_metric" in as_json.stderr  # the human report, on stderr

    missing = runner.invoke(app, ["validate", str(checkout / "nope.yml")])
    assert missing.exit_code != 0

    empty = checkout / "empty"
    empty.mkdir()
    nothing = runner.invoke(app, ["validate", str(empty)])  # a typo'd folder must not pass
    assert nothing.exit_code != 0 and "no YAML files" in str(nothing.exception)


def test_environment_version_must_match_its_content(checkout: Path) -> None:
    path = checkout / "environment.yml"
    text = path.read_text()
    path.write_text(text.replace(f'version: "{ENVIRONMENT_VERSION}"', 'version: "c000000000000"'))
    finding = only(validate([path], offline=True).findings, "env-version")
    assert_names(finding, path, "version", "make lock", ENVIRONMENT_VERSION)


def test_metric_scanner_follows_imports_and_fstrings(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(
        "import mlflow\nfrom . import report\nfrom pkg.extra import log_more\n"
        'mlflow.log_metric("loss", 1.0)\n'
    )
    (pkg / "report.py").write_text(
        "import mlflow\nm = {'top1': 1.0}\nm['top5'] = 2.0\nmlflow.log_metrics(m)\n"
        "for k in (1, 3):\n    mlflow.log_metric(f'acc_k{k}', 0.5)\n"
    )
    (pkg / "extra.py").write_text(
        "from mlflow import MlflowClient\ndef log_more(run):\n"
        "    MlflowClient().log_metric(run, 'auc', 1.0)\n    name = 'x'\n"
        "    MlflowClient().log_metric(run, name, 1.0)\n"
    )
    entry = entry_module("python -u -m pkg.train --x 1", tmp_path)
    assert entry is not None and entry == pkg / "train.py"
    found = logged_metrics(entry, tmp_path)
    assert found.names == {"loss", "top1", "top5", "auc"}
    assert found.logs("acc_k3") and not found.logs("acc_k") and not found.logs("accuracy")
    assert found.unreadable == 1
    assert entry_module("python scripts/missing.py", tmp_path) is None


def test_amlignore_is_honoured_like_azure_does(checkout: Path) -> None:
    code = checkout / "code"
    (code / "mlruns" / "0").mkdir(parents=True)
    (code / "train.py").write_text("print('hi')\n")
    (code / "mlruns" / "0" / "plot.png").write_bytes(b"png")
    path = broken(
        checkout, "train-knn.yml", lambda d: d.update(code="code", command="python train.py")
    )
    assert only(validate([path]).findings, "code-folder").key == "code"
    (code / ".amlignore").write_text("# local runs\nmlruns/\n")
    assert validate([path]).ok
