"""deploy: the endpoint and deployment from jobs/, 100% traffic, a sample request's predictions."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml

from tests.cli_json import run_json
from tests.fakes.cloud import OUTPUTS, connect_to, fake_ml, run_cli, use_fake_pulumi
from workshop.azure import deploy
from workshop.errors import ExitCode
from workshop.paths import JOBS_DIR


@pytest.fixture
def ml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    use_fake_pulumi(monkeypatch, tmp_path, {"dev": OUTPUTS})
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path / "empty-cache"))
    client = fake_ml()
    connect_to(monkeypatch, client)
    endpoint = yaml.safe_load((JOBS_DIR / "endpoint.yml").read_text())["name"]
    client.online_endpoints.get.return_value = SimpleNamespace(
        name=endpoint,
        traffic={},
        scoring_uri=f"https://{endpoint}.westeurope.inference.ml.azure.com/score",
    )
    requests: list[dict[str, Any]] = []

    def invoke(**kwargs: Any) -> str:
        body = json.loads(Path(kwargs["request_file"]).read_text())
        requests.append({"kwargs": kwargs, "body": body})
        return json.dumps(json.dumps({"predictions": [1] * len(body["data"])}))  # quoted twice

    client.online_endpoints.invoke.side_effect = invoke
    client.requests = requests
    return client


def test_deploy_creates_both_from_the_yamls_routes_traffic_and_scores(
    ml: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "deploy", "--stack", "dev", "--samples", "3")
    assert code == 0, err
    endpoint_spec = yaml.safe_load((JOBS_DIR / "endpoint.yml").read_text())
    deployment_spec = yaml.safe_load((JOBS_DIR / "deployment.yml").read_text())

    created = [c.args[0] for c in ml.online_endpoints.begin_create_or_update.call_args_list]
    assert created[0].name == endpoint_spec["name"]
    assert created[0].auth_mode == endpoint_spec["auth_mode"]
    assert created[-1].traffic == {deployment_spec["name"]: 100}

    (dep,), _ = ml.online_deployments.begin_create_or_update.call_args
    assert dep.name == deployment_spec["name"]
    assert dep.endpoint_name == endpoint_spec["name"]
    assert dep.instance_type == deployment_spec["instance_type"]
    assert dep.model == deployment_spec["model"].removeprefix("azureml:")
    assert (
        dep.code_configuration.scoring_script
        == deployment_spec["code_configuration"]["scoring_script"]
    )
    for op in (
        ml.online_endpoints.begin_create_or_update,
        ml.online_deployments.begin_create_or_update,
    ):
        op.return_value.result.assert_called()  # every long-running operation was waited for

    (sent,) = ml.requests
    assert sent["kwargs"]["endpoint_name"] == endpoint_spec["name"]
    assert sent["kwargs"]["deployment_name"] == deployment_spec["name"]
    pixels = np.array(sent["body"]["data"])
    assert pixels.shape == (3, 784) and pixels.max() == 255 and pixels.min() == 0
    assert "inference.ml.azure.com/score" in out
    assert "synthetic" in out  # no data cache: synthetic digits, said so


def test_sample_digits_come_from_the_data_cache_with_labels(synthetic_mnist: Path) -> None:
    from mnist_trainer.idx import FILES, read_idx

    images, labels = deploy.sample_digits(4, synthetic_mnist)
    expected = read_idx(synthetic_mnist / FILES["test_images"], 2051)[:4].reshape(4, -1)
    assert np.array_equal(images, expected)
    assert labels == [int(v) for v in read_idx(synthetic_mnist / FILES["test_labels"], 2049)[:4]]


def test_mismatched_endpoint_names_fail_before_anything_is_created(
    ml: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = yaml.safe_load((JOBS_DIR / "deployment.yml").read_text())
    spec["endpoint_name"] = "someone-else"
    spec["code_configuration"]["code"] = str(JOBS_DIR / spec["code_configuration"]["code"])
    bad = tmp_path / "deployment.yml"
    bad.write_text(yaml.safe_dump(spec))
    code, _, err = run_cli(capsys, "deploy", "--stack", "dev", "--deployment-file", str(bad))
    assert code == ExitCode.BAD_INPUT and "endpoint_name is 'someone-else'" in err
    ml.online_endpoints.begin_create_or_update.assert_not_called()


def test_an_answer_without_predictions_is_a_clear_error() -> None:
    from workshop.errors import WorkshopError

    assert deploy.parse_predictions('{"predictions": [7, 2]}') == [7, 2]
    with pytest.raises(WorkshopError, match="without predictions"):
        deploy.parse_predictions('{"message": "the model is not loaded"}')


def test_endpoint_name_option_renames_endpoint_and_deployment_target(
    ml: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "deploy", "--stack", "dev", "--endpoint-name", "mnist-hanako")
    assert code == 0, err
    created = [c.args[0] for c in ml.online_endpoints.begin_create_or_update.call_args_list]
    assert created[0].name == "mnist-hanako"
    (dep,), _ = ml.online_deployments.begin_create_or_update.call_args
    assert dep.endpoint_name == "mnist-hanako"
    (sent,) = ml.requests
    assert sent["kwargs"]["endpoint_name"] == "mnist-hanako"


@pytest.mark.parametrize("name", ["9lives", "ab", "trailing-", "has_underscore", "x" * 33])
def test_an_invalid_endpoint_name_fails_before_anything_is_created(
    ml: Any, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "deploy", "--stack", "dev", "--endpoint-name", name)
    assert code == ExitCode.BAD_INPUT and "not a valid online endpoint name" in err
    ml.online_endpoints.begin_create_or_update.assert_not_called()


def test_deploy_json_reports_the_scoring_uri_and_predictions(
    ml: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = {"endpoint", "deployment", "scoring_uri", "predictions", "labels"}
    code, doc, err = run_json(
        capsys, "deploy", "--stack", "dev", "--samples", "3", result_keys=keys
    )
    assert code == ExitCode.OK and doc["result"]["predictions"] == [1, 1, 1]
    assert doc["result"]["scoring_uri"].endswith("/score") and "scoring URI" in err

    code, doc, _ = run_json(capsys, "deploy", "--stack", "dev", "--endpoint-name", "9-bad")
    assert (
        code == ExitCode.BAD_INPUT and "not a valid online endpoint name" in doc["error"]["message"]
    )

    code, doc, err = run_json(capsys, "deploy", "--stack", "dev", "--samples", "0")
    assert code == 2 and "--samples" in doc["error"]["message"]  # refused by the command line
    assert doc["command"] == "deploy" and "--samples" in err
