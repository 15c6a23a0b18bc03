"""The hands-on notebooks: committed clean, and run top to bottom in local mode on tiny data."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
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


def test_the_three_notebooks_exist_and_nothing_else() -> None:
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


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
    first_code = next(i for i, c in enumerate(notebook.cells) if c.cell_type == "code")
    assert settings[0][0] == first_code, "MODE must be the first code cell"


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
        "azureml://jobs/{best_trial_job}/outputs/model",
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
