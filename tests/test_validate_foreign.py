"""`workshop validate` on YAML nobody here wrote: valid CLI v2 shapes pass, broken ones fail.

Each case writes files in the shapes of Microsoft's public azureml-examples (cli/ folder) into a
temporary folder outside this checkout, so the `reference` check is off as it is for anyone
else's files, and validates with `offline=True` (resolving conda files has its own test).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workshop.validate import Finding, Report, validate

pytestmark = pytest.mark.filterwarnings("ignore")

SCHEMA = "https://azuremlschemas.azureedge.net/latest"


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip())


def check(root: Path, name: str, **options: bool) -> Report:
    options.setdefault("offline", True)
    return validate([root / name], **options)


def errors(report: Report) -> list[str]:
    return [f.as_line() for f in report.errors]


def only_error(report: Report, check_name: str) -> Finding:
    assert [f.check for f in report.errors] == [check_name], errors(report)
    return report.errors[0]


COMPONENT = f"""
$schema: {SCHEMA}/commandComponent.schema.json
name: hello
version: 1
type: command
inputs:
  greeting:
    type: string
    default: hi
  samples:
    type: uri_folder
  epochs:
    type: integer
    min: 1
    max: 10
  solver:
    type: string
    enum: [lbfgs, saga]
outputs:
  result:
    type: uri_folder
code: ./src
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
command: >-
  python hello.py --greeting ${{{{inputs.greeting}}}} --samples ${{{{inputs.samples}}}}
  --epochs ${{{{inputs.epochs}}}} --solver ${{{{inputs.solver}}}} --out ${{{{outputs.result}}}}
"""
HELLO = "import mlflow\nmlflow.log_metric('accuracy', 1.0)\n"


def pipeline(component: str, extra: str = "", node: str = "") -> str:
    return f"""
    $schema: {SCHEMA}/pipelineJob.schema.json
    type: pipeline
    display_name: hello-pipeline
    {extra}
    inputs:
      samples:
        type: uri_folder
        path: ./data
    jobs:
      hello:
        type: command
        component: {component}
        inputs:
          samples: ${{{{parent.inputs.samples}}}}
          epochs: 3
          solver: saga
        {node}
    """


def component_files(root: Path) -> None:
    write(
        root,
        {
            "components/hello.yml": COMPONENT,
            "components/src/hello.py": HELLO,
            "data/sample.csv": "a,b\n1,2\n",
        },
    )


# --- 1. `component: file:./x.yaml` ------------------------------------------------------------


def test_file_prefixed_component_is_a_local_file(tmp_path: Path) -> None:
    component_files(tmp_path)
    write(
        tmp_path,
        {
            "pipe.yml": pipeline(
                "file:./components/hello.yml", "settings:\n      default_compute: azureml:cpu"
            )
        },
    )
    assert check(tmp_path, "pipe.yml").ok, errors(check(tmp_path, "pipe.yml"))

    # the node checks still run through a `file:` component: an undeclared input is caught
    write(
        tmp_path,
        {
            "bad.yml": pipeline(
                "file:./components/hello.yml",
                node="outputs:\n          nope: ${{parent.outputs.x}}",
            )
        },
    )
    assert {f.check for f in check(tmp_path, "bad.yml").errors} >= {"node-io"}
    write(tmp_path, {"gone.yml": pipeline("file:./components/missing.yml")})
    assert "local-path" in {f.check for f in check(tmp_path, "gone.yml").errors}
