"""The IDX reader: exact round trips, and one clear error per kind of damage."""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mnist_trainer.idx import (
    FILES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    IdxError,
    load_mnist,
    read_idx,
    write_idx,
)

from tests.memory_cap import cap_above_current
from tests.mnist_fixtures import make_mnist_dir


def _header(magic: int, *dims: int) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip_images_and_labels(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    write_idx(tmp_path / f"images{suffix}", images)
    write_idx(tmp_path / f"labels{suffix}", labels)

    got_images = read_idx(tmp_path / f"images{suffix}", expect_magic=IMAGES_MAGIC)
    got_labels = read_idx(tmp_path / f"labels{suffix}", expect_magic=LABELS_MAGIC)

    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    is_gzip = (tmp_path / f"images{suffix}").read_bytes()[:2] == b"\x1f\x8b"
    assert is_gzip == (suffix == ".gz")


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 5),
    rows=st.integers(1, 9),
    cols=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    gz=st.booleans(),
)
def test_round_trip_any_shape(
    tmp_path_factory: pytest.TempPathFactory, n: int, rows: int, cols: int, seed: int, gz: bool
) -> None:
    array = np.random.default_rng(seed).integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_reads_gz_or_raw_copies(tmp_path: Path, gz: bool) -> None:
    make_mnist_dir(tmp_path, n_train=30, n_test=12, seed=3, gz=gz)
    data = load_mnist(tmp_path)
    assert data.x_train.shape == (30, 784) and data.y_train.shape == (30,)
    assert data.x_test.shape == (12, 784) and data.y_test.shape == (12,)
    images = read_idx(tmp_path / FILES["train_images"].removesuffix("" if gz else ".gz"))
    np.testing.assert_array_equal(data.x_train, images.reshape(30, -1))
    assert sorted(set(data.y_train.tolist())) == list(range(10))


def test_write_idx_rejects_other_ranks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2-D"):
        write_idx(tmp_path / "x", np.zeros((2, 3), dtype=np.uint8))


# Each case writes one damaged file and names what the error must say was expected and found.
Damage = Callable[[Path], Path]


def _bad_magic(tmp: Path) -> Path:
    path = tmp / "bad-magic.idx"
    path.write_bytes(_header(1234, 1) + b"\x00")
    return path


def _truncated_header(tmp: Path) -> Path:
    path = tmp / "short-header.idx"
    path.write_bytes(_header(IMAGES_MAGIC, 3))  # images need three dimensions
    return path


def _shorter_than_magic(tmp: Path) -> Path:
    path = tmp / "tiny.idx"
    path.write_bytes(b"\x00\x00")
    return path


def _truncated_payload(tmp: Path) -> Path:
    path = tmp / "short-payload.idx.gz"
    path.write_bytes(gzip.compress(_header(IMAGES_MAGIC, 2, 28, 28) + bytes(2 * 784 - 5)))
    return path


def _long_payload(tmp: Path) -> Path:
    path = tmp / "long-payload.idx"
    path.write_bytes(_header(LABELS_MAGIC, 3) + bytes(4))
    return path


def _plain_named_gz(tmp: Path) -> Path:
    path = tmp / "plain.idx.gz"
    path.write_bytes(_header(LABELS_MAGIC, 1) + b"\x07")
    return path


