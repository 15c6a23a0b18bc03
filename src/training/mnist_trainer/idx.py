"""Reader for the IDX files MNIST ships in (gzip-compressed or raw).

Files are read as streams, never past the payload the header promises, so a decompression bomb
costs no more memory than a real file. Every structural problem (wrong kind of file, truncated
header or payload, dimensions that do not match) raises one `IdxError` that names the file, what
was expected and what was found, so a corrupt download is reported as such and never trained on.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_trainer.published import FILES

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
_KIND = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}
_NDIM = {LABELS_MAGIC: 1, IMAGES_MAGIC: 3}


class IdxError(ValueError):
    """A file is not the IDX file it should be."""

    def __init__(self, path: Path | str, expected: str, found: str) -> None:
        self.path = Path(path)
        self.expected = expected
        self.found = found
        super().__init__(f"{self.path}: expected {expected}, found {found}")


MAX_PAYLOAD = 1 << 27
"""The largest payload a header may promise (128 MiB; MNIST's training images are 47 MB)."""

_CHUNK = 1 << 20
_COUNT_EXTRA = 1 << 20  # past the promised payload, bytes counted (for the message), not kept


@contextlib.contextmanager
def _open_stream(path: Path) -> Iterator[io.BufferedIOBase]:
    """The file's bytes as a stream, decompressed as they are read when it is gzip."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise IdxError(path, "a readable file", exc.strerror or str(exc)) from exc
    with raw:
        is_gzip = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        if path.suffix == ".gz" and not is_gzip:
            raise IdxError(path, "a gzip file (the name ends in .gz)", "no gzip header")
        if not is_gzip:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw) as stream:
            yield stream


def _read_into(path: Path, stream: io.BufferedIOBase, buffer: bytearray) -> int:
    """Fill `buffer` from the stream; the number of bytes read (short only at the end)."""
    view = memoryview(buffer)
    got = 0
    try:
        while got < len(buffer):
            n = stream.readinto(view[got : got + _CHUNK])
            if not n:
                break
            got += n
    except (OSError, EOFError, zlib.error) as exc:
        raise IdxError(path, "a complete gzip stream", f"a damaged one ({exc})") from exc
    return got


def read_idx(
    path: Path | str, expect_magic: int | None = None, *, max_payload: int = MAX_PAYLOAD
) -> np.ndarray:
    """Read one IDX file into a uint8 array shaped as its header says.

    `expect_magic` (2049 labels, 2051 images) rejects the wrong kind of file. The file is read
    as a stream, never more than the header promises (and a promise over `max_payload` is
    refused), so a small gzip that inflates to gigabytes fails fast, in little memory.
    """
    path = Path(path)
    if not path.is_file():
        raise IdxError(path, "an IDX file", "a directory" if path.is_dir() else "no such file")
    with _open_stream(path) as stream:
        head = bytearray(4)
        got = _read_into(path, stream, head)
        if got < 4:
            raise IdxError(path, "a 4-byte IDX magic number", f"{got} bytes in all")
        magic = int.from_bytes(head, "big")
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
        sizes = bytearray(4 * ndim)
        got = _read_into(path, stream, sizes)
        if got < len(sizes):
            raise IdxError(
                path, f"a {header_len}-byte header with {ndim} dimension(s)", f"{4 + got} bytes"
            )
        dims = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(ndim))
        shape = " x ".join(str(d) for d in dims)
        expected_len = math.prod(dims)
        if expected_len > max_payload:
            raise IdxError(
                path,
                f"a payload of at most {max_payload} bytes",
                f"a header promising {expected_len} ({shape})",
            )
        payload = bytearray(expected_len)
        got = _read_into(path, stream, payload)
        if got < expected_len:
            raise IdxError(
                path, f"{expected_len} payload bytes for dimensions {shape}", f"{got} bytes"
            )
        extra = _read_into(path, stream, bytearray(_COUNT_EXTRA))
        if extra:
            found = (
                f"{expected_len + extra} bytes"
                if extra < _COUNT_EXTRA
                else f"more than {expected_len + extra} bytes"
            )
            raise IdxError(path, f"{expected_len} payload bytes for dimensions {shape}", found)
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
