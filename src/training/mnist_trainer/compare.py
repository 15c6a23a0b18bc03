"""Pipeline step: score the logistic regression and the best kNN on the test set, keep the winner.

    python -m mnist_trainer.compare --data DIR --logreg-model DIR --knn-model DIR
                                    --best-model DIR --report DIR [--test-limit N]

Both inputs are MLflow sklearn models (folders with an MLmodel file) that take (n, 784) pixels
scaled to 0-1, as they were fitted (mnist_trainer.common.scaled, also what score.py sends).
Logs `logreg_accuracy`, `knn_accuracy` and `accuracy` (the winner's), copies the winning model
folder into --best-model (MLmodel last) and writes comparison.json to --report. Both are output
folders, mounts on Azure: their contents are replaced in place, the folders themselves are never
removed or renamed. A tie goes to the logistic
regression: far smaller to ship and faster to serve.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from mnist_trainer.common import copy_into, scaled
from mnist_trainer.idx import IdxError, load_mnist

CANDIDATES = ("logreg", "knn")


def find_model_dir(path: Path) -> Path:
    """The folder holding MLmodel: `path` itself or its only sub-folder that has one."""
    if (path / "MLmodel").is_file():
        return path
    found = sorted(p.parent for p in path.rglob("MLmodel"))
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError(
        f"{path}: expected one MLflow model (a folder with an MLmodel file), found {len(found)}"
    )


def empty_folder(folder: Path) -> None:
    """Remove what `folder` holds (a rerun's old model), keeping the folder itself."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def compare(
    data: Path, models: dict[str, Path], best_model: Path, report: Path, test_limit: int | None
) -> dict[str, object]:
    from mlflow.sklearn import load_model

    mnist = load_mnist(data)
    x_test, y_test = scaled(mnist.x_test[:test_limit]), mnist.y_test[:test_limit]
    accuracy: dict[str, float] = {}
    folders: dict[str, Path] = {}
    for name, path in models.items():
        folders[name] = find_model_dir(path)
        model: Any = load_model(str(folders[name]))
        accuracy[name] = float(np.mean(np.asarray(model.predict(x_test)) == y_test))
    winner = max(CANDIDATES, key=lambda n: (accuracy[n], n == "logreg"))
    empty_folder(best_model)
    copy_into(folders[winner], best_model)
    result: dict[str, object] = {
        "winner": winner,
        "accuracy": accuracy[winner],
        "accuracies": accuracy,
        "test_images": len(y_test),
    }
    report.mkdir(parents=True, exist_ok=True)
    partial = report / "comparison.json.partial"
    partial.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    partial.replace(report / "comparison.json")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_trainer.compare", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="folder with the MNIST files")
    parser.add_argument("--logreg-model", type=Path, required=True)
    parser.add_argument("--knn-model", type=Path, required=True)
    parser.add_argument("--best-model", type=Path, required=True, help="output: the winner")
    parser.add_argument("--report", type=Path, required=True, help="output: comparison.json")
    parser.add_argument("--test-limit", type=int, default=None, help="score the first N only")
    args = parser.parse_args(argv)
    import mlflow

    try:
        with mlflow.start_run():
            result = compare(
                args.data,
                {"logreg": args.logreg_model, "knn": args.knn_model},
                args.best_model,
                args.report,
                args.test_limit,
            )
            accuracies = result["accuracies"]
            assert isinstance(accuracies, dict)
            mlflow.log_metric("logreg_accuracy", accuracies["logreg"])
            mlflow.log_metric("knn_accuracy", accuracies["knn"])
            mlflow.log_metric("accuracy", float(str(result["accuracy"])))
            mlflow.set_tag("winner", str(result["winner"]))
    except (IdxError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
