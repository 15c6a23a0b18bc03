"""Each run, trial and step works in its own copy of its code folder, as on Azure.

Azure ML uploads a snapshot of `code:` (minus what `.amlignore`/`.gitignore` excludes) and each
job, trial and step runs in its own copy. Locally the copy is made from the same file list
(`jobspec.upload.upload_files`), so a job that writes into its working directory leaves the
repository alone and parallel trials never share a folder. A job without `code:` starts in an
empty folder.

The file list comes from azure-ai-ml's ignore rules, and importing the SDK takes seconds, so the
list is kept under the workshop home with the modification time of every folder walked and of the
two ignore files: a file added, removed or renamed changes its folder's time, an edited ignore file
its own, and either makes the kept list stale (then the SDK decides again).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.paths import runner_cache
from workshop.runner.cachefile import write_atomically
from workshop.runner.folders import inside

IGNORE_FILES = (".amlignore", ".gitignore")


def copy_code(code: Path | None, dest: Path) -> Path:
    """The working directory for one task: `dest`, holding a copy of `code` (or nothing)."""
    dest.mkdir(parents=True, exist_ok=True)
    if code is None:
        return dest
    if not code.is_dir():
        raise WorkshopError(
            f"code: {code} is not a folder here",
            hint="point `code:` at a local folder, relative to the YAML",
        )
    try:
        for relative in snapshot_files(code):
            target = inside(dest, *relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(code / relative, target)
    except OSError as exc:
        raise WorkshopError(f"cannot copy the code folder {code} to {dest}: {exc}") from None
    return dest


def snapshot_files(code: Path) -> list[str]:
    """The paths (relative, with `/`) Azure ML would upload from `code`, kept between runs."""
    folder = code.resolve()
    entry = runner_cache() / "snapshots" / f"{_digest(str(folder))}.json"
    kept = _read(entry, folder)
    if kept is not None:
        return kept
    from workshop.jobspec.upload import upload_files  # imports azure-ai-ml

    # Times first, list second: whatever changes meanwhile leaves a time older than the folder's.
    before = _stamps(folder)
    folders = {root: os.stat(root).st_mtime_ns for root, _, _ in os.walk(folder, followlinks=True)}
    files = [relative for _source, relative in upload_files(folder)]
    _write(entry, {"folder": str(folder), "files": files, "stamps": before, "dirs": folders})
    return files


def _stamps(folder: Path) -> dict[str, list[int] | None]:
    found: dict[str, list[int] | None] = {}
    for name in IGNORE_FILES:
        try:
            stat = os.stat(folder / name)
            found[name] = [stat.st_mtime_ns, stat.st_size]
        except OSError:
            found[name] = None
    return found


def _read(entry: Path, folder: Path) -> list[str] | None:
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        if data["folder"] != str(folder) or data["stamps"] != _stamps(folder):
            return None
        for path, mtime in data["dirs"].items():
            if os.stat(path).st_mtime_ns != mtime:
                return None
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def _write(entry: Path, data: dict[str, object]) -> None:
    write_atomically(entry, json.dumps(data))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
