"""The scoring script, called in-process the way the inference server calls it."""

from __future__ import annotations

import gc
import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from flask import Request

from tests.memory_cap import cap_above_current
from workshop.paths import TRAINING_DIR

SCORE_PY = TRAINING_DIR / "mnist_trainer" / "score.py"


def load_score_module() -> ModuleType:
    """Load score.py by path, as azureml-inference-server-http does (not as a package module)."""
    spec = importlib.util.spec_from_file_location("entry_module", SCORE_PY)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):
    """A logistic regression on random 0-1 'images', saved as Azure mounts it: <dir>/<name>/<v>/."""
    from mlflow import sklearn as mlflow_sklearn
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.random((60, 784))
    y = np.arange(60) % 10
    fitted = LogisticRegression(max_iter=200).fit(x, y)
    root = tmp_path_factory.mktemp("model")
    # explicit requirements: inferring them starts a subprocess that costs ~20 s here
    target = str(root / "mnist-classifier" / "1")
    mlflow_sklearn.save_model(fitted, target, pip_requirements=["scikit-learn"])
    return root, fitted


@pytest.fixture(autouse=True)
def _nothing_left_frozen():
    """init() freezes what is loaded (right for a server worker); this process goes on."""
    yield
    gc.unfreeze()


@pytest.fixture(scope="module")
def score(tiny_model):
    """score.py after init(), loaded once: run() only reads WORKSHOP_MAX_BATCH per request."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(tiny_model[0]))
        patch.delenv("WORKSHOP_MAX_BATCH", raising=False)
        module = load_score_module()
        module.init()
        yield module


def request(body: str | bytes, **environ: object) -> Any:
    """A POST /score request as the inference server hands it to a @rawhttp run()."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path="/score", method="POST", data=body, content_type="application/json"
    )
    built = builder.get_environ()
    built.update(environ)
    return Request(built)


def post(score: ModuleType, body: str | bytes) -> Any:
    return score.run(request(body))


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 784))


def test_batch_of_flat_images_matches_the_model_on_pixels_over_255(score, tiny_model) -> None:
    _, fitted = tiny_model
    batch = images(5)
    result = post(score, json.dumps({"data": batch.tolist()}))
    assert result["predictions"] == [int(p) for p in fitted.predict(batch / 255.0)]
    probabilities = np.array(result["probabilities"])
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(probabilities, fitted.predict_proba(batch / 255.0), atol=1e-5)
    assert result["classes"] == list(range(10))


def test_28x28_single_and_batch_and_0_1_scale_agree_with_flat(score) -> None:
    batch = images(3, seed=2)
    flat = post(score, json.dumps({"data": batch.tolist()}))["predictions"]
    square = post(score, json.dumps({"data": batch.reshape(3, 28, 28).tolist()}))["predictions"]
    single = post(score, json.dumps({"data": batch[1].reshape(28, 28).tolist()}))["predictions"]
    one_flat = post(score, json.dumps({"data": batch[2].tolist()}))["predictions"]
    scaled = post(score, json.dumps({"data": (batch / 255.0).tolist(), "scale": "0-1"}))
    assert square == flat
    assert single == [flat[1]]
    assert one_flat == [flat[2]]
    assert scaled["predictions"] == flat


