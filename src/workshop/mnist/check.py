"""What `workshop data check` reports: the shapes and label counts of a local MNIST copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mnist_trainer.idx import load_mnist

from workshop.errors import WorkshopError
from workshop.mnist.sources import PUBLISHED, matches


@dataclass(frozen=True)
class SplitSummary:
    """One split as the training code sees it: images (n, 784), labels (n,)."""

    split: str
    images: tuple[int, ...]
    labels: tuple[int, ...]
    label_counts: tuple[int, ...]  # how many of each digit 0-9


@dataclass(frozen=True)
class MnistCheck:
    directory: Path
    train: SplitSummary
    test: SplitSummary
    published: bool  # all four .gz files are byte-identical to the published ones


def check_mnist(directory: Path) -> MnistCheck:
    """Load the four files (any corruption raises IdxError) and summarise them."""
    directory = Path(directory)
    require_files(directory)
    data = load_mnist(directory)
    return MnistCheck(
        directory=directory,
        train=_summary("train", data.x_train, data.y_train),
        test=_summary("test", data.x_test, data.y_test),
        published=all(matches(directory / f.name, f) for f in PUBLISHED),
    )


def require_files(directory: Path) -> None:
    """A WorkshopError naming the missing files, unless all four are there (.gz or not)."""
    missing = [
        f.name
        for f in PUBLISHED
        if not (directory / f.name).is_file()
        and not (directory / f.name.removesuffix(".gz")).is_file()
    ]
    if missing:
        raise WorkshopError(
            f"{directory} lacks {len(missing)} of the 4 MNIST files: {', '.join(missing)}",
            hint=f"run `workshop data fetch --dest {directory}`",
        )


def _summary(split: str, images: np.ndarray, labels: np.ndarray) -> SplitSummary:
    counts = np.bincount(labels, minlength=10)
    return SplitSummary(split, images.shape, labels.shape, tuple(int(c) for c in counts))
