"""Where the four MNIST files come from, and what they must be byte for byte.

The mirrors are tried in order; `WORKSHOP_MNIST_MIRROR` (comma-separated) or an explicit list
replaces them, so a machine without internet can point at a local copy.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

# The published files' list, sizes and MD5s belong to the training code (the folder jobs upload
# must stay self-contained); the tool fetches and verifies against it.
from mnist_trainer.published import PUBLISHED as PUBLISHED
from mnist_trainer.published import MnistFile as MnistFile
from mnist_trainer.published import md5_of

from workshop.errors import WorkshopError

ENV_VAR = "WORKSHOP_MNIST_MIRROR"

DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://azureopendatastorage.blob.core.windows.net/mnist/",  # Azure Open Datasets
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch CI
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # Google CVDF
    "http://yann.lecun.com/exdb/mnist/",  # the original site
)

LOCAL_COPY_HINT = (
    f"point at a local copy of the four .gz files: `{ENV_VAR}=/path/to/dir workshop data fetch` "
    "or `workshop data fetch --mirror /path/to/dir` (a file:// or http(s) URL works too)"
)

_SPEC_HINT = "give an http(s) URL prefix, a file:/// URL or a directory path"


@dataclass(frozen=True)
class Mirror:
    """One place to fetch from: an http(s) URL prefix, or a local directory."""

    spec: str  # as the user wrote it, for messages
    url: str | None = None  # http(s) prefix ending in "/"
    directory: Path | None = None

    def locate(self, name: str) -> str:
        """The URL or path of `name` on this mirror."""
        if self.url is not None:
            return self.url + name
        assert self.directory is not None
        return str(self.directory / name)


def parse_mirror(spec: str, origin: str = "--mirror") -> Mirror:
    """Turn `https://host/prefix/`, `file:///dir` or a plain directory into a Mirror."""
    spec = spec.strip()
    lowered = spec.lower()
    if lowered.startswith(("http://", "https://")):
        if not urlparse(spec).netloc:
            raise WorkshopError(f"mirror {spec!r} (from {origin}) has no host", hint=_SPEC_HINT)
        return Mirror(spec, url=spec if spec.endswith("/") else spec + "/")
    if lowered.startswith("file://"):
        parsed = urlparse(spec)
        if parsed.netloc not in ("", "localhost"):
            raise WorkshopError(
                f"mirror {spec!r} (from {origin}) names host {parsed.netloc!r}; "
                "file:// URLs must be local (file:///path/to/dir)",
                hint=_SPEC_HINT,
            )
        return Mirror(spec, directory=Path(unquote(parsed.path)))
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
        raise WorkshopError(
            f"mirror {spec!r} (from {origin}) uses the unsupported scheme {scheme!r}",
            hint=_SPEC_HINT,
        )
    return Mirror(spec, directory=Path(spec).expanduser())


def resolve_mirrors(mirrors: Sequence[str] | None = None) -> list[Mirror]:
    """The mirrors to try: `mirrors` if given, else $WORKSHOP_MNIST_MIRROR, else the defaults."""
    if mirrors is not None:
        specs, origin = list(mirrors), "--mirror"
    elif os.environ.get(ENV_VAR, "").strip():
        specs, origin = os.environ[ENV_VAR].split(","), ENV_VAR
    else:
        specs, origin = list(DEFAULT_MIRRORS), "the defaults"
    resolved = [parse_mirror(spec, origin) for spec in specs if spec.strip()]
    if not resolved:
        raise WorkshopError(f"no MNIST mirror given (from {origin})", hint=LOCAL_COPY_HINT)
    return resolved


def matches(path: Path, file: MnistFile) -> bool:
    """True when `path` is exactly the published `file` (size first: it is free)."""
    try:
        return path.stat().st_size == file.size and md5_of(path) == file.md5
    except OSError:
        return False
