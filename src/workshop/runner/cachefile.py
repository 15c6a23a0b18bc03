"""The runner's cache entries (under `paths.runner_cache()`): written whole or not at all.

A cache is an optimisation, so writing one is best effort: any OS error leaves no entry (and no
temporary file), and the next run simply does the work again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(target: Path, text: str) -> None:
    """`text` into `target` through a temporary file renamed into place; best effort."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
