"""Upload the data cache's files into a blob container with Entra ID, as a Pulumi dynamic resource.

The resource is declared from blob names and MD5s only (constants: the published MNIST files), so
evaluating the program (`pulumi preview`) reads no file and downloads nothing, and the state holds
no local path. The files are read only when the upload runs (create, or update after an MD5
changed), from the local data cache (workshop_common.paths.data_cache, resolved then, in the
provider's process). A file missing or different there is fetched first by the tool's own
`workshop data fetch` (a process, not an import: the program does not depend on the CLI package's
modules), so `pulumi up` alone works on a fresh clone; if that fetch fails, the step fails with
one message that names the folder, the fetch's reason and the fix.

pulumi-azure-native's `storage.Blob` authenticates with the account key, which fails on a storage
account with shared-key access off (pulumi/pulumi-azure-native#2015, #2948, both open). This
resource uploads with `DefaultAzureCredential` instead (`az login` locally, AZURE_* variables or
OIDC in CI), so the account keeps keys disabled. The deployer needs Storage Blob Data Contributor
on the container; a fresh grant can take minutes to propagate, so 403s are retried for a while.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from mnist_trainer.published import md5_of
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from workshop_common.paths import DATA_DIR_ENV, data_cache

PROPAGATION_WAIT_SECONDS = 600.0
"""How long a 403 is retried while a new role assignment propagates."""

RETRY_EVERY_SECONDS = 15.0

FETCH_COMMAND = ("-m", "workshop", "data", "fetch", "--no-progress", "--json", "--dest")
"""`workshop data fetch` run by this Python (the program's .venv, which `pulumi install` fills with
this project), into the data cache: mirrors, retries and the published MD5s are the tool's."""

FETCH_TIMEOUT_SECONDS = 1800.0


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


def missing_files(names: Iterable[str], folder: Path) -> list[str]:
    """The names with no file in `folder` (a look at the folder, nothing read)."""
    return [name for name in names if not (folder / name).is_file()]


def _fetch_hint(folder: Path) -> str:
    return (
        f"run `workshop data fetch` (it fills {folder}; {DATA_DIR_ENV} moves it; --mirror DIR "
        "takes a local copy) and run `pulumi up` again"
    )


def _all_present(md5s: Mapping[str, str], folder: Path) -> bool:
    """Every file there with its declared MD5 (then no fetch is needed)."""
    return not missing_files(md5s, folder) and all(
        md5_of(folder / name) == md5 for name, md5 in md5s.items()
    )


def _reason(done: subprocess.CompletedProcess[str]) -> str:
    """The fetch's own error message (its --json document), else its last line of output."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        error = json.loads(done.stdout)["error"]
        return str(error["message"]).splitlines()[0]
    lines = (done.stderr or done.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def local_copies(md5s: Mapping[str, str], folder: Path) -> dict[str, Path]:
    """Each named file in `folder`, checked against its MD5; one error naming every missing file,
    or the first whose content differs, with the fix."""
    missing = missing_files(md5s, folder)
    if missing:
        raise RuntimeError(
            f"{folder}: {', '.join(sorted(missing))} missing (the files to upload); "
            + _fetch_hint(folder)
        )
    paths = {name: folder / name for name in md5s}
    for name in sorted(md5s):
        found = md5_of(paths[name])
        if found != md5s[name]:
            raise RuntimeError(
                f"{paths[name]}: MD5 {found}, expected {md5s[name]} (not the published file); "
                + _fetch_hint(folder)
            )
    return paths


class BlobUploadProvider(ResourceProvider):
    """Create/update upload every file whose MD5 changed; delete removes the blobs.

    No attribute holds a local path: Pulumi stores the pickled provider in the state.
    """

    wait_seconds: float = PROPAGATION_WAIT_SECONDS
    retry_every: float = RETRY_EVERY_SECONDS
    fetch_command: tuple[str, ...] = FETCH_COMMAND

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

        if not names:
            return
        md5s = {name: props["files"][name]["md5"] for name in names}
        folder = data_cache()
        if not _all_present(md5s, folder):
            self._fetch(folder)
        paths = local_copies(md5s, folder)  # every file checked before the first is sent
        client = _container_client(props["account_name"], props["container_name"])
        for name in sorted(names):
            path = paths[name]
            settings = ContentSettings(
                content_type="application/gzip", content_md5=bytearray.fromhex(md5s[name])
            )

            def put(path: Path = path, name: str = name, settings: Any = settings) -> None:
                with path.open("rb") as data:
                    client.upload_blob(
                        f"{props['folder']}/{name}", data, overwrite=True, content_settings=settings
                    )

            self._while_propagating(put, f"upload {props['folder']}/{name}", props)

    def _fetch(self, folder: Path) -> None:
        """Fill `folder` with `workshop data fetch`; its failure is one error with its reason."""
        command = [sys.executable, *self.fetch_command, str(folder)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(
                f"{folder}: fetching MNIST for the upload failed ({exc}); " + _fetch_hint(folder)
            ) from None
        if done.returncode != 0:
            raise RuntimeError(
                f"{folder}: fetching MNIST for the upload failed: {_reason(done)}; "
                + _fetch_hint(folder)
            )

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
    """The data cache's files `files` (blob name: MD5 hex) as blobs `<folder>/<name>`."""

    def __init__(
        self,
        resource_name: str,
        *,
        account_name: pulumi.Input[str],
        container_name: pulumi.Input[str],
        folder: str,
        files: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "account_name": account_name,
            "container_name": container_name,
            "folder": folder,
            "files": {name: {"md5": md5} for name, md5 in files.items()},
        }
        super().__init__(BlobUploadProvider(), resource_name, props, opts)
