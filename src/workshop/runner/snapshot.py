"""Each run, trial and step works in its own copy of its code folder, as on Azure.

Azure ML uploads a snapshot of `code:` (minus what `.amlignore`/`.gitignore` excludes) and each
job, trial and step runs in its own copy. Locally the copy is made from the same file list
(`jobspec.upload.upload_files`), so a job that writes into its working directory leaves the
repository alone and parallel trials never share a folder. A job without `code:` starts in an
empty folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.jobspec.upload import upload_files
from workshop.runner.folders import inside


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
        for source, relative in upload_files(code):
            target = inside(dest, *relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    except OSError as exc:
        raise WorkshopError(f"cannot copy the code folder {code} to {dest}: {exc}") from None
    return dest
