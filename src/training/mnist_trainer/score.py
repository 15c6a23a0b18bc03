"""Scoring script for the online endpoint (jobs/deployment.yml) and `workshop serve`.

Azure ML's inference server calls `init()` once, then `run(raw)` with each request body.

Request (JSON object):
    {"data": IMAGES, "scale": "0-255"}
IMAGES is one image or a batch, each image either 784 numbers (row-major 28x28) or 28 rows of 28
numbers: `[784]`, `[[784], ...]`, `[[28 x 28]]` or `[[[28 x 28]], ...]`. `scale` says how the
pixels are given: "0-255" (the default, as stored in MNIST) or "0-1" (already divided by 255).
The scale is never guessed from the values: a faint digit in 0-255 can have every value <= 1.

Response: {"predictions": [digit, ...], "probabilities": [[p0..p9], ...], "classes": [0..9]}.
Every problem with a request is answered with HTTP 400 and {"message": "..."} saying what is
wrong and how to fix it; the batch limit is WORKSHOP_MAX_BATCH (default 1000 images). A body
over WORKSHOP_MAX_BODY_MB (default 16 MiB; a full batch of 0-255 pixels is about 3.5 MB, of 0-1
floats about 15 MB) is refused with 413 before it is read: `run` is @rawhttp, so it gets the
request itself, not the body the server would otherwise read and decode whole (the inference
server has no body-size setting of its own). JSON parsing then needs about 10x the body in
memory, so the limit bounds a worker's memory too.

Self-contained on purpose (stdlib, numpy, mlflow, skops): the inference server loads this file by
path, not as part of the mnist_trainer package.
"""

from __future__ import annotations

import gc
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

try:  # the inference server (azureml-inference-server-http) provides the HTTP types
    from azureml_inference_server_http.api.aml_request import rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse
except ImportError:  # pragma: no cover - older images expose them under azureml.contrib
    from azureml.contrib.services.aml_request import rawhttp  # type: ignore[import-not-found]
    from azureml.contrib.services.aml_response import AMLResponse  # type: ignore[import-not-found]

PIXELS = 28 * 28
DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_BODY_MB = 16
SCALES = {"0-255": 255.0, "0-1": 1.0}

model: Any = None


