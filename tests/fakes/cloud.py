"""Test doubles for the cloud commands: an autospec'd MLClient, the fake `pulumi`, a CLI runner.

No Azure: every MLClient operation group is `create_autospec` of the real class, so a call with a
wrong name or wrong arguments fails the test instead of passing silently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock, create_autospec

import pytest

FAKES = Path(__file__).resolve().parent
SUB = "00000000-1111-2222-3333-444444444444"
OUTPUTS = {
    "subscriptionId": SUB,
    "resourceGroup": "mnistci-abc123-rg",
    "location": "westeurope",
    "workspaceName": "mnistci-mlw-abc123",
    "studioUrl": "https://ml.azure.com/?wsid=...",
    "computeName": "cpu-cluster",
}


def fake_ml() -> Any:
    """An MLClient whose operation groups are autospecs of the real operation classes."""
    from azure.ai.ml import MLClient
    from azure.ai.ml.operations import (
        ComputeOperations,
        JobOperations,
        OnlineDeploymentOperations,
        OnlineEndpointOperations,
        WorkspaceOperations,
    )

    ml = create_autospec(MLClient, instance=True)
    ml.jobs = create_autospec(JobOperations, instance=True)
    ml.compute = create_autospec(ComputeOperations, instance=True)
    ml.online_endpoints = create_autospec(OnlineEndpointOperations, instance=True)
    ml.online_deployments = create_autospec(OnlineDeploymentOperations, instance=True)
    ml.workspaces = create_autospec(WorkspaceOperations, instance=True)
    return ml


def job(name: str, status: str, **extra: Any) -> Any:
    """What `jobs.get`/`create_or_update` return, with the fields the commands read."""
    fields: dict[str, Any] = {
        "name": name,
        "status": status,
        "type": "command",
        "studio_url": f"https://ml.azure.com/runs/{name}",
        "properties": {},
    }
    fields.update(extra)
    return SimpleNamespace(**fields)


def use_fake_pulumi(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stacks: dict[str, dict[str, Any]]
) -> Path:
    """Put tests/fakes first on PATH with these stacks; returns the call log's path."""
    stacks_file = tmp_path / "stacks.json"
    stacks_file.write_text(json.dumps(stacks), encoding="utf-8")
    log = tmp_path / "pulumi-calls.jsonl"
    monkeypatch.setenv("FAKE_PULUMI_STACKS", str(stacks_file))
    monkeypatch.setenv("FAKE_PULUMI_LOG", str(log))
    monkeypatch.setenv("PATH", f"{FAKES}:{Path(sys.executable).parent}:/usr/bin:/bin")
    return log


def connect_to(monkeypatch: pytest.MonkeyPatch, ml: Any) -> MagicMock:
    """Make every command's session use `ml` and a fake credential; returns the credential."""
    from workshop.azure import session

    credential = MagicMock(name="credential")
    credential.get_token.return_value = SimpleNamespace(token="t0ken", expires_on=0)
    monkeypatch.setattr(session, "make_credential", lambda: credential)
    monkeypatch.setattr(session, "make_ml_client", lambda _cred, _ws: ml)
    return credential


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `workshop ARGS` through the real entry point; returns (exit code, stdout, stderr)."""
    from rich.console import Console

    from workshop.cli import main
    from workshop.commands import cloud

    old, old_console = sys.argv, cloud.console
    sys.argv = ["workshop", *args]
    cloud.console = Console(width=200)  # no wrapping: assertions see whole lines
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        sys.argv, cloud.console = old, old_console
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())
