"""The entry point itself (infra/__main__.py), as `pulumi up` runs it, under mocks.

It fills the data cache from WORKSHOP_MNIST_MIRROR (the real files, verified by MD5), so it is
marked slow and skips without them.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from infra_harness import RecordingMocks, RecordingMonitor

from workshop.mnist.sources import PUBLISHED
from workshop.paths import INFRA_DIR

STACK_CONFIG = {
    "azure-native:location": "westeurope",
    "aml-workshop:prefix": "progtest",
    "aml-workshop:containerRegistry": "true",
}


@pytest.mark.slow
def test_entry_point_fills_the_cache_and_exports_the_outputs(
    real_mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("WORKSHOP_MNIST_MIRROR", str(real_mnist_dir))
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(cache))
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(STACK_CONFIG))
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda key, value: exported.__setitem__(key, value))

    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="aml-workshop", stack="prog", preview=False, monitor=monitor
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

    for published in PUBLISHED:
        assert (cache / published.name).is_file()
    uploads = [r for r in monitor.registrations.values() if r.name == "mnist-files"]
    assert uploads[0].inputs["files"] == {
        f.name: {"path": str(cache / f.name), "md5": f.md5} for f in PUBLISHED
    }
    assert any(r.type.endswith("Registry") for r in monitor.registrations.values())
    assert resolved["workspaceName"].startswith("progtest-mlw-")
    assert json.loads(resolved["configJson"])["workspace_name"] == resolved["workspaceName"]
    assert set(resolved) >= {"studioUrl", "computeName", "datastoreName", "dataAsset"}
