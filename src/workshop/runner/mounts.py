"""Data inputs as a job sees them: a read-only copy of its own, never the source.

On Azure a `uri_folder`/`uri_file` input is mounted read-only (`ro_mount`, the default) or
downloaded (`download`) for each node that runs a job, trial or step: none of them can change the
data it was given, nor what another one reads. Here the source is a folder on this machine (the
data cache, a path beside the YAML, a downloaded file, another step's output), so each step or
trial that reads it gets a copy of its own, made when it starts and removed when it ends, with its
write permission cleared. A job run as root can still write into its copy; that write reaches no
other step or trial, and the run says which input was written (on Azure the write fails).
A `download` copy stays writable and its changes pass without a word, as the node's own
downloaded files would. `direct` passes the job the location itself, as on Azure. Input modes:
https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.input (ro_mount mounts read-only,
download downloads, direct passes the URI as a string); azure-ai-ml refuses `rw_mount` for a
command job's uri_folder input ("not in set ['download', 'ro_mount', 'direct']").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console

console = Console(stderr=True)

SOURCE_MODES = frozenset({"direct"})
"""Input modes whose job is given the data's location itself, not a copy."""
WRITABLE_MODES = frozenset({"download"})
"""Input modes whose copy is the job's own to change: downloaded to the node's disk, not mounted
(the Input reference: ro_mount "mounts" read-only, download "downloads the data to the compute
target"; that the download is writable is inferred)."""

Listing = frozenset[tuple[str, int, int]]
"""(path inside the copy, size, modification time in ns) of every entry: what a write changes."""


class Mounts:
    """The read-only copies of one run's data inputs, under `<run folder>/inputs/N/`."""

    def __init__(self, run_folder: Path) -> None:
        self.folder = run_folder / "inputs"
        self.sources: dict[str, Path] = {}  # copy path, as bound into a command -> its source
        self.listings: dict[str, Listing] = {}  # the copies that exist now, as made
        self.writable: set[str] = set()  # copies in a WRITABLE_MODES mode

    def view(self, source: Path, mode: str | None) -> Path:
        """Where one step or trial will read `source` in `mode` (None: Azure's default,
        ro_mount): a new copy's path, made by `attach` when that step or trial starts."""
        if mode in SOURCE_MODES:
            return source
        target = self.folder / str(len(self.sources)) / source.name
        self.sources[str(target)] = source
        if mode in WRITABLE_MODES:
            self.writable.add(str(target))
        return target

    def attach(self, values: Iterable[str], who: str) -> list[str]:
        """Make the copies among `values` (a command's bound inputs) for `who`; their paths."""
        made = []
        for value in values:
            source = self.sources.get(value)
            if source is None or value in self.listings:
                continue
            target = Path(value)
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=False)
            else:
                shutil.copy2(source, target)
            kind = "copy" if value in self.writable else "read-only copy"
            if value not in self.writable:
                _read_only(target)
            self.listings[value] = _listing(target)
            made.append(value)
            # A job's messages name the copy; this line maps it back to the data it came from.
            console.print(
                f"{who}: input {source} -> {kind} {target}", highlight=False, soft_wrap=True
            )
        return made

    def detach(self, copies: Iterable[str], who: str, names: dict[str, str]) -> None:
        """Remove `who`'s copies once it has ended, saying which of them it wrote into (`names`:
        copy path -> the input's name). Best effort, as `remove`."""
        for value in copies:
            listing = self.listings.pop(value, None)
            target = Path(value)
            changed = listing is not None and target.exists() and _listing(target) != listing
            if changed and value not in self.writable:
                console.print(
                    f"[yellow]warning[/]: {who} wrote into {names.get(value, 'an input')} (its "
                    f"read-only copy of {self.sources[value]}); on Azure the input is mounted "
                    "read-only and that write fails",
                    highlight=False,
                    soft_wrap=True,
                )
            _remove_tree(target.parent)

    def remove(self) -> None:
        """Remove every copy left (an interrupted run's).

        Best effort: it runs while a run ends, perhaps on an error, which it must not hide; what
        it cannot remove stays inside the run folder."""
        _remove_tree(self.folder)
        self.listings.clear()


def _listing(path: Path) -> Listing:
    """Every entry under `path` (and `path` itself) with its size and modification time."""
    entries = [path]
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            entries.extend(Path(root) / name for name in [*dirs, *files])
    found = set()
    for entry in entries:
        with contextlib.suppress(OSError):
            info = entry.lstat()
            found.add((str(entry.relative_to(path.parent)), info.st_size, info.st_mtime_ns))
    return frozenset(found)


def _remove_tree(folder: Path) -> None:
    """Remove `folder`, its folders made writable first (so a user who is not root can)."""
    if not folder.exists():
        return
    with contextlib.suppress(OSError):
        os.chmod(folder, stat.S_IRWXU)
        for root, dirs, _files in os.walk(folder):
            for name in dirs:
                os.chmod(Path(root) / name, stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


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
