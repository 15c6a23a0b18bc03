"""Workspace resolution: --stack through the (fake) pulumi CLI, options, config.json, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from tests.fakes.cloud import OUTPUTS, SUB, connect_to, fake_ml, job, run_cli, use_fake_pulumi
from workshop.azure import session
from workshop.errors import ExitCode, WorkshopError


def test_stack_outputs_name_the_workspace_and_secrets_are_never_asked_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = use_fake_pulumi(monkeypatch, tmp_path, {"ci-42": OUTPUTS})
    ws = session.resolve(stack="ci-42")
    assert (ws.subscription_id, ws.resource_group, ws.name) == (
        SUB,
        OUTPUTS["resourceGroup"],
        OUTPUTS["workspaceName"],
    )
    assert ws.location == "westeurope" and ws.source == "stack ci-42"
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls == [["stack", "output", "--json", "--stack", "ci-42"]]
    assert not any("--show-secrets" in call for call in calls)


def test_unknown_stack_says_how_to_list_or_create_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {"dev": OUTPUTS})
    with pytest.raises(WorkshopError) as err:
        session.resolve(stack="nope")
    assert "no stack named 'nope'" in str(err.value)
    assert "pulumi stack ls" in str(err.value) and "pulumi stack init" in str(err.value)


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({}, "has no outputs"),
        ({"subscriptionId": SUB, "resourceGroup": "rg"}, "has no output workspaceName"),
    ],
)
def test_stack_without_the_expected_outputs_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, outputs: dict[str, str], expected: str
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {"half": outputs})
    with pytest.raises(WorkshopError) as err:
        session.resolve(stack="half")
    assert expected in str(err.value)
    assert "pulumi up --stack half" in str(err.value)


def test_pulumi_missing_from_path_points_at_the_other_ways(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no pulumi anywhere
    with pytest.raises(WorkshopError) as err:
        session.resolve(stack="dev")
    assert "`pulumi` command is not on PATH" in str(err.value)
    assert "--config config.json" in str(err.value)


def test_explicit_options_must_come_together_and_alone(tmp_path: Path) -> None:
    ws = session.resolve(subscription=SUB, resource_group="rg", workspace="ws")
    assert (ws.subscription_id, ws.resource_group, ws.name, ws.source) == (
        SUB,
        "rg",
        "ws",
        "options",
    )
    with pytest.raises(WorkshopError, match="missing --resource-group"):
        session.resolve(subscription=SUB, workspace="ws")
    with pytest.raises(WorkshopError, match="one way only"):
        session.resolve(stack="dev", workspace="ws")
    with pytest.raises(WorkshopError, match="no workspace given"):
        session.resolve()


def test_config_json_is_read_like_mlclient_from_config(tmp_path: Path) -> None:
    good = tmp_path / "config.json"
    good.write_text(
        json.dumps({"subscription_id": SUB, "resource_group": "rg", "workspace_name": "ws"})
    )
    assert session.resolve(config=good).name == "ws"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"subscription_id": SUB}))
    with pytest.raises(WorkshopError) as err:
        session.resolve(config=bad)
    assert "resource_group" in str(err.value) and str(bad) in str(err.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(WorkshopError, match="not valid JSON"):
        session.resolve(config=broken)
    with pytest.raises(WorkshopError, match="no such file"):
        session.resolve(config=tmp_path / "absent.json")


def test_azure_errors_become_fixes() -> None:
    with pytest.raises(WorkshopError) as err, session.azure_errors("submit"):
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")
    assert "no usable Azure credentials" in str(err.value) and "az login" in str(err.value)

    forbidden = HttpResponseError("AuthorizationFailed: no access")
    forbidden.status_code = 403
    with pytest.raises(WorkshopError) as err, session.azure_errors("deploy"):
        raise forbidden
    assert "permission denied" in str(err.value) and "AzureML Data Scientist" in str(err.value)


def test_no_credentials_ends_the_cli_with_one_message_and_the_service_exit_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {"dev": OUTPUTS})
    ml = fake_ml()
    connect_to(monkeypatch, ml)
    ml.jobs.create_or_update.side_effect = ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials."
    )
    code, out, err = run_cli(capsys, "submit", "jobs/train-logreg.yml", "--stack", "dev")
    assert code == ExitCode.SERVICE_FAILED
    assert "error: submit jobs/train-logreg.yml: no usable Azure credentials" in err
    assert "fix: sign in with `az login`" in err
    assert "Traceback" not in err + out


def test_unknown_stack_through_the_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {"dev": OUTPUTS})
    ml = fake_ml()
    connect_to(monkeypatch, ml)
    ml.jobs.create_or_update.return_value = job("never", "Running")
    code, _, err = run_cli(capsys, "smoke", "--stack", "gone")
    assert code == ExitCode.BAD_INPUT and "unknown Pulumi stack" in err
    ml.jobs.create_or_update.assert_not_called()
