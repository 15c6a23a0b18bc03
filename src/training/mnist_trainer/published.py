"""The four MNIST files as published (LeCun, Cortes, Burges): names, sizes in bytes and MD5s.

The one list of them: the training code reads the files by these names (idx.FILES), the
`workshop` tool fetches and verifies them, and the Pulumi program declares their upload from the
MD5s. Standard library only, so the Pulumi program can import it without the training stack.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MnistFile:
    """One published file: its role (`train_images`...), name, size in bytes and MD5 (hex)."""

    key: str
    name: str
    size: int
    md5: str


PUBLISHED: tuple[MnistFile, ...] = (
    MnistFile(
        "train_images", "train-images-idx3-ubyte.gz", 9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    ),
    MnistFile(
        "train_labels", "train-labels-idx1-ubyte.gz", 28881, "d53e105ee54ea40749a09fcbcd1e9432"
    ),
    MnistFile(
        "test_images", "t10k-images-idx3-ubyte.gz", 1648877, "9fb629c4189551a2d022fa330f9573f3"
    ),
    MnistFile("test_labels", "t10k-labels-idx1-ubyte.gz", 4542, "ec29112dd5afa0611ce80d1b7f02629c"),
)

FILES: dict[str, str] = {f.key: f.name for f in PUBLISHED}
"""File name by role, as the training code looks the files up."""


def md5_of(path: Path) -> str:
    """MD5 of a file, read in chunks: how the tool and the upload check a file against its MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
