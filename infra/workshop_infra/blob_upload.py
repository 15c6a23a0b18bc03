"""Upload local files into a blob container with Entra ID, as a Pulumi dynamic resource.

pulumi-azure-native's `storage.Blob` authenticates with the account key, which fails on a storage
account with shared-key access off (pulumi/pulumi-azure-native#2015, #2948, both open). This
resource uploads with `DefaultAzureCredential` instead (`az login` locally, AZURE_* variables or
OIDC in CI), so the account keeps keys disabled. The deployer needs Storage Blob Data Contributor
on the container; a fresh grant can take minutes to propagate, so 403s are retried for a while.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from workshop_infra.local_data import LocalFile

PROPAGATION_WAIT_SECONDS = 600.0
"""How long a 403 is retried while a new role assignment propagates."""

RETRY_EVERY_SECONDS = 15.0


def _container_client(account_name: str, container_name: str) -> Any:
    """A ContainerClient authenticated as the deployer (tests replace this function)."""
    from azure.identity import DefaultAzureCredential
    from azure.storage.blob import ContainerClient

    return ContainerClient(
        account_url=f"https://{account_name}.blob.core.windows.net",
        container_name=container_name,
        credential=DefaultAzureCredential(exclude_interactive_browser_credential=True),
    )


def _is_forbidden(exc: Exception) -> bool:
    return getattr(exc, "status_code", None) == 403


class BlobUploadProvider(ResourceProvider):
    """Create/update upload every file whose MD5 changed; delete removes the blobs."""

    wait_seconds: float = PROPAGATION_WAIT_SECONDS
    retry_every: float = RETRY_EVERY_SECONDS

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._upload(props, set(props["files"]))
        resource_id = f"{props['account_name']}/{props['container_name']}/{props['folder']}"
        return CreateResult(resource_id, outs=props)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        where = ("account_name", "container_name", "folder")
        replaces = [key for key in where if _olds.get(key) != _news.get(key)]
        old_md5 = {k: v["md5"] for k, v in _olds.get("files", {}).items()}
        new_md5 = {k: v["md5"] for k, v in _news.get("files", {}).items()}
        changes = bool(replaces) or old_md5 != new_md5
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        old_md5 = {k: v["md5"] for k, v in _olds.get("files", {}).items()}
        changed = {k for k, v in _news["files"].items() if old_md5.get(k) != v["md5"]}
        self._upload(_news, changed)
        gone = set(old_md5) - set(_news["files"])
        if gone:
            self._delete_blobs(_news, gone)
        return UpdateResult(outs=_news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        self._delete_blobs(_props, set(_props.get("files", {})))

    def _upload(self, props: dict[str, Any], names: set[str]) -> None:
        from azure.storage.blob import ContentSettings

        client = _container_client(props["account_name"], props["container_name"])
        for name in sorted(names):
            spec = props["files"][name]
            path = Path(spec["path"])
            if not path.is_file():
                raise RuntimeError(
                    f"{path}: the file to upload as {props['folder']}/{name} is missing; run "
                    "`workshop data fetch` (or set WORKSHOP_DATA_DIR) and retry"
                )
            settings = ContentSettings(
                content_type="application/gzip", content_md5=bytearray.fromhex(spec["md5"])
            )

            def put(path: Path = path, name: str = name, settings: Any = settings) -> None:
                with path.open("rb") as data:
                    client.upload_blob(
                        f"{props['folder']}/{name}", data, overwrite=True, content_settings=settings
                    )

            self._while_propagating(put, f"upload {props['folder']}/{name}", props)

    def _delete_blobs(self, props: dict[str, Any], names: set[str]) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        client = _container_client(props["account_name"], props["container_name"])
        for name in sorted(names):
            # Already gone (or the container went first): nothing is left behind either way.
            with contextlib.suppress(ResourceNotFoundError):
                client.delete_blob(f"{props['folder']}/{name}")

    def _while_propagating(self, action: Any, what: str, props: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                action()
                return
            except Exception as exc:
                if not _is_forbidden(exc):
                    raise
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"{what} into {props['account_name']}/{props['container_name']}: still "
                        f"403 Forbidden after {self.wait_seconds:.0f} s; the identity running "
                        "Pulumi needs Storage Blob Data Contributor on the container (check "
                        "aml-workshop:deployerPrincipalType matches it)"
                    ) from exc
                time.sleep(self.retry_every)


class BlobUpload(pulumi.dynamic.Resource):
    """The given local files as blobs `<folder>/<name>` in one container."""

    def __init__(
        self,
        resource_name: str,
        *,
        account_name: pulumi.Input[str],
        container_name: pulumi.Input[str],
        folder: str,
        files: Sequence[LocalFile],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "account_name": account_name,
            "container_name": container_name,
            "folder": folder,
            "files": {f.name: {"path": str(f.path), "md5": f.md5} for f in files},
        }
        super().__init__(BlobUploadProvider(), resource_name, props, opts)