GOOD_ROW = [0] * 784


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"data": [1, 2', "not valid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('{"images": []}', "missing key 'data' (keys sent: images)"),
        ('{"data": 5}', "'data' must be a list"),
        ('{"data": []}', "'data' is empty"),
        (json.dumps({"data": [[0] * 783]}), "shape [1, 783]"),
        (json.dumps({"data": [[[0] * 28] * 27]}), "shape [1, 27, 28]"),
        (json.dumps({"data": [GOOD_ROW, [0] * 10]}), "rows of different lengths"),
        (json.dumps({"data": [["a"] * 784]}), 'contains "a"'),
        (json.dumps({"data": [[None] * 784]}), "contains null"),
        (json.dumps({"data": [[True] * 784]}), "contains true"),
        ('{"data": [[NaN' + ", 0" * 783 + "]]}", "contains NaN"),
        ('{"data": [[Infinity' + ", 0" * 783 + "]]}", "contains Infinity"),
        (json.dumps({"data": [[0] * 783 + [10**400]]}), "too large"),
        (json.dumps({"data": [GOOD_ROW, [0] * 5 + [256] + [0] * 778]}), "image 1 pixel 5 is 256"),
        (json.dumps({"data": [[-1] + [0] * 783]}), "image 0 pixel 0 is -1, outside 0-255"),
        (json.dumps({"data": [[2] + [0] * 783], "scale": "0-1"}), "outside 0-1"),
        (json.dumps({"data": [GOOD_ROW], "scale": "percent"}), "'scale' is 'percent'"),
        (json.dumps({"data": [GOOD_ROW], "scale": []}), "'scale' is a JSON array"),
        (json.dumps({"data": [GOOD_ROW], "scale": {"a": 1}}), "'scale' is a JSON object"),
        (json.dumps({"data": [GOOD_ROW], "scale": 255}), "'scale' is a JSON number"),
        ('{"data": ' + "[" * 33 + "0" + "]" * 33 + "}", "nests lists more than 3 deep"),
        ('{"data": ' + "[" * 64 + "0" + "]" * 64 + "}", "nests lists more than 3 deep"),
        (json.dumps({"data": [[[[0] * 28] * 28]]}), "nests lists more than 3 deep"),
        ('{"data": ' + "[" * 20_000 + "]" * 20_000 + "}", "nested too deeply"),
        ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
        (b'{"data": "\xff"}', "not valid JSON"),
    ],
)
def test_bad_requests_get_400_with_a_message(score, body: str | bytes, expected: str) -> None:
    response = post(score, body)
    assert response.status_code == 400
    message = json.loads(response.get_data(as_text=True))["message"]
    assert expected in message


def test_batch_over_the_limit_is_refused_and_the_limit_is_configurable(
    score, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_MAX_BATCH", "4")
    assert isinstance(post(score, json.dumps({"data": images(4).tolist()})), dict)
    response = post(score, json.dumps({"data": images(5).tolist()}))
    assert response.status_code == 400
    message = json.loads(response.get_data(as_text=True))["message"]
    assert "5 images in one request; the limit is 4" in message


def test_default_limit_is_1000(score) -> None:
    response = post(score, json.dumps({"data": [GOOD_ROW] * 1001}))
    assert response.status_code == 400
    assert "the limit is 1000" in response.get_data(as_text=True)


def test_init_freezes_the_load_and_leaves_collection_as_it_found_it(tiny_model, monkeypatch):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tiny_model[0]))
    module = load_score_module()
    for collecting in (True, False):
        gc.unfreeze()
        (gc.enable if collecting else gc.disable)()
        try:
            module.init()
            assert gc.isenabled() is collecting
            assert gc.get_freeze_count() > 0
        finally:
            gc.enable()


def test_init_loads_a_model_folder_reached_through_a_symlink(
    tiny_model, tmp_path: Path, monkeypatch
) -> None:
    """As the local server lays the model out (workshop.local_endpoint.azure_model_layout):
    MLflow alone refuses the path ("resolved path is outside the artifact directory")."""
    link = tmp_path / "azureml-models" / "local-model" / "1"
    link.parent.mkdir(parents=True)
    link.symlink_to(tiny_model[0] / "mnist-classifier" / "1", target_is_directory=True)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(link))
    module = load_score_module()
    module.init()
    expected = tiny_model[1].predict(np.full((1, 784), 0.5))
    assert module.model.predict(np.full((1, 784), 0.5)).tolist() == expected.tolist()


