"""Create or update the online endpoint and deployment from jobs/, route traffic, try it.

The sample request follows mnist_trainer/score.py's contract ({"data": [[784 pixels 0-255]]}):
the first test digits from the local data cache, or synthetic strokes when the cache is empty.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workshop.errors import WorkshopError
from workshop.paths import JOBS_DIR, data_cache
from workshop_common.errors import first_line

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

ENDPOINT_FILE = JOBS_DIR / "endpoint.yml"
DEPLOYMENT_FILE = JOBS_DIR / "deployment.yml"


@dataclass(frozen=True)
class Deployed:
    endpoint: str
    deployment: str
    scoring_uri: str
    predictions: list[int]
    labels: list[int] | None


def _load(kind: str, path: Path) -> Any:
    from azure.ai.ml import load_online_deployment, load_online_endpoint

    from workshop.sdk import quiet_azure_ml

    quiet_azure_ml()

    loader = load_online_endpoint if kind == "endpoint" else load_online_deployment
    if not path.is_file():
        raise WorkshopError(f"{path}: no such {kind} file", hint=f"see jobs/{kind}.yml")
    try:
        return loader(path)
    except Exception as exc:  # the SDK raises several unrelated types for a bad YAML
        first = first_line(exc)
        raise WorkshopError(
            f"{path}: not a valid online {kind} ({first})",
            hint=f"run `workshop validate {path}`",
        ) from exc


def load_deployment(path: Path = DEPLOYMENT_FILE) -> Any:
    """The deployment YAML as azure-ai-ml loads it (its instance type and count, for preflight)."""
    return _load("deployment", path)


def sample_digits(count: int, cache: Path | None = None) -> tuple[np.ndarray, list[int] | None]:
    """`count` test images (n, 784) uint8 and their labels; synthetic (no labels) without data."""
    from mnist_trainer.idx import FILES, read_idx

    folder = cache or data_cache()
    images_file = folder / FILES["test_images"]
    labels_file = folder / FILES["test_labels"]
    if images_file.is_file() and labels_file.is_file():
        images = read_idx(images_file, 2051)[:count].reshape(-1, 28 * 28)
        labels = read_idx(labels_file, 2049)[:count]
        return images.astype(np.uint8), [int(v) for v in labels]
    strokes = np.zeros((count, 28, 28), dtype=np.uint8)
    for i in range(count):  # vertical bars in different columns: a plausible "1"
        strokes[i, 4:24, 10 + i % 8 : 13 + i % 8] = 255
    return strokes.reshape(count, -1), None


ENDPOINT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]")


def check_endpoint_name(name: str) -> None:
    """Azure's rule for online endpoint names, checked before anything is created."""
    if not ENDPOINT_NAME.fullmatch(name):
        raise WorkshopError(
            f"--endpoint-name {name!r} is not a valid online endpoint name",
            hint="use 3-32 letters, digits and hyphens, starting with a letter and ending with "
            "a letter or digit (unique in the region), e.g. mnist-hanako",
        )


def deploy(
    ml: MLClient,
    *,
    endpoint_file: Path = ENDPOINT_FILE,
    deployment_file: Path = DEPLOYMENT_FILE,
    samples: int = 5,
    endpoint_name: str | None = None,
    progress: Any = print,
) -> Deployed:
    """Endpoint, then deployment, then 100% traffic to it, then one scoring request.

    `endpoint_name` replaces the YAML's name: endpoint names are unique per region, so trainees
    sharing a workspace (or a region) each deploy under their own.
    """
    endpoint = _load("endpoint", endpoint_file)
    deployment = _load("deployment", deployment_file)
    if endpoint_name is not None:
        check_endpoint_name(endpoint_name)
        endpoint.name = deployment.endpoint_name = endpoint_name
    if deployment.endpoint_name != endpoint.name:
        raise WorkshopError(
            f"{deployment_file}: endpoint_name is {deployment.endpoint_name!r} but "
            f"{endpoint_file} creates {endpoint.name!r}",
            hint="make the two names match",
        )
    progress(f"endpoint {endpoint.name}: creating or updating")
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    progress(f"deployment {deployment.name}: creating or updating (image build, ~10 minutes)")
    ml.online_deployments.begin_create_or_update(deployment).result()
    live = ml.online_endpoints.get(endpoint.name)
    live.traffic = {deployment.name: 100}
    progress(f"endpoint {endpoint.name}: 100% of traffic to {deployment.name}")
    ml.online_endpoints.begin_create_or_update(live).result()
    live = ml.online_endpoints.get(endpoint.name)

    images, labels = sample_digits(samples)
    with tempfile.TemporaryDirectory() as tmp:
        request = Path(tmp) / "request.json"
        request.write_text(json.dumps({"data": images.tolist()}), encoding="utf-8")
        answer = ml.online_endpoints.invoke(
            endpoint_name=endpoint.name,
            deployment_name=deployment.name,
            request_file=str(request),
        )
    predictions = parse_predictions(answer)
    return Deployed(endpoint.name, deployment.name, str(live.scoring_uri), predictions, labels)


def parse_predictions(answer: Any) -> list[int]:
    """The `predictions` list from the endpoint's answer (a JSON string, sometimes quoted twice)."""
    body = answer
    for _ in range(2):  # the inference server can JSON-encode a JSON string
        if isinstance(body, str | bytes):
            try:
                body = json.loads(body)
            except ValueError:
                break
    if not isinstance(body, dict) or "predictions" not in body:
        raise WorkshopError(
            f"the endpoint answered without predictions: {str(answer)[:300]}",
            hint="read the deployment's logs: "
            "`az ml online-deployment get-logs --endpoint-name ENDPOINT --name DEPLOYMENT`",
        )
    return [int(p) for p in body["predictions"]]
