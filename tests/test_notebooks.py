"""The hands-on notebooks: committed clean, and run top to bottom in local mode on tiny data."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest
from jupytext.config import load_jupytext_config
from jupytext.paired_paths import paired_paths
from nbclient import NotebookClient

from workshop import notebook_support as nb
from workshop.local_endpoint import png_to_pixels
from workshop.paths import ROOT

NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = (
    "01-explore-and-train-locally.ipynb",
    "02-run-on-the-cluster.ipynb",
    "03-deploy-and-score.ipynb",
)
MODE_LINE = re.compile(r"^MODE\s*=\s*(.+)$", re.MULTILINE)


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def mode_cell(notebook: nbformat.NotebookNode) -> int:
    """The index of the code cell that sets MODE."""
    cells = enumerate(notebook.cells)
    return next(i for i, c in cells if c.cell_type == "code" and MODE_LINE.search(c.source))


def test_the_three_notebooks_exist_and_nothing_else() -> None:
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


# ------------------------------------------------------------------------- the paired sources


def pair_of(notebook: Path) -> Path:
    """The percent-format source jupytext pairs with `notebook`, from the repository's config."""
    config = load_jupytext_config(str(notebook.parent))
    assert config is not None, "no jupytext configuration ([tool.jupytext] in pyproject.toml)"
    formats = config.default_formats(str(notebook))
    paths = paired_paths(str(notebook), "ipynb", formats)
    (source,) = [Path(path) for path, fmt in paths if fmt.get("format_name") == "percent"]
    return source


def drift(notebook: Path, source: Path) -> list[str]:
    """How the .ipynb differs from its .py pair, both read by jupytext: cells and kernel."""
    ipynb = jupytext.read(notebook)
    percent = jupytext.read(source, fmt="py:percent")
    found: list[str] = []
    if ipynb.metadata.get("kernelspec") != percent.metadata.get("kernelspec"):
        found.append(f"kernelspec: {ipynb.metadata.get('kernelspec')} != the .py header's")
    if len(ipynb.cells) != len(percent.cells):
        found.append(f"{len(ipynb.cells)} cells in the .ipynb, {len(percent.cells)} in the .py")
    for index, (a, b) in enumerate(zip(ipynb.cells, percent.cells, strict=False)):
        if (a.cell_type, a.source) != (b.cell_type, b.source):
            first = (b.source.splitlines() or [""])[0][:60]
            found.append(f"cell {index} ({b.cell_type}, {first!r}) differs")
    return found


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_matches_its_percent_format_source(name: str) -> None:
    notebook = NOTEBOOKS_DIR / name
    source = pair_of(notebook)
    assert source == notebook.with_suffix(".py") and source.is_file(), source
    differences = drift(notebook, source)
    assert not differences, (
        f"{name} and {source.name} have drifted: {'; '.join(differences)}. "
        f"Edit {source.name}, then run: jupytext --sync notebooks/{source.name}"
    )


def test_drift_is_caught_in_either_file(tmp_path: Path) -> None:
    name = NOTEBOOKS[0]
    notebook, source = tmp_path / name, tmp_path / name.replace(".ipynb", ".py")
    notebook.write_bytes((NOTEBOOKS_DIR / name).read_bytes())
    source.write_bytes((NOTEBOOKS_DIR / name).with_suffix(".py").read_bytes())
    assert drift(notebook, source) == []

    edited = nbformat.read(notebook, as_version=4)
    code = next(i for i, c in enumerate(edited.cells) if c.cell_type == "code")
    edited.cells[code].source += "\nprint('edited in Jupyter')"
    nbformat.write(edited, notebook)
    (found,) = drift(notebook, source)
    assert found.startswith(f"cell {code} (code, ") and found.endswith("differs"), found

    notebook.write_bytes((NOTEBOOKS_DIR / name).read_bytes())
    text = source.read_text(encoding="utf-8")
    source.write_text(text + "\n# %% [markdown]\n# 追加 / added\n", encoding="utf-8")
    assert drift(notebook, source) == [
        f"{len(edited.cells)} cells in the .ipynb, {len(edited.cells) + 1} in the .py"
    ]


