"""What the hands-on notebooks (notebooks/*.ipynb) share, kept out of the cells they teach with.

The notebooks call the project's own APIs for the real work (the data layer, the local runner,
the local endpoint, azure-ai-ml); this module holds only the glue: the MODE switch, how much work
a run does (`WORKSHOP_NOTEBOOK_SMALL=1` for tests), a small state file that carries results from
one notebook to the next, reads from the local MLflow store, and a hand-drawn digit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workshop.names import EXPERIMENT
from workshop.names import MODEL_NAME as MODEL_NAME  # the notebooks read nb.MODEL_NAME
from workshop.paths import runs_dir

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

    from workshop.azure.jobs import AzureTracking, Tracking

MODES = ("local", "azure")
SMALL_ENV = "WORKSHOP_NOTEBOOK_SMALL"


def check_mode(mode: str) -> str:
    """The MODE cell's value, or a clear error naming the two that exist."""
    if mode not in MODES:
        raise ValueError(f'MODE = {mode!r}: use "local" (this machine) or "azure" (config.json)')
    return mode


def small() -> bool:
    """True when the notebooks should do as little work as possible (tests set it)."""
    return os.environ.get(SMALL_ENV, "") == "1"


def knn_overrides(mode: str) -> dict[str, Any]:
    """`--set` overrides for jobs/train-knn.yml: none, except a short k range when small."""
    return {"inputs.kmax": 4} if mode == "local" and small() else {}


def sweep_overrides(mode: str) -> dict[str, Any]:
    """`--set` overrides for jobs/sweep-knn.yml.

    Azure: none, the whole 7 x 2 grid on the cluster (three trials at a time). Local: the grid
    `workshop demo` uses (k 1, 3, 5 on PCA-50: train-knn has already scored raw pixels for every
    k), two trials at a time on a laptop; small: two trials.
    """
    if mode == "azure":
        return {}
    if small():
        return {
            "search_space.k.values": [1, 3],
            "search_space.representation.values": ["raw"],
            "limits.max_total_trials": 2,
            "limits.max_concurrent_trials": 2,
        }
    return {
        "search_space.k.values": [1, 3, 5],
        "search_space.representation.values": ["pca50"],
        "limits.max_total_trials": 3,
        "limits.max_concurrent_trials": 2,
    }


# ------------------------------------------------------------------------------ state


def state_file() -> Path:
    return runs_dir() / "notebooks" / "state.json"


def load_state() -> dict[str, Any]:
    """What earlier notebooks saved (empty when none ran yet)."""
    path = state_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg}); delete it and rerun") from exc
    return data if isinstance(data, dict) else {}


def save_state(**updates: Any) -> dict[str, Any]:
    """Merge `updates` into the state file (written atomically) and return the whole state."""
    state = {**load_state(), **updates}
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return state


def require(state: dict[str, Any], key: str, notebook: str) -> Any:
    """A value an earlier notebook saved, or an error that says which notebook to run first."""
    if key not in state:
        raise RuntimeError(f"{key!r} is not saved yet: run {notebook} first (top to bottom)")
    return state[key]


# ------------------------------------------------------------------------------ local MLflow


def latest_local_run(job_file_stem: str) -> dict[str, Any] | None:
    """The newest finished local run of a job YAML (the runner names runs after the file)."""
    from mlflow.tracking import MlflowClient

    from workshop.runner.tracking import store_uri

    client = MlflowClient(tracking_uri=store_uri())
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.run_name = '{job_file_stem}' AND attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    return {"run_id": runs[0].info.run_id, "metrics": dict(runs[0].data.metrics)}


def accuracy_by_k(tracking: Tracking, run_id: str) -> dict[int, float]:
    """The kNN run's `accuracy_k` history (step = k) from any MLflow tracking server."""
    from workshop.azure.jobs import mlflow_store

    history = mlflow_store(tracking).get_metric_history(run_id, "accuracy_k")
    return {int(m.step): float(m.value) for m in sorted(history, key=lambda m: m.step)}


# ------------------------------------------------------------------------------ Azure


def azure_tracking_uri(ml_client: MLClient, credential: TokenCredential) -> AzureTracking:
    """The workspace's MLflow endpoint (HTTPS) and where its bearer tokens come from.

    Not a bare URI: the token goes with each MLflow request, never into the kernel's environment
    (where `!` shell commands and every other child would inherit it). No azureml-mlflow needed.
    """
    from workshop.azure.jobs import workspace_tracking
    from workshop.azure.session import Session, Workspace

    workspace = Workspace(
        subscription_id=str(ml_client.subscription_id),
        resource_group=str(ml_client.resource_group_name),
        name=str(ml_client.workspace_name),
        source="config.json",
    )
    return workspace_tracking(Session(workspace, credential, ml_client))


# ------------------------------------------------------------------------------ a drawn digit

# A "7" as a pen would draw it, in a 0-100 square: the top bar with a slight slope, then the
# diagonal stroke with a bend, and the short crossbar many people add.
_SEVEN = (
    [(22, 20), (48, 18), (78, 17)],
    [(78, 17), (66, 42), (55, 64), (47, 86)],
    [(44, 52), (60, 51), (72, 50)],
)


def draw_digit(path: Path, *, size: int = 200, ink: int = 14) -> Path:
    """Draw a hand-drawn-looking 7 (dark ink on white paper, as a scan or photo would be)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (size, size), color=255)
    pen = ImageDraw.Draw(image)
    scale = size / 100
    for stroke in _SEVEN:
        points = [(x * scale, y * scale) for x, y in stroke]
        pen.line(points, fill=20, width=ink, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen tips
            pen.ellipse((x - ink / 2, y - ink / 2, x + ink / 2, y + ink / 2), fill=20)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
