"""Which files of a `code:` folder Azure ML uploads: decided by azure-ai-ml's own ignore rules.

`az ml job create` snapshots the code folder minus what `.amlignore` (or, when there is none,
`.gitignore`) in the folder's root excludes, with gitwildmatch semantics including `!` negations.
The SDK exposes that only through a private module, so the private import lives here alone and
`tests/test_jobspec_upload.py` fails loudly if the SDK moves it or changes its answers.

The walk is ours (lazy, in sorted order) so that callers can stop early on a huge folder; it
follows symlinks as the SDK's `get_upload_files_from_folder` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from azure.ai.ml._utils._asset_utils import get_ignore_file  # private; see the module docstring


def ignore_rules_file(folder: Path) -> Path | None:
    """The ignore file the upload honours (`.amlignore` first, then `.gitignore`), if any."""
    found = get_ignore_file(folder)
    return Path(found.path) if found.exists() else None


def upload_files(
    folder: Path, onerror: Callable[[OSError], None] | None = None
) -> Iterator[tuple[Path, str]]:
    """(absolute path, path relative to `folder` with `/`) for every file the upload would send.

    Unreadable directories are skipped, as os.walk does; `onerror` is told about each one.
    """
    folder = Path(folder).resolve()
    ignore = get_ignore_file(folder)
    for root, dirs, files in os.walk(folder, onerror=onerror, followlinks=True):
        dirs.sort()
        base = Path(root)
        for name in sorted(files):
            path = base / name
            if not ignore.is_file_excluded(path.as_posix()):
                yield path, path.relative_to(folder).as_posix()
