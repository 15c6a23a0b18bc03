"""Pipeline step: register the compared winner in the MLflow model registry.

    python -m mnist_trainer.register --model DIR --name NAME [--report DIR] [--out DIR]

The model folder (an MLflow sklearn model written with save_model) is uploaded as this run's
artifacts and registered from `runs:/<run id>/model`. That path uses only the run-artifact and
registry APIs, which both a local MLflow store and Azure ML's MLflow-compatible registry serve;
`log_model` is avoided because Azure's tracking server rejects current MLflow's logged-models
API. Caveats: the local registry needs a store that supports it (file or sqlite, as under
.workshop/); on Azure the name becomes an Azure ML model (`azureml:NAME@latest` in
deployment.yml) of type mlflow_model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_trainer.register", description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="MLflow model folder")
    parser.add_argument("--name", required=True, help="registered model name")
    parser.add_argument("--report", type=Path, help="folder with comparison.json (for tags)")
    parser.add_argument("--out", type=Path, help="output folder for registered.json")
    args = parser.parse_args(argv)
    if not (args.model / "MLmodel").is_file():
        message = f"error: {args.model}: expected an MLflow model folder (no MLmodel file there)"
        print(message, file=sys.stderr)
        return 1
    comparison: dict[str, object] = {}
    if args.report and (args.report / "comparison.json").is_file():
        comparison = json.loads((args.report / "comparison.json").read_text(encoding="utf-8"))
    tags = {k: str(comparison[k]) for k in ("winner", "accuracy") if k in comparison}

    import mlflow

    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(args.model), artifact_path="model")
        version = mlflow.register_model(f"runs:/{run.info.run_id}/model", args.name, tags=tags)
        mlflow.set_tag("registered_model", f"{version.name}:{version.version}")
    record = {"name": version.name, "version": str(version.version), "run_id": run.info.run_id}
    record.update(tags)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "registered.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
