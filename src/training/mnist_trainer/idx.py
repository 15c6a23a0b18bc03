"""Reader for the IDX files MNIST ships in (gzip-compressed or raw).

Every structural problem (wrong kind of file, truncated header or payload, dimensions that do not
match) raises one `IdxError` that names the file, what was expected and what was found, so a
corrupt download is reported as such and never trained on.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
_KIND = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}
_NDIM = {LABELS_MAGIC: 1, IMAGES_MAGIC: 3}

# File names as published, and the shapes the real files have.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


class IdxError(ValueError):
    """A file is not the IDX file it should be."""

    def __init__(self, path: Path | str, expected: str, found: str) -> None:
        self.path = Path(path)
        self.expected = expected
        self.found = found
        super().__init__(f"{self.path}: expected {expected}, found {found}")


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IdxError(path, "a readable file", exc.strerror or str(exc)) from exc
    is_gzip = raw[:2] == b"\x1f\x8b"
    if path.suffix == ".gz" and not is_gzip:
        raise IdxError(path, "a gzip file (the name ends in .gz)", "no gzip header")
    if not is_gzip:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxError(path, "a complete gzip stream", f"a damaged one ({exc})") from exc


def read_idx(path: Path | str, expect_magic: int | None = None) -> np.ndarray:
    """Read one IDX file into a uint8 array shaped as its header says.

    `expect_magic` (2049 labels, 2051 images) rejects the wrong kind of file.
    """
    path = Path(path)
    if not path.is_file():
        raise IdxError(path, "an IDX file", "a directory" if path.is_dir() else "no such file")
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxError(path, "a 4-byte IDX magic number", f"{len(data)} bytes in all")
    magic = int.from_bytes(data[:4], "big")
    if magic not in _KIND:
        raise IdxError(path, "magic 2049 (labels) or 2051 (images)", f"magic {magic}")
    if expect_magic is not None and magic != expect_magic:
        raise IdxError(
            path,
            f"{_KIND[expect_magic]} (magic {expect_magic})",
            f"{_KIND[magic]} (magic {magic})",
        )
    ndim = _NDIM[magic]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxError(
            path, f"a {header_len}-byte header with {ndim} dimension(s)", f"{len(data)} bytes"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_len = int(np.prod(dims, dtype=np.int64))
    payload = memoryview(data)[header_len:]
    if len(payload) != expected_len:
        shape = " x ".join(str(d) for d in dims)
        raise IdxError(
            path,
            f"{expected_len} payload bytes for dimensions {shape}",
            f"{len(payload)} bytes",
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def write_idx(path: Path | str, array: np.ndarray) -> None:
    """Write a uint8 array as IDX (gzip-compressed when the name ends in .gz); used by tests."""
    path = Path(path)
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    if arr.ndim not in (1, 3):
        raise ValueError(f"IDX arrays here are 1-D labels or 3-D images, not {arr.ndim}-D")
    magic = LABELS_MAGIC if arr.ndim == 1 else IMAGES_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    blob = header + arr.tobytes()
    path.write_bytes(gzip.compress(blob, compresslevel=1) if path.suffix == ".gz" else blob)


@dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays: images flattened to (n, 784) uint8, labels (n,) uint8."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _find(directory: Path, name: str) -> Path:
    """The published name, or the same name without .gz (a raw copy)."""
    for candidate in (directory / name, directory / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return directory / name


def load_mnist(directory: Path | str) -> Mnist:
    """Load the four files from `directory`, checking that images and labels agree."""
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {}
    for key, name in FILES.items():
        magic = IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC
        arrays[key] = read_idx(_find(directory, name), expect_magic=magic)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[0] != labels.shape[0]:
            raise IdxError(
                _find(directory, FILES[f"{split}_labels"]),
                f"{images.shape[0]} labels (one per {split} image)",
                f"{labels.shape[0]}",
            )
        if images.shape[1:] != (28, 28):
            raise IdxError(
                _find(directory, FILES[f"{split}_images"]),
                "28 x 28 images",
                " x ".join(str(d) for d in images.shape[1:]),
            )
        if labels.size and int(labels.max()) > 9:
            raise IdxError(
                _find(directory, FILES[f"{split}_labels"]),
                "digit labels 0-9",
                f"label {int(labels.max())}",
            )
    return Mnist(
        x_train=arrays["train_images"].reshape(len(arrays["train_images"]), -1),
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"].reshape(len(arrays["test_images"]), -1),
        y_test=arrays["test_labels"],
    )
