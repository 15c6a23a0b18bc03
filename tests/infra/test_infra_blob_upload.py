"""The identity-based MNIST upload: what it sends, when it re-sends, how it waits and fails.

The resource holds blob names and MD5s; the provider reads the files from the data cache
(WORKSHOP_DATA_DIR here, a temporary folder) only when it creates or updates.
"""

from __future__ import annotations

import hashlib
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


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data cache the provider reads: an empty temporary folder."""
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(folder))
    return folder


FETCH_FAILS = (
    "-c",
    "import json, sys; "
    "print(json.dumps({'error': {'message': 'no mirror had a.gz'}})); sys.exit(5)",
)
FETCH_NOTHING = ("-c", "pass")


@pytest.fixture(autouse=True)
def no_real_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's fetch (`workshop data fetch`, network) replaced by one that fails."""
    monkeypatch.setattr(BlobUploadProvider, "fetch_command", FETCH_FAILS)


def _props(cache: Path, contents: dict[str, bytes]) -> dict[str, Any]:
    """The resource's properties for these files, written into the data cache."""
    files = {}
    for name, data in contents.items():
        (cache / name).write_bytes(data)
        files[name] = {"md5": hashlib.md5(data).hexdigest()}
    return {"account_name": "acct", "container_name": "workshop", "folder": "mnist", "files": files}


def _fast(provider: BlobUploadProvider, wait: float) -> BlobUploadProvider:
    provider.wait_seconds = wait
    provider.retry_every = 0.01
    return provider


def test_create_uploads_every_file_with_its_md5(cache: Path, container: FakeContainer) -> None:
    props = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta"})
    result = BlobUploadProvider().create(props)
    assert result.id == "acct/workshop/mnist"
    assert container.blobs == {
        "mnist/a.gz": (b"alpha", hashlib.md5(b"alpha").digest()),
        "mnist/b.gz": (b"beta", hashlib.md5(b"beta").digest()),
    }


def test_update_resends_only_changed_files_and_removes_dropped_ones(
    cache: Path, container: FakeContainer
) -> None:
    old = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta", "c.gz": b"gamma"})
    provider = BlobUploadProvider()
    provider.create(old)
    container.attempts = 0
    new = _props(cache, {"a.gz": b"alpha", "b.gz": b"BETA"})
    provider.update("id", old, new)
    assert container.attempts == 1
    assert set(container.blobs) == {"mnist/a.gz", "mnist/b.gz"}
    assert container.blobs["mnist/b.gz"][0] == b"BETA"


def test_diff_ignores_local_paths_but_not_content_or_location(cache: Path) -> None:
    new = _props(cache, {"a.gz": b"alpha"})
    # A stack deployed before the upload was declared from MD5s holds paths: not a change.
    old = {**new, "files": {"a.gz": {**new["files"]["a.gz"], "path": "/elsewhere/a.gz"}}}
    provider = BlobUploadProvider()
    assert not provider.diff("id", old, new).changes
    changed = _props(cache, {"a.gz": b"other"})
    assert provider.diff("id", old, changed).changes
    relocated = provider.diff("id", old, {**old, "container_name": "elsewhere"})
    assert relocated.changes and relocated.replaces == ["container_name"]


def test_delete_removes_blobs_and_tolerates_missing_ones(
    cache: Path, container: FakeContainer
) -> None:
    props = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta"})
    provider = BlobUploadProvider()
    provider.create(props)
    del container.blobs["mnist/a.gz"]
    provider.delete("id", props)
    assert container.blobs == {}


