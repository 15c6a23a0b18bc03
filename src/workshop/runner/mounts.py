"""Data inputs as a job sees them: its own read-only copy, never the source.

On Azure a `uri_folder`/`uri_file` input is mounted read-only (`ro_mount`, the default) or
downloaded (`download`) for the job: either way the job cannot change the data it was given.
Here the source is a folder on this machine (the data cache, a path beside the YAML, a downloaded
file), so each run gets a copy of every data input it reads, made once per source and shared by
the run's trials and steps, with its write permission cleared (a job run as root can still write
into the copy, but only into the copy). `direct` passes the job the location itself, as on Azure.
The copies go when the run ends, as Azure unmounts them. Input modes:
https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.input (ro_mount mounts read-only,
download downloads, direct passes the URI as a string); azure-ai-ml refuses `rw_mount` for a
command job's uri_folder input ("not in set ['download', 'ro_mount', 'direct']").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from rich.console import Console

console = Console(stderr=True)

SOURCE_MODES = frozenset({"direct"})
"""Input modes whose job is given the data's location itself, not a copy."""


class Mounts:
    """The read-only copies of one run's data inputs, under `<run folder>/inputs`."""

    def __init__(self, run_folder: Path) -> None:
        self.folder = run_folder / "inputs"
        self.copies: dict[Path, Path] = {}

    def view(self, source: Path, mode: str | None) -> Path:
        """What the job is given for `source` in `mode` (None: Azure's default, ro_mount)."""
        if mode in SOURCE_MODES:
            return source
        if source not in self.copies:
            target = self.folder / str(len(self.copies)) / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=False)
            else:
                shutil.copy2(source, target)
            _read_only(target)
            self.copies[source] = target
            # A job's messages name the copy; this line maps it back to the data it came from.
            console.print(
                f"input {source} -> read-only copy {target}", highlight=False, soft_wrap=True
            )
        return self.copies[source]

    def remove(self) -> None:
        """Remove the copies (their folders made writable first, so a user who is not root can).

        Best effort: it runs while a run ends, perhaps on an error, which it must not hide; what
        it cannot remove stays inside the run folder."""
        if not self.folder.exists():
            return
        with contextlib.suppress(OSError):
            for root, dirs, _files in os.walk(self.folder):
                for name in dirs:
                    os.chmod(Path(root) / name, stat.S_IRWXU)
        shutil.rmtree(self.folder, ignore_errors=True)


def _read_only(path: Path) -> None:
    """Clear every write bit below and at `path` (files first, then their folders)."""
    if path.is_dir():
        for root, dirs, files in os.walk(path, topdown=False):
            for name in [*files, *dirs]:
                _clear_write(Path(root) / name)
    _clear_write(path)


def _clear_write(path: Path) -> None:
    mode = path.stat().st_mode
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
