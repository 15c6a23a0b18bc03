"""The scoring script, called in-process the way the inference server calls it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def score(tiny_model):
    """score.py after init(), loaded once: run() only reads WORKSHOP_MAX_BATCH per request."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(tiny_model[0]))
        patch.delenv("WORKSHOP_MAX_BATCH", raising=False)
        module = load_score_module()
        module.init()
        yield module


def images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 784))


def test_batch_of_flat_images_matches_the_model_on_pixels_over_255(score, tiny_model) -> None:
    _, fitted = tiny_model
    batch = images(5)
    result = score.run(json.dumps({"data": batch.tolist()}))
    assert result["predictions"] == [int(p) for p in fitted.predict(batch / 255.0)]
    probabilities = np.array(result["probabilities"])
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(probabilities, fitted.predict_proba(batch / 255.0), atol=1e-5)
    assert result["classes"] == list(range(10))


def test_28x28_single_and_batch_and_0_1_scale_agree_with_flat(score) -> None:
    batch = images(3, seed=2)
    flat = score.run(json.dumps({"data": batch.tolist()}))["predictions"]
    square = score.run(json.dumps({"data": batch.reshape(3, 28, 28).tolist()}))["predictions"]
    single = score.run(json.dumps({"data": batch[1].reshape(28, 28).tolist()}))["predictions"]
    one_flat = score.run(json.dumps({"data": batch[2].tolist()}))["predictions"]
    scaled = score.run(json.dumps({"data": (batch / 255.0).tolist(), "scale": "0-1"}))
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
    ],
)
def test_bad_requests_get_400_with_a_message(score, body: str, expected: str) -> None:
    response = score.run(body)
    assert response.status_code == 400
    message = json.loads(response.get_data(as_text=True))["message"]
    assert expected in message


def test_batch_over_the_limit_is_refused_and_the_limit_is_configurable(
    score, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_MAX_BATCH", "4")
    assert isinstance(score.run(json.dumps({"data": images(4).tolist()})), dict)
    response = score.run(json.dumps({"data": images(5).tolist()}))
    assert response.status_code == 400
    message = json.loads(response.get_data(as_text=True))["message"]
    assert "5 images in one request; the limit is 4" in message


def test_default_limit_is_1000(score) -> None:
    response = score.run(json.dumps({"data": [GOOD_ROW] * 1001}))
    assert response.status_code == 400
    assert "the limit is 1000" in response.get_data(as_text=True)


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
