"""The pipeline-only steps (prepare, compare, register) end to end on tiny synthetic MNIST."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mnist_trainer import compare, prepare, register
from mnist_trainer.common import scaled
from mnist_trainer.idx import FILES, load_mnist
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # fast, and has a model registry
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    mlflow.set_tracking_uri(uri)
    return uri


def test_prepare_copies_verified_files(
    synthetic_mnist: Path, tmp_path: Path, tracking: str
) -> None:
    out = tmp_path / "out"
    assert prepare.main(["--data", str(synthetic_mnist), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    assert len(load_mnist(out).y_test) == len(load_mnist(synthetic_mnist).y_test)


def test_prepare_refuses_a_corrupt_file(synthetic_mnist: Path, tmp_path: Path) -> None:
    (synthetic_mnist / FILES["test_labels"]).write_bytes(b"not gzip")
    out = tmp_path / "out"
    assert prepare.main(["--data", str(synthetic_mnist), "--out", str(out)]) == 1
    assert not out.exists()  # nothing written before every file checked out


def test_compare_then_register(synthetic_mnist: Path, tmp_path: Path, tracking: str) -> None:
    from mlflow.sklearn import load_model, save_model

    data = load_mnist(synthetic_mnist)
    x = scaled(data.x_train)  # the models' contract: pixels in 0-1
    models = {
        "logreg": LogisticRegression(max_iter=5).fit(x * 0, data.y_train),  # ~chance
        "knn": KNeighborsClassifier(1).fit(x, data.y_train),
    }
    for name, model in models.items():
        # Explicit requirements: inferring them starts a subprocess per model (tens of seconds).
        save_model(model, str(tmp_path / name), pip_requirements=["scikit-learn"])
    best, report = tmp_path / "best", tmp_path / "report"
    argv = ["--data", str(synthetic_mnist), "--best-model", str(best), "--report", str(report)]
    argv += ["--logreg-model", str(tmp_path / "logreg"), "--knn-model", str(tmp_path / "knn")]
    assert compare.main(argv) == 0
    result = json.loads((report / "comparison.json").read_text())
    assert result["winner"] == "knn"
    assert result["accuracies"]["knn"] > result["accuracies"]["logreg"]
    assert (best / "MLmodel").is_file()

    out = tmp_path / "registered"
    argv = ["--model", str(best), "--name", "mnist-test", "--report", str(report)]
    assert register.main([*argv, "--out", str(out)]) == 0
    record = json.loads((out / "registered.json").read_text())
    assert record["name"] == "mnist-test" and record["version"] == "1"
    version = mlflow.MlflowClient(tracking).get_model_version("mnist-test", "1")
    assert version.tags["winner"] == "knn"
    loaded: Any = load_model("models:/mnist-test/1")
    assert (loaded.predict(x[:5]) == data.y_train[:5]).all()