class BadRequest(ValueError):
    """The request cannot be scored; the message goes back to the client (HTTP 400 or `status`)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _positive_setting(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    try:
        limit = int(value)
    except ValueError:
        raise RuntimeError(f"{name}={value!r} is not a whole number") from None
    if limit < 1:
        raise RuntimeError(f"{name}={value!r} must be at least 1")
    return limit


def max_batch() -> int:
    """Images per request, from WORKSHOP_MAX_BATCH (default 1000)."""
    return _positive_setting("WORKSHOP_MAX_BATCH", DEFAULT_MAX_BATCH)


def max_body_bytes() -> int:
    """Request body limit in bytes, from WORKSHOP_MAX_BODY_MB (MiB, default 16)."""
    return _positive_setting("WORKSHOP_MAX_BODY_MB", DEFAULT_MAX_BODY_MB) * 2**20


def find_mlmodel(model_dir: Path) -> Path:
    """The one folder under model_dir holding an MLmodel file (Azure adds <name>/<version>/...)."""
    found = sorted(p.parent for p in model_dir.rglob("MLmodel"))
    if not found:
        raise RuntimeError(
            f"no MLflow model under AZUREML_MODEL_DIR={model_dir}: no MLmodel file found "
            "(point it at a folder written by mlflow.sklearn.save_model)"
        )
    if len(found) > 1:
        names = ", ".join(str(p) for p in found)
        raise RuntimeError(f"more than one MLflow model under {model_dir}: {names}; keep one")
    return found[0]


def init() -> None:
    """Load the MLflow sklearn model found under AZUREML_MODEL_DIR."""
    global model
    model_dir = os.environ.get("AZUREML_MODEL_DIR")
    if not model_dir:
        raise RuntimeError("AZUREML_MODEL_DIR is not set: it must name the model folder")
    max_batch()  # a bad limit fails at start-up, not on the first request
    max_body_bytes()
    # No cyclic collection while MLflow, scikit-learn and the model load (objects that live as
    # long as the worker: collections over them find nothing); then collected once and frozen,
    # as the training scripts do (mnist_trainer.common.main_guard, prepare_saving).
    collecting = gc.isenabled()
    gc.disable()
    try:
        # skops (the saved model's format) before MLflow: its import looks every scipy ufunc up
        # in every loaded module, 0.7 s dearer after MLflow's ~1,500 modules (measured here).
        import skops.io  # noqa: F401
        from mlflow import sklearn as mlflow_sklearn

        # Resolved: MLflow refuses a model folder reached through a symlink (its artifact path
        # check compares the resolved path with the given one), as the local server's is.
        model = mlflow_sklearn.load_model(str(find_mlmodel(Path(model_dir).resolve())))
    finally:
        gc.collect()  # the load's own cyclic garbage, not kept for good by the freeze
        gc.freeze()
        if collecting:
            gc.enable()


def _reject_constant(name: str) -> float:
    raise BadRequest(f"'data' contains {name}; every pixel must be a finite number")


def read_body(request: Any) -> bytes:
    """The body of a werkzeug/flask request, refused (413) past the limit before it is read.

    A declared Content-Length over the limit is refused unread; a chunked body is read only up
    to one byte past the limit.
    """
    limit = max_body_bytes()
    too_large = BadRequest(
        f"the request body is over the limit of {limit // 2**20} MiB; split the batch "
        f"(at most {max_batch()} images per request), or raise WORKSHOP_MAX_BODY_MB on the server",
        status=413,
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def parse_request(raw: str | bytes) -> np.ndarray:
    """Validate a request body and return the images as an (n, 784) float array in 0-1."""
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest('the request body is nested too deeply; send {"data": [...]}') from None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        hint = 'send {"data": [...]}'
        raise BadRequest(f"the request body is not valid JSON ({exc}); {hint}") from None
    if not isinstance(body, dict):
        raise BadRequest(f'expected a JSON object {{"data": [...]}}, got {type(body).__name__}')
    if "data" not in body:
        keys = ", ".join(sorted(body)) or "none"
        raise BadRequest(f"missing key 'data' (keys sent: {keys}); send {{\"data\": [...]}}")
    scale = body.get("scale", "0-255")
    if not isinstance(scale, str) or scale not in SCALES:
        shown = repr(scale) if isinstance(scale, str) else f"a JSON {_json_kind(scale)}"
        raise BadRequest(f'\'scale\' is {shown}; use "0-255" (the default) or "0-1"')
    images = _to_images(body["data"])
    top = SCALES[scale]
    bad = (images < 0) | (images > top)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise BadRequest(
            f"image {row} pixel {col} is {images[row, col]:g}, outside {scale}; "
            + ('send pixels 0-255, or 0-1 with "scale": "0-1"' if top == 1.0 else "send 0-255")
        )
    return (images / top).astype(np.float32)  # the models were fitted on float32 X / 255


def _json_kind(value: Any) -> str:
    kinds = {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _to_images(data: Any) -> np.ndarray:
    if not isinstance(data, list):
        raise BadRequest(f"'data' must be a list of images, got {type(data).__name__}")
    if not data:
        raise BadRequest("'data' is empty; send at least one image")
    depth, first = 0, data
    while isinstance(first, list) and first and depth <= 3:  # numpy stops at 32 dimensions
        depth, first = depth + 1, first[0]
    if depth > 3:
        raise BadRequest(
            "'data' nests lists more than 3 deep; send one image ([784] or [28][28]) "
            "or a batch ([n][784] or [n][28][28])"
        )
    ragged = BadRequest("'data' has rows of different lengths; every image must be 28x28 or 784")
    try:
        cells = np.array(data, dtype=object)
    except ValueError:
        raise ragged from None
    if any(isinstance(v, list) for v in cells.flat):
        raise ragged
    kinds = {type(v) for v in cells.flat}
    if not kinds <= {int, float}:
        odd = next(v for v in cells.flat if type(v) not in (int, float))
        raise BadRequest(f"'data' contains {json.dumps(odd)}; every pixel must be a number")
    try:
        images = cells.astype(np.float64)
    except OverflowError:
        images = np.full(cells.shape, np.inf)
    if not np.isfinite(images).all():  # JSON allows integers too large for a float
        raise BadRequest("'data' contains a number too large to be a pixel")
    shape = images.shape
    one_image = {(PIXELS,), (28, 28)}
    if shape in one_image:
        images = images.reshape(1, PIXELS)
    elif shape[1:] in one_image:
        images = images.reshape(len(images), PIXELS)
    else:
        raise BadRequest(
            f"'data' has shape {list(shape)}; send one image ([784] or [28][28]) "
            "or a batch ([n][784] or [n][28][28])"
        )
    limit = max_batch()
    if len(images) > limit:
        raise BadRequest(
            f"{len(images)} images in one request; the limit is {limit} "
            "(split the batch, or raise WORKSHOP_MAX_BATCH on the server)"
        )
    return images


@rawhttp
def run(request: Any) -> Any:
    """Score one request: predictions and class probabilities, or a 4xx with the reason."""
    if model is None:
        return AMLResponse(
            {"message": "the model is not loaded; init() failed"}, 503, json_str=True
        )
    if request.method != "POST":
        return AMLResponse({"message": 'POST {"data": [...]} to /score'}, 405, json_str=True)
    try:
        images = parse_request(read_body(request))
    except BadRequest as exc:
        return AMLResponse({"message": str(exc)}, exc.status, json_str=True)
    probabilities = model.predict_proba(images)
    classes = [int(c) for c in model.classes_]
    predictions = [classes[i] for i in np.argmax(probabilities, axis=1)]
    return {
        "predictions": predictions,
        "probabilities": [[_round(p) for p in row] for row in probabilities],
        "classes": classes,
    }


def _round(p: float) -> float:
    return 0.0 if math.isnan(p) else round(float(p), 6)
