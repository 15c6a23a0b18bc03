"""Small synthetic MNIST directories for tests: real IDX files, made with write_idx.

Each digit has its own random 28x28 stroke pattern and every image is its digit's pattern with
some pixels flipped, so the data is learnable (a classifier should beat chance by far) while
being made in milliseconds. Import `make_mnist_dir` or use the `synthetic_mnist` fixture.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from mnist_trainer.idx import FILES, write_idx

from workshop.mnist import MnistFile


def make_mnist_dir(
    path: Path,
    *,
    n_train: int = 200,
    n_test: int = 50,
    seed: int = 0,
    noise: float = 0.1,
    gz: bool = True,
) -> Path:
    """Write the four MNIST files into `path` (created if needed) and return `path`.

    Labels cycle through 0-9 before shuffling, so every digit is present once n >= 10.
    `gz=False` writes raw IDX files under the names without `.gz`.
    """
    rng = np.random.default_rng(seed)
    prototypes = rng.random((10, 28, 28)) < 0.2  # one stroke pattern per digit
    path.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        flips = rng.random((n, 28, 28)) < noise
        images = np.where(prototypes[labels] ^ flips, 255, 0).astype(np.uint8)
        write_idx(_name(path, FILES[f"{split}_images"], gz), images)
        write_idx(_name(path, FILES[f"{split}_labels"], gz), labels)
    return path


def describe_files(path: Path) -> tuple[MnistFile, ...]:
    """The MnistFile entries (name, size, MD5) of the .gz files in `path`, in FILES order.

    Pass them as `files=` to fetch_mnist to fetch synthetic files as if they were published.
    """
    described = []
    for key, name in FILES.items():
        blob = (path / name).read_bytes()
        described.append(MnistFile(key, name, len(blob), hashlib.md5(blob).hexdigest()))
    return tuple(described)


def _name(path: Path, name: str, gz: bool) -> Path:
    return path / (name if gz else name.removesuffix(".gz"))


def real_mnist_or_none() -> Path | None:
    """The first WORKSHOP_MNIST_MIRROR entry that is a local directory with all four files."""
    for entry in os.environ.get("WORKSHOP_MNIST_MIRROR", "").split(","):
        entry = entry.strip().removeprefix("file://")
        if entry and all((Path(entry) / name).is_file() for name in FILES.values()):
            return Path(entry)
    return None