def test_a_403_while_the_role_propagates_is_retried(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeContainer(forbidden_times=3)
    monkeypatch.setattr(blob_upload, "_container_client", lambda account, name: fake)
    _fast(BlobUploadProvider(), wait=5).create(_props(cache, {"a.gz": b"alpha"}))
    assert fake.attempts == 4 and "mnist/a.gz" in fake.blobs


def test_a_lasting_403_fails_with_what_to_grant(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeContainer(forbidden_times=10**6)
    monkeypatch.setattr(blob_upload, "_container_client", lambda account, name: fake)
    with pytest.raises(RuntimeError) as caught:
        _fast(BlobUploadProvider(), wait=0.05).create(_props(cache, {"a.gz": b"alpha"}))
    message = str(caught.value)
    assert "acct/workshop" in message and "403" in message
    assert "Storage Blob Data Contributor" in message
    assert "aml-workshop:deployerPrincipalType" in message
    assert fake.attempts >= 2


def test_missing_files_fail_the_create_with_one_message_and_nothing_sent(
    cache: Path, container: FakeContainer
) -> None:
    props = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta", "c.gz": b"gamma"})
    (cache / "a.gz").unlink()
    (cache / "c.gz").unlink()
    with pytest.raises(RuntimeError) as caught:
        BlobUploadProvider().create(props)
    message = str(caught.value)
    assert message.startswith(f"{cache}: fetching MNIST for the upload failed: no mirror had a.gz")
    assert "`workshop data fetch`" in message and "WORKSHOP_DATA_DIR" in message
    assert container.attempts == 0  # b.gz was there, but no partial upload


def test_missing_files_are_fetched_before_the_upload(
    cache: Path, container: FakeContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    props = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta"})
    (cache / "a.gz").unlink()
    writes_a = "import pathlib, sys; (pathlib.Path(sys.argv[1]) / 'a.gz').write_bytes(b'alpha')"
    monkeypatch.setattr(BlobUploadProvider, "fetch_command", ("-c", writes_a))
    BlobUploadProvider().create(props)
    assert sorted(container.blobs) == ["mnist/a.gz", "mnist/b.gz"]


def test_a_fetch_that_leaves_files_missing_fails_with_the_missing_names(
    cache: Path, container: FakeContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    props = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta"})
    (cache / "a.gz").unlink()
    monkeypatch.setattr(BlobUploadProvider, "fetch_command", FETCH_NOTHING)
    with pytest.raises(RuntimeError, match=r"a\.gz missing.*workshop data fetch"):
        BlobUploadProvider().create(props)
    assert container.attempts == 0


def test_a_file_that_is_not_the_declared_one_is_refused(
    cache: Path, container: FakeContainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    props = _props(cache, {"a.gz": b"alpha"})
    (cache / "a.gz").write_bytes(b"truncated")
    monkeypatch.setattr(BlobUploadProvider, "fetch_command", FETCH_NOTHING)
    with pytest.raises(RuntimeError, match=r"a\.gz: MD5 \w+, expected \w+.*workshop data fetch"):
        BlobUploadProvider().create(props)
    assert container.attempts == 0


def test_an_update_reads_only_the_files_it_sends(cache: Path, container: FakeContainer) -> None:
    old = _props(cache, {"a.gz": b"alpha", "b.gz": b"beta"})
    provider = BlobUploadProvider()
    provider.create(old)
    new = _props(cache, {"a.gz": b"alpha", "b.gz": b"BETA"})
    (cache / "a.gz").unlink()  # unchanged, so not needed
    provider.update("id", old, new)
    assert container.blobs["mnist/b.gz"][0] == b"BETA"


def test_the_serialized_provider_holds_no_local_path(cache: Path) -> None:
    """Pulumi keeps the pickled provider in the state (`__provider`)."""
    import base64

    from pulumi.dynamic.dynamic import serialize_provider

    from workshop_common.paths import ROOT

    pickled = base64.b64decode(serialize_provider(BlobUploadProvider()))
    assert str(ROOT).encode() not in pickled and str(cache).encode() not in pickled


def test_pulumis_provider_host_can_load_the_serialized_provider() -> None:
    """The dynamic-provider host imports by reference from the venv, not from infra/__main__."""
    loaded = load_in_provider_host(BlobUploadProvider())
    assert loaded == ["workshop_infra.blob_upload.BlobUploadProvider"]


def test_the_real_fetch_fills_the_cache_for_the_upload(
    cache: Path, container: FakeContainer, monkeypatch: pytest.MonkeyPatch, real_mnist_dir: Path
) -> None:
    """The provider's own command line (`workshop data fetch ...`) against the tool itself, with
    the real MNIST files as the only mirror: the published files land in the cache and are sent."""
    from mnist_trainer.published import PUBLISHED

    monkeypatch.setattr(BlobUploadProvider, "fetch_command", blob_upload.FETCH_COMMAND)
    monkeypatch.setenv("WORKSHOP_MNIST_MIRROR", str(real_mnist_dir))
    files = {f.name: {"md5": f.md5} for f in PUBLISHED}
    props = {"account_name": "acct", "container_name": "w", "folder": "mnist", "files": files}
    BlobUploadProvider().create(props)
    assert sorted(container.blobs) == sorted(f"mnist/{name}" for name in files)
    for name, spec in files.items():
        data, md5 = container.blobs[f"mnist/{name}"]
        assert hashlib.md5(data).hexdigest() == spec["md5"] == md5.hex()