def test_the_shared_cells_are_the_same_in_every_notebook() -> None:
    """Kernel check, mode, set-up and the workspace connection read alike in all three."""
    notebooks = [read(name) for name in NOTEBOOKS]

    def connect(notebook: nbformat.NotebookNode) -> list[str]:
        start = next(
            i
            for i, c in enumerate(notebook.cells)
            if c.source.startswith("### ワークスペースに接続")
        )
        return [c.source for c in notebook.cells[start : start + 2]]

    for name, notebook in zip(NOTEBOOKS[1:], notebooks[1:], strict=True):
        assert [c.source for c in notebook.cells[1:7]] == [
            c.source for c in notebooks[0].cells[1:7]
        ], f"{name}: the kernel, mode and set-up cells differ from {NOTEBOOKS[0]}'s"
        assert connect(notebook) == connect(notebooks[0]), name


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs_or_execution_counts(name: str) -> None:
    notebook = read(name)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} carry outputs or execution counts; clear them"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_mode_setting_defaulting_to_local(name: str) -> None:
    notebook = read(name)
    settings = [
        (index, value)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for value in MODE_LINE.findall(cell.source)
    ]
    assert settings == [(settings[0][0], '"local"')], settings
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    # The kernel check comes first (it must stop a wrong kernel before anything else runs);
    # MODE is the first code cell after it.
    assert "wrong kernel" in notebook.cells[code[0]].source, "the kernel check must come first"
    assert settings[0][0] == code[1], "MODE must be the first code cell after the kernel check"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_markdown_is_japanese_with_english(name: str) -> None:
    for cell in read(name).cells:
        if cell.cell_type != "markdown":
            continue
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", cell.source), cell.source[:80]
        assert re.search(r"\b(the|and|of|to)\b", cell.source), cell.source[:80]


def test_azure_mode_uses_the_v2_sdk_on_the_job_yamls() -> None:
    """Azure cells: config.json, the YAMLs under jobs/, jobs, sweeps and managed endpoints."""
    source = "\n".join(
        cell.source for name in NOTEBOOKS for cell in read(name).cells if cell.cell_type == "code"
    )
    for needle in (
        "MLClient.from_config(credential)",
        'load_job(JOBS_DIR / "train-knn.yml")',
        'load_job(JOBS_DIR / "sweep-knn.yml")',
        "ml_client.jobs.create_or_update(",
        "ml_client.jobs.stream(",
        'load_online_endpoint(JOBS_DIR / "endpoint.yml")',
        'load_online_deployment(JOBS_DIR / "deployment.yml")',
        "ml_client.online_endpoints.invoke(",
        "ml_client.online_endpoints.begin_delete(",
        "azureml://jobs/{best_trial_job}/outputs/model/paths/",
    ):
        assert needle in source, needle


# ------------------------------------------------------------------------- running them


def run_notebook(name: str) -> nbformat.NotebookNode:
    notebook = read(name)
    client = NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    return notebook


