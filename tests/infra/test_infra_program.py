"""The entry point itself (infra/__main__.py), as `pulumi preview` runs it, under mocks.

Evaluating the program must have no side effects: with an empty data cache and no network it
downloads nothing, reads no MNIST file and still declares every resource; the state it would
write holds no local path (the upload is declared from the published names and MD5s).
"""

from __future__ import annotations

import base64
import json
import runpy
import socket
from pathlib import Path
from typing import Any

import pulumi
import pytest
from infra_harness import RecordingMocks, RecordingMonitor
from mnist_trainer.published import PUBLISHED

from workshop.paths import INFRA_DIR
from workshop_common.paths import ROOT

STACK_CONFIG = {
    "azure-native:location": "westeurope",
    "aml-workshop:prefix": "progtest",
    "aml-workshop:containerRegistry": "true",
}


def _strings(value: Any) -> list[str]:
    """Every string in a resource's inputs, the pickled dynamic provider decoded too."""
    if isinstance(value, str):
        try:
            decoded = base64.b64decode(value, validate=True).decode("latin-1")
        except ValueError:
            decoded = ""
        return [value, decoded] if decoded else [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*_strings(key), *_strings(item))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def test_preview_downloads_nothing_reads_no_data_and_keeps_no_local_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"  # does not even exist
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(cache))
    monkeypatch.setenv("WORKSHOP_MNIST_MIRROR", "https://mirror.invalid/mnist/")
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(STACK_CONFIG))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the program opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda key, value: exported.__setitem__(key, value))
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: warnings.append(message))

    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="aml-workshop", stack="prog", preview=True, monitor=monitor
    )
    pulumi.runtime.set_all_config({})
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        runpy.run_path(str(INFRA_DIR), run_name="__main__")
        keys = list(exported)
        return pulumi.Output.all(*exported.values()).apply(
            lambda values: resolved.update(zip(keys, values, strict=True))
        )

    program()

    assert not cache.exists()  # nothing fetched
    uploads = [r for r in monitor.registrations.values() if r.name == "mnist-files"]
    assert uploads[0].inputs["files"] == {f.name: {"md5": f.md5} for f in PUBLISHED}
    for record in monitor.registrations.values():
        for text in _strings(record.inputs):
            assert str(ROOT) not in text and str(tmp_path) not in text, (record.name, text)
    # A preview says what an up will need, without failing.
    assert any("workshop data fetch" in w and str(cache) in w for w in warnings), warnings
    assert any(r.type.endswith("Registry") for r in monitor.registrations.values())
    assert resolved["workspaceName"].startswith("progtest-mlw-")
    assert json.loads(resolved["configJson"])["workspace_name"] == resolved["workspaceName"]
    assert set(resolved) >= {"studioUrl", "computeName", "datastoreName", "dataAsset"}
