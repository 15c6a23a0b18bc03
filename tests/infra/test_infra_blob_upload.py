"""The identity-based MNIST upload: what it sends, when it re-sends, how it waits and fails."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from infra_harness import load_in_provider_host
from workshop_infra import blob_upload
from workshop_infra.blob_upload import BlobUploadProvider


class FakeContainer:
    """Stands in for azure.storage.blob.ContainerClient; can refuse the first N writes with 403."""

    def __init__(self, forbidden_times: int = 0) -> None:
        self.blobs: dict[str, tuple[bytes, bytes]] = {}
        self.forbidden_left = forbidden_times
        self.attempts = 0

    def upload_blob(self, name: str, data: Any, overwrite: bool, content_settings: Any) -> None:
        self.attempts += 1
        assert overwrite is True
        if self.forbidden_left:
            self.forbidden_left -= 1
            error = HttpResponseError(message="AuthorizationPermissionMismatch")
            error.status_code = 403
            raise error
        self.blobs[name] = (data.read(), bytes(content_settings.content_md5))

    def delete_blob(self, name: str) -> None:
        if name not in self.blobs:
            raise ResourceNotFoundError("BlobNotFound")
        del self.blobs[name]


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> FakeContainer:
    fake = FakeContainer()
    monkeypatch.setattr(blob_upload, "_container_client", lambda account, name: fake)
    return fake


def _props(tmp_path: Path, contents: dict[str, bytes]) -> dict[str, Any]:
    files = {}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        files[name] = {"path": str(tmp_path / name), "md5": hashlib.md5(data).hexdigest()}
    return {"account_name": "acct", "container_name": "workshop", "folder": "mnist", "files": files}


def _fast(provider: BlobUploadProvider, wait: float) -> BlobUploadProvider:
    provider.wait_seconds = wait
    provider.retry_every = 0.01
    return provider


def test_create_uploads_every_file_with_its_md5(tmp_path: Path, container: FakeContainer) -> None:
    props = _props(tmp_path, {"a.gz": b"alpha", "b.gz": b"beta"})
    result = BlobUploadProvider().create(props)
    assert result.id == "acct/workshop/mnist"
    assert container.blobs == {
        "mnist/a.gz": (b"alpha", hashlib.md5(b"alpha").digest()),
        "mnist/b.gz": (b"beta", hashlib.md5(b"beta").digest()),
    }


def test_update_resends_only_changed_files_and_removes_dropped_ones(
    tmp_path: Path, container: FakeContainer
) -> None:
    old = _props(tmp_path, {"a.gz": b"alpha", "b.gz": b"beta", "c.gz": b"gamma"})
    provider = BlobUploadProvider()
    provider.create(old)
    container.attempts = 0
    new = _props(tmp_path, {"a.gz": b"alpha", "b.gz": b"BETA"})
    provider.update("id", old, new)
    assert container.attempts == 1
    assert set(container.blobs) == {"mnist/a.gz", "mnist/b.gz"}
    assert container.blobs["mnist/b.gz"][0] == b"BETA"


def test_diff_ignores_local_paths_but_not_content_or_location(tmp_path: Path) -> None:
    old = _props(tmp_path, {"a.gz": b"alpha"})
    moved = {**old, "files": {"a.gz": {**old["files"]["a.gz"], "path": "/elsewhere/a.gz"}}}
    provider = BlobUploadProvider()
    assert not provider.diff("id", old, moved).changes
    changed = _props(tmp_path, {"a.gz": b"other"})
    assert provider.diff("id", old, changed).changes
    relocated = provider.diff("id", old, {**old, "container_name": "elsewhere"})
    assert relocated.changes and relocated.replaces == ["container_name"]


def test_delete_removes_blobs_and_tolerates_missing_ones(
    tmp_path: Path, container: FakeContainer
) -> None:
    props = _props(tmp_path, {"a.gz": b"alpha", "b.gz": b"beta"})
    provider = BlobUploadProvider()
    provider.create(props)
    del container.blobs["mnist/a.gz"]
    provider.delete("id", props)
    assert container.blobs == {}


def test_a_403_while_the_role_propagates_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeContainer(forbidden_times=3)
    monkeypatch.setattr(blob_upload, "_container_client", lambda account, name: fake)
    _fast(BlobUploadProvider(), wait=5).create(_props(tmp_path, {"a.gz": b"alpha"}))
    assert fake.attempts == 4 and "mnist/a.gz" in fake.blobs


def test_a_lasting_403_fails_with_what_to_grant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeContainer(forbidden_times=10**6)
    monkeypatch.setattr(blob_upload, "_container_client", lambda account, name: fake)
    with pytest.raises(RuntimeError) as caught:
        _fast(BlobUploadProvider(), wait=0.05).create(_props(tmp_path, {"a.gz": b"alpha"}))
    message = str(caught.value)
    assert "acct/workshop" in message and "403" in message
    assert "Storage Blob Data Contributor" in message
    assert "aml-workshop:deployerPrincipalType" in message
    assert fake.attempts >= 2


def test_a_missing_local_file_is_named(tmp_path: Path, container: FakeContainer) -> None:
    props = _props(tmp_path, {"a.gz": b"alpha"})
    os.remove(props["files"]["a.gz"]["path"])
    with pytest.raises(RuntimeError, match=r"a\.gz.*missing.*workshop data fetch"):
        BlobUploadProvider().create(props)
    assert container.blobs == {}


def test_pulumis_provider_host_can_load_the_serialized_provider() -> None:
    """The dynamic-provider host imports by reference from the venv, not from infra/__main__."""
    loaded = load_in_provider_host(BlobUploadProvider())
    assert loaded == ["workshop_infra.blob_upload.BlobUploadProvider"]