def text_of(notebook: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_every_notebook_runs_top_to_bottom_in_local_mode(
    synthetic_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(synthetic_mnist))
    monkeypatch.setenv("WORKSHOP_HOME", str(home))
    monkeypatch.setenv(nb.SMALL_ENV, "1")
    # This sandbox sets PYTHONDONTWRITEBYTECODE, so every kernel and job process would compile
    # all of mlflow and scikit-learn again (~7 s each); a trainee's Python caches bytecode.
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    seconds: dict[str, float] = {}
    texts: dict[str, str] = {}
    for name in NOTEBOOKS:
        started = time.monotonic()
        texts[name] = text_of(run_notebook(name))
        seconds[name] = time.monotonic() - started
    print("notebook seconds:", {k: round(v, 1) for k, v in seconds.items()})

    assert re.search(r"test accuracy: \d\.\d{4}", texts[NOTEBOOKS[0]])
    assert "[[" in texts[NOTEBOOKS[0]]  # the confusion matrix, printed
    assert re.search(r"best trial: .*accuracy \d\.\d{4}", texts[NOTEBOOKS[1]])
    assert "logistic regression (01, local)" in texts[NOTEBOOKS[1]]
    assert f"registered: {nb.MODEL_NAME} version 1" in texts[NOTEBOOKS[2]]
    assert re.search(r"\d of 8 right", texts[NOTEBOOKS[2]])
    assert "local endpoint stopped" in texts[NOTEBOOKS[2]]

    state = json.loads((home / "notebooks" / "state.json").read_text(encoding="utf-8"))
    assert {"logreg_accuracy", "best_model_dir", "best_accuracy"} <= set(state)
    assert (Path(state["best_model_dir"]) / "MLmodel").is_file()
    assert (home / "notebooks" / "my-digit.png").is_file()
    assert not (ROOT / "notebooks" / ".workshop").exists()  # nothing written beside them


# ------------------------------------------------------------------------- the helpers


def test_mode_must_be_local_or_azure() -> None:
    assert nb.check_mode("local") == "local"
    with pytest.raises(ValueError, match='use "local"'):
        nb.check_mode("Azure")


def test_small_runs_trim_the_sweep_and_azure_runs_the_whole_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(nb.SMALL_ENV, "1")
    assert nb.sweep_overrides("local")["limits.max_total_trials"] == 2
    assert nb.knn_overrides("local") == {"inputs.kmax": 4}
    assert nb.sweep_overrides("azure") == {} and nb.knn_overrides("azure") == {}
    monkeypatch.delenv(nb.SMALL_ENV)
    assert nb.sweep_overrides("local")["search_space.representation.values"] == ["pca50"]
    assert nb.knn_overrides("local") == {}


def test_state_survives_and_a_missing_step_names_its_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    assert nb.load_state() == {}
    nb.save_state(a=1)
    assert nb.save_state(b="x") == {"a": 1, "b": "x"}
    with pytest.raises(RuntimeError, match=re.escape("run 02-run-on-the-cluster.ipynb first")):
        nb.require(nb.load_state(), "best_model_dir", "02-run-on-the-cluster.ipynb")
    nb.state_file().write_text("{broken", encoding="utf-8")
    with pytest.raises(ValueError, match="delete it and rerun"):
        nb.load_state()


def test_the_drawn_digit_becomes_an_mnist_like_image(tmp_path: Path) -> None:
    pixels = png_to_pixels(nb.draw_digit(tmp_path / "seven.png")).reshape(28, 28)
    assert pixels.dtype == np.uint8
    ink = pixels > 50
    rows, cols = np.where(ink)
    # light ink on black, fitted into the central 20x20 box as MNIST digits are
    assert pixels[0].max() == 0 and pixels[-1].max() == 0
    assert rows.min() >= 3 and rows.max() <= 24 and cols.min() >= 3 and cols.max() <= 24
    assert 40 < ink.sum() < 300
    # a 7: the top bar is wider than the bottom of the stroke
    assert ink[rows.min()].sum() > ink[rows.max()].sum()


# ------------------------------------------------------------------------- azure mode, faked

FAKE_WORKSPACE = """\
import json
import sys
from types import SimpleNamespace
from unittest.mock import MagicMock, create_autospec

sys.path.insert(0, {root!r})
import azure.ai.ml
import azure.identity
from azure.ai.ml.operations import ModelOperations
from tests.fakes.cloud import fake_ml

fake = fake_ml()
fake.models = create_autospec(ModelOperations, instance=True)
fake.models.create_or_update.return_value = SimpleNamespace(name="mnist-classifier", version="3")
fake.online_endpoints.get.return_value = SimpleNamespace(traffic={{}}, scoring_uri="https://e/score")


def fake_invoke(**kwargs):
    rows = json.loads(open(kwargs["request_file"], encoding="utf-8").read())["data"]
    return json.dumps({{"predictions": [7] * len(rows)}})


fake.online_endpoints.invoke.side_effect = fake_invoke
azure.ai.ml.MLClient.from_config = lambda credential, **kwargs: fake
azure.identity.DefaultAzureCredential = MagicMock
"""

CHECK_WORKSPACE_CALLS = """\
(model,), _ = fake.models.create_or_update.call_args
assert model.path == "azureml://jobs/trial-job-7/outputs/model/paths/", model.path
assert model.name == "mnist-classifier" and model.type == "mlflow_model"
endpoints = [c.args[0] for c in fake.online_endpoints.begin_create_or_update.call_args_list]
assert endpoints[0].name == endpoint_name and endpoint_name.startswith("mnist-")
(deployed,), _ = fake.online_deployments.begin_create_or_update.call_args
assert deployed.endpoint_name == endpoint_name, deployed.endpoint_name
assert deployed.model == "azureml:mnist-classifier:3", deployed.model
assert endpoints[-1].traffic == {deployed.name: 100}
assert fake.online_endpoints.invoke.call_count == 2  # 8 test digits, then the drawn one
fake.online_endpoints.begin_delete.assert_called_once_with(name=endpoint_name)
print("AZURE-CALLS-OK")
"""


def test_notebook_03_in_azure_mode_against_an_autospecd_workspace(
    synthetic_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The azure branch: register the best trial's output, deploy from jobs/, invoke, delete."""
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(synthetic_mnist))
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    nb.save_state(best_trial_job="trial-job-7", best_accuracy=0.97)
    notebook = read(NOTEBOOKS[2])
    mode = mode_cell(notebook)
    notebook.cells[mode].source = 'MODE = "azure"'
    notebook.cells.insert(
        mode + 1, nbformat.v4.new_code_cell(FAKE_WORKSPACE.format(root=str(ROOT)))
    )
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_WORKSPACE_CALLS))
    NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    ).execute()
    assert "AZURE-CALLS-OK" in text_of(notebook)
    assert nb.load_state()["endpoint_name"] is None  # deleted, so forgotten