def _cut_gzip_stream(tmp: Path) -> Path:
    path = tmp / "cut.idx.gz"
    blob = gzip.compress(_header(LABELS_MAGIC, 500) + bytes(500))
    path.write_bytes(blob[: len(blob) // 2])
    return path


def _missing(tmp: Path) -> Path:
    return tmp / "missing.idx"


def _directory(tmp: Path) -> Path:
    (tmp / "a-dir.idx").mkdir()
    return tmp / "a-dir.idx"


@pytest.mark.parametrize(
    ("damage", "expected", "found"),
    [
        (_bad_magic, "magic 2049 (labels) or 2051 (images)", "magic 1234"),
        (_truncated_header, "16-byte header with 3 dimension(s)", "8 bytes"),
        (_shorter_than_magic, "4-byte IDX magic number", "2 bytes in all"),
        (_truncated_payload, "1568 payload bytes for dimensions 2 x 28 x 28", "1563 bytes"),
        (_long_payload, "3 payload bytes for dimensions 3", "4 bytes"),
        (_plain_named_gz, "a gzip file", "no gzip header"),
        (_cut_gzip_stream, "a complete gzip stream", "a damaged one"),
        (_missing, "an IDX file", "no such file"),
        (_directory, "an IDX file", "a directory"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:] or None,
)
def test_each_damage_gets_one_clear_error(
    tmp_path: Path, damage: Damage, expected: str, found: str
) -> None:
    path = damage(tmp_path)
    with pytest.raises(IdxError) as caught:
        read_idx(path)
    error = caught.value
    assert error.path == path
    assert expected in error.expected and found in error.found
    assert str(error).startswith(f"{path}: expected ")
    assert expected in str(error) and found in str(error)


def test_wrong_kind_names_both_kinds(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    write_idx(path, np.zeros(3, dtype=np.uint8))
    with pytest.raises(IdxError) as caught:
        read_idx(path, expect_magic=IMAGES_MAGIC)
    assert caught.value.expected == "images (magic 2051)"
    assert caught.value.found == "labels (magic 2049)"


def test_unreadable_file_is_an_idx_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.idx"
    write_idx(path, np.zeros(3, dtype=np.uint8))

    def denied(self: Path, *args: object, **kwargs: object) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)  # chmod 0 does not stop root
    with pytest.raises(IdxError) as caught:
        read_idx(path)
    assert (caught.value.expected, caught.value.found) == ("a readable file", "Permission denied")


def _swap_train_files(tmp: Path) -> tuple[Path, str, str]:
    images, labels = tmp / FILES["train_images"], tmp / FILES["train_labels"]
    images_blob = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(images_blob)
    return images, "images (magic 2051)", "labels (magic 2049)"


def _fewer_labels(tmp: Path) -> tuple[Path, str, str]:
    path = tmp / FILES["test_labels"]
    write_idx(path, np.zeros(11, dtype=np.uint8))
    return path, "12 labels (one per test image)", "11"


def _small_images(tmp: Path) -> tuple[Path, str, str]:
    path = tmp / FILES["train_images"]
    write_idx(path, np.zeros((30, 20, 20), dtype=np.uint8))
    return path, "28 x 28 images", "20 x 20"


def _label_ten(tmp: Path) -> tuple[Path, str, str]:
    path = tmp / FILES["train_labels"]
    write_idx(path, np.full(30, 10, dtype=np.uint8))
    return path, "digit labels 0-9", "label 10"


@pytest.mark.parametrize(
    "damage",
    [_swap_train_files, _fewer_labels, _small_images, _label_ten],
    ids=lambda f: f.__name__[1:],
)
def test_load_mnist_checks_the_set_fits_together(
    tmp_path: Path, damage: Callable[[Path], tuple[Path, str, str]]
) -> None:
    make_mnist_dir(tmp_path, n_train=30, n_test=12)
    path, expected, found = damage(tmp_path)
    with pytest.raises(IdxError) as caught:
        load_mnist(tmp_path)
    assert (caught.value.path, caught.value.expected, caught.value.found) == (
        path,
        expected,
        found,
    )


@pytest.mark.slow
def test_the_real_files_load(real_mnist_dir: Path) -> None:
    # Correctness only: speed belongs to `make bench`, never to a timed assertion here.
    data = load_mnist(real_mnist_dir)
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)
    assert np.bincount(data.y_test, minlength=10).sum() == 10000


# A small gzip that inflates to far more than its header promises, read in a process whose
# address space is capped at 512 MB over what it uses after start-up. Reading it whole (2 GiB)
# would fail with MemoryError; a streaming reader stops one megabyte past the promise.
BOMB_UNDER_A_MEMORY_CAP = (
    """
import sys
from pathlib import Path
from mnist_trainer.idx import IdxError, read_idx
from workshop.mnist.check import check_mnist

"""
    + cap_above_current(512 * 2**20)
    + """try:
    read_idx(Path(sys.argv[1]) / "train-images-idx3-ubyte.gz", 2051)
except IdxError as exc:
    print("read_idx:", exc)
try:
    check_mnist(Path(sys.argv[1]))
except IdxError as exc:
    print("check_mnist:", exc)
"""
)


@pytest.mark.timeout(300)
def test_a_gzip_bomb_fails_fast_in_bounded_memory(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.mnist_fixtures import make_mnist_dir

    folder = make_mnist_dir(tmp_path / "mnist", n_train=60, n_test=10)
    bomb = folder / FILES["train_images"]
    # The real header for 60,000 images, then 2 GiB of zeros: a 2 MB file. A gzip file may
    # hold several members, read as one stream: one 16 MiB member of zeros, 128 times.
    zeros = gzip.compress(bytes(1 << 24), compresslevel=9)
    with bomb.open("wb") as out:
        out.write(gzip.compress(_header(IMAGES_MAGIC, 60_000, 28, 28)))
        for _ in range(128):
            out.write(zeros)
    assert bomb.stat().st_size < 3 * 2**20
    done = subprocess.run(
        [sys.executable, "-c", BOMB_UNDER_A_MEMORY_CAP, str(folder)],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    expected = "expected 47040000 payload bytes for dimensions 60000 x 28 x 28, found more than"
    lines = done.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["read_idx", "check_mnist"]
    assert all(expected in line for line in lines), lines
