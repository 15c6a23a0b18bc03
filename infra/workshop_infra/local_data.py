"""The four MNIST files the program uploads, taken from the local data cache.

`pulumi preview`/`up` make sure the cache holds the published files (fetching and MD5-verifying
whatever is missing or wrong, via `workshop.mnist.fetch`) before any resource is declared, because
the upload's inputs carry each file's MD5: a changed file is re-uploaded, an unchanged one is not.
Tests under mocks skip this and describe their own files with `LocalFile.of`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from workshop_infra.errors import ConfigError


@dataclass(frozen=True)
class LocalFile:
    """One file to upload: its blob name, where it is on this machine and its MD5 (hex)."""

    name: str
    path: Path
    md5: str

    @classmethod
    def of(cls, path: Path) -> LocalFile:
        return cls(path.name, path, hashlib.md5(path.read_bytes()).hexdigest())


def local_mnist(cache: Path) -> tuple[LocalFile, ...]:
    """Verified MNIST files in `cache`, fetched first if any is missing or not the published one."""
    from workshop.errors import WorkshopError
    from workshop.mnist.fetch import fetch_mnist
    from workshop.mnist.sources import PUBLISHED

    try:
        fetch_mnist(cache, progress=False)
    except WorkshopError as exc:
        raise ConfigError(
            "MNIST data cache", str(cache), f"could not be filled: {exc}", fix=exc.hint
        ) from None
    return tuple(LocalFile(f.name, cache / f.name, f.md5) for f in PUBLISHED)