FAKE_TRACKING = """\
from mlflow.tracking import MlflowClient
from tests.fakes.cloud import job as fake_job

from workshop import notebook_support

tracking_store = {uri!r}
mlc = MlflowClient(tracking_uri=tracking_store)
experiment_id = mlc.create_experiment("amls-learn-experiment")
knn_run = mlc.create_run(experiment_id, run_name="mnist-knn").info.run_id
for k, value in ((1, 0.96), (3, 0.97), (5, 0.965)):
    mlc.log_metric(knn_run, "accuracy_k", value, step=k)
mlc.log_metric(knn_run, "best_k", 3)
mlc.log_metric(knn_run, "accuracy", 0.97)
sweep_run = mlc.create_run(experiment_id, run_name="mnist-knn-sweep").info.run_id
trials = {{}}
for k, accuracy in ((1, 0.971), (3, 0.975)):
    tags = {{"mlflow.parentRunId": sweep_run}}
    trial = mlc.create_run(experiment_id, run_name=f"trial-k{{k}}", tags=tags).info.run_id
    mlc.log_param(trial, "k", k)
    mlc.log_param(trial, "representation", "pca50")
    mlc.log_metric(trial, "accuracy", accuracy)
    trials[k] = trial
objective = SimpleNamespace(primary_metric="accuracy", goal="maximize")
jobs = {{
    knn_run: fake_job(knn_run, "Completed"),
    sweep_run: fake_job(
        sweep_run, "Completed", type="sweep", objective=objective,
        properties={{"best_child_run_id": trials[3]}},
    ),
}}
submit = {{"command": knn_run, "sweep": sweep_run}}
fake.jobs.create_or_update.side_effect = lambda j: jobs[submit[j.type]]
fake.jobs.get.side_effect = lambda name: jobs[name]
notebook_support.azure_tracking_uri = lambda ml_client, credential: tracking_store
"""

CHECK_JOBS = """\
submitted = [c.args[0] for c in fake.jobs.create_or_update.call_args_list]
assert [j.type for j in submitted] == ["command", "sweep"], submitted
assert str(submitted[0].compute).endswith("cpu-cluster"), submitted[0].compute
assert submitted[1].limits.max_total_trials == 14
assert sorted(c.args[0] for c in fake.jobs.stream.call_args_list) == sorted(jobs)
assert by_k == {1: 0.96, 3: 0.97, 5: 0.965}, by_k
assert nb.load_state()["best_trial_job"] == trials[3]
print("AZURE-JOBS-OK")
"""


def test_notebook_02_in_azure_mode_submits_the_yamls_and_reads_the_best_trial(
    synthetic_mnist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(synthetic_mnist))
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    notebook = read(NOTEBOOKS[1])
    mode = mode_cell(notebook)
    notebook.cells[mode].source = 'MODE = "azure"'
    uri = f"sqlite:///{tmp_path / 'workspace-mlflow.db'}"
    fakes = FAKE_WORKSPACE.format(root=str(ROOT)) + FAKE_TRACKING.format(uri=uri)
    notebook.cells.insert(mode + 1, nbformat.v4.new_code_cell(fakes))
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_JOBS))
    NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    ).execute()
    text = text_of(notebook)
    assert "AZURE-JOBS-OK" in text
    assert "best trial: {'k': '3', 'representation': 'pca50'} accuracy 0.9750" in text
