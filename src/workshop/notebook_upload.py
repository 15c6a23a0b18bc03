"""Copy the hands-on notebooks (and what they run) into the workspace's notebook file share.

Azure ML Studio's Notebooks pane shows the workspace's own Azure Files share (`code-<guid>`, made
by the workspace itself and registered as the datastore `workspaceworkingdirectory`). Files put
under `Users/` there appear to everyone with access to the workspace, so trainees open
`Users/shared/aml-workshop/notebooks/` in Studio, pick a compute instance and run.

The notebooks need the repository around them (jobs/ for the YAMLs they submit, src/training for
the jobs' code, src/workshop for the helpers), so the bundle mirrors the repository's layout.

What goes up: everything a trainee can read in the share, so only what the repository means to
publish. In a git checkout that is what git tracks (`git ls-files`: no untracked scratch files, no
local secrets); outside one, only the file types in ALLOWED_SUFFIXES. Never a dotfile or anything
under a dot folder, never a symbolic link (it could point anywhere on the machine), and each file
is opened without following links.

Authentication: the storage account has shared-key access off, so the upload uses Entra ID
(`DefaultAzureCredential`). Azure Files over REST accepts a bearer token only with the
`x-ms-file-request-intent: backup` header (azure-storage-file-share's `token_intent="backup"`)
and a "Storage File Data Privileged Contributor" role on the account.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from workshop.errors import ExitCode, WorkshopError
from workshop.paths import ROOT
from workshop_common.errors import first_line

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

WORKING_DIRECTORY_DATASTORE = "workspaceworkingdirectory"
"""The datastore every workspace registers for its notebook file share."""
DEFAULT_FOLDER = "Users/shared/aml-workshop"
ROLE = "Storage File Data Privileged Contributor"

BUNDLE = (
    ("notebooks", ("*.ipynb", "*.sh")),  # workshop-kernel.sh builds the notebooks' kernel
    ("jobs", ("*",)),
    ("src", ("*",)),
    ("requirements", ("lock.txt",)),
    ("", ("pyproject.toml", "README.md")),
)
"""(folder under the repository, file-name patterns): what a trainee's copy holds."""
SKIP = ("__pycache__", "*.pyc", ".ipynb_checkpoints", "mlruns", ".workshop", "*.egg-info")
ALLOWED_SUFFIXES = (".py", ".ipynb", ".yml", ".yaml", ".md", ".html", ".txt", ".toml", ".json")
"""Outside a git checkout: the only file types uploaded (code, notebooks, specs, templates)."""


@dataclass(frozen=True)
class ShareTarget:
    account_url: str  # https://<account>.file.core.windows.net
    share_name: str  # code-<guid>...


class FileClient(Protocol):
    def upload_file(self, data: bytes, **kwargs: Any) -> Any: ...


class DirectoryClient(Protocol):
    def create_directory(self, **kwargs: Any) -> Any: ...


class Share(Protocol):
    """The part of azure.storage.fileshare.ShareClient the upload uses (tests fake it)."""

    def get_directory_client(self, directory_path: str | None = None) -> DirectoryClient: ...

    def get_file_client(self, file_path: str) -> FileClient: ...


def bundle_files(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(local file, path relative to the bundle root) for everything a trainee's copy needs.

    Candidates are the files git tracks under `root` (or, outside a checkout, the files with an
    ALLOWED_SUFFIXES type); of those, regular files only, no dotfiles, no symbolic links.
    """
    tracked = _git_tracked(root)
    found: dict[str, Path] = {}
    for folder, patterns in BUNDLE:
        base = root / folder if folder else root
        for relative in _candidates(root, base, recursive=bool(folder), tracked=tracked):
            path = root / relative
            if _skipped(relative) or not _plain_file(root, relative):
                continue
            if any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns):
                found[relative.as_posix()] = path
    for required in ("notebooks", "jobs", "src/training", "src/workshop"):
        if not any(key.startswith(required + "/") for key in found):
            raise WorkshopError(
                f"nothing to upload from {root / required}",
                hint="run this from a checkout of aml-workshop (files must be tracked by git)",
            )
    return [(found[key], key) for key in sorted(found)]


def _git_tracked(root: Path) -> set[PurePosixPath] | None:
    """Paths (relative to root) git tracks under root; None when root is not in a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {PurePosixPath(name) for name in names if name}


def _candidates(
    root: Path, base: Path, *, recursive: bool, tracked: set[PurePosixPath] | None
) -> list[Path]:
    start = PurePosixPath(base.relative_to(root).as_posix())
    if tracked is not None:
        if not recursive:
            return [Path(p) for p in tracked if p.parent == start]
        return [Path(p) for p in tracked if start in p.parents]
    if not base.is_dir() or base.is_symlink():
        return []
    if not recursive:
        return [p.relative_to(root) for p in base.iterdir() if p.suffix in ALLOWED_SUFFIXES]
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):  # os.walk does not descend into linked folders
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [
            (Path(folder) / name).relative_to(root)
            for name in files
            if Path(name).suffix in ALLOWED_SUFFIXES
        ]
    return found