def test_init_without_a_model_says_where_it_looked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    module = load_score_module()
    with pytest.raises(RuntimeError, match="no MLmodel file found"):
        module.init()
    monkeypatch.delenv("AZUREML_MODEL_DIR")
    with pytest.raises(RuntimeError, match="AZUREML_MODEL_DIR is not set"):
        module.init()


def test_init_rejects_a_bad_batch_limit(tiny_model, monkeypatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tiny_model[0]))
    monkeypatch.setenv("WORKSHOP_MAX_BATCH", "lots")
    with pytest.raises(RuntimeError, match="WORKSHOP_MAX_BATCH='lots'"):
        load_score_module().init()


def test_a_body_over_the_size_limit_is_refused_with_413_and_the_limit_is_configurable(
    score, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"data": [GOOD_ROW] * 3})
    monkeypatch.setenv("WORKSHOP_MAX_BODY_MB", "1")
    over = body + " " * 2**20  # valid JSON, just too long
    response = post(score, over)
    assert response.status_code == 413
    message = json.loads(response.get_data(as_text=True))["message"]
    assert "over the limit of 1 MiB" in message
    assert "WORKSHOP_MAX_BODY_MB" in message
    assert isinstance(post(score, body), dict)


def test_the_default_body_limit_takes_a_full_batch_of_0_1_floats(score) -> None:
    body = json.dumps({"data": (images(1000) / 255.0).tolist(), "scale": "0-1"})
    assert 14 * 2**20 < len(body) < 16 * 2**20
    assert len(post(score, body)["predictions"]) == 1000


def test_a_get_is_answered_405(score) -> None:
    from werkzeug.test import EnvironBuilder

    response = score.run(Request(EnvironBuilder(path="/score", method="GET").get_environ()))
    assert response.status_code == 405


def test_init_rejects_a_bad_body_limit(tiny_model, monkeypatch) -> None:
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tiny_model[0]))
    monkeypatch.setenv("WORKSHOP_MAX_BODY_MB", "0")
    with pytest.raises(RuntimeError, match="WORKSHOP_MAX_BODY_MB='0' must be at least 1"):
        load_score_module().init()


# A 104 MB body, streamed, to run() in a process whose address space is capped at 128 MB over
# what it uses after start-up: reading it whole would not fit, parsing it (about 10x the body,
# 1.1 GB in the review) even less. Declared with Content-Length, and chunked (no length).
HUGE_BODY_UNDER_A_MEMORY_CAP = (
    """
import importlib.util, io, json, sys
from flask import Request
from werkzeug.test import EnvironBuilder

spec = importlib.util.spec_from_file_location("entry_module", sys.argv[1])
score = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score)

class Untouched:
    def __getattr__(self, name):
        raise AssertionError("the model was used for a request that should be refused")

score.model = Untouched()
SIZE = 104 * 2**20

class Huge(io.RawIOBase):
    def __init__(self):
        self.left = SIZE
        self.head = b'{"data": [['
    def readable(self):
        return True
    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        piece = (self.head + b"0, " * (n // 3 + 1))[:n]
        self.head = b""
        buffer[:n] = piece
        self.left -= n
        return n

"""
    + cap_above_current(128 * 2**20)
    + """
for declared in (True, False):
    builder = EnvironBuilder(path="/score", method="POST", content_type="application/json")
    environ = builder.get_environ()
    environ["wsgi.input"] = io.BufferedReader(Huge())
    if declared:
        environ["CONTENT_LENGTH"] = str(SIZE)
    else:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    response = score.run(Request(environ))
    print(response.status_code, json.loads(response.get_data(as_text=True))["message"])
"""
)


@pytest.mark.timeout(120)
def test_a_huge_body_is_refused_before_it_is_read_under_a_memory_cap(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", HUGE_BODY_UNDER_A_MEMORY_CAP, str(SCORE_PY)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
        env={
            **os.environ,
            "OPENBLAS_NUM_THREADS": "1",
            "WORKSHOP_MAX_BODY_MB": "16",
        },
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith("413 the request body is over the limit of 16 MiB")