def _plain_file(root: Path, relative: Path) -> bool:
    """A regular file reached without a dot name or a symbolic link anywhere on its path."""
    if any(part.startswith(".") for part in relative.parts):
        return False
    path = root
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            return False
    return path.is_file()


def _skipped(relative: Path) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in SKIP)


def _read_no_follow(path: Path) -> bytes:
    """The file's bytes; fails (ELOOP) if it became a symbolic link after it was listed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as file:
        return file.read()


def check_folder(folder: str) -> str:
    """A relative share path like Users/shared/aml-workshop (no '..', no leading '/')."""
    cleaned = folder.strip().strip("/")
    parts = PurePosixPath(cleaned).parts
    if not cleaned or any(part in ("..", ".") for part in parts) or "\\" in cleaned:
        raise WorkshopError(
            f"--folder {folder!r}: give a relative folder on the share, e.g. {DEFAULT_FOLDER}"
        )
    return "/".join(parts)


def find_share(ml: MLClient) -> ShareTarget:
    """The workspace's notebook share, from its `workspaceworkingdirectory` datastore."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        store: Any = ml.datastores.get(WORKING_DIRECTORY_DATASTORE)
    except ResourceNotFoundError as exc:
        raise WorkshopError(
            f"the workspace has no {WORKING_DIRECTORY_DATASTORE} datastore (its notebook share)",
            hint="open the workspace in Azure ML Studio once (Notebooks) so it creates the share, "
            "then retry",
        ) from exc
    account = getattr(store, "account_name", None)
    share = getattr(store, "file_share_name", None)
    if not account or not share:
        raise WorkshopError(
            f"datastore {WORKING_DIRECTORY_DATASTORE} is a {type(store).__name__}, "
            "not an Azure Files datastore",
            hint="this workspace keeps notebooks elsewhere; upload them in Studio instead",
        )
    protocol = getattr(store, "protocol", None) or "https"
    endpoint = getattr(store, "endpoint", None) or "core.windows.net"
    return ShareTarget(f"{protocol}://{account}.file.{endpoint}", str(share))


def share_client(target: ShareTarget, credential: TokenCredential) -> Share:
    """A ShareClient that signs in with Entra ID (shared keys are off on this account)."""
    from azure.storage.fileshare import ShareClient

    return ShareClient(
        target.account_url, target.share_name, credential=credential, token_intent="backup"
    )


def upload(
    share: Share,
    files: Iterable[tuple[Path, str]],
    folder: str,
    *,
    progress: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Create the folders and upload every file (replacing older copies); the share paths."""
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    folder = check_folder(folder)
    made: set[str] = set()
    written: list[str] = []
    try:
        for local, relative in files:
            target = f"{folder}/{relative}"
            parents = PurePosixPath(target).parents
            for directory in reversed([str(p) for p in parents if str(p) != "."]):
                if directory in made:
                    continue
                with contextlib.suppress(ResourceExistsError):  # already there: fine
                    share.get_directory_client(directory).create_directory()
                made.add(directory)
            share.get_file_client(target).upload_file(_read_no_follow(local))
            written.append(target)
            progress(target)
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise WorkshopError(
                f"the notebook share refused the upload (403: {first_line(exc)})",
                hint=f"the uploader needs the '{ROLE}' role on the workspace's storage account "
                "(Azure Files accepts Entra ID sign-in only with it); a new role assignment can "
                "take a few minutes to apply",
                exit_code=ExitCode.SERVICE_FAILED,
            ) from exc
        raise WorkshopError(
            f"uploading to the notebook share failed: {first_line(exc)}",
            exit_code=ExitCode.SERVICE_FAILED,
        ) from exc
    return written
