"""The figures the training runs log: sample digits, a confusion matrix, accuracy against k.

Each function returns a matplotlib Figure (headless Agg backend) for `mlflow.log_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure


def sample_digits(images: np.ndarray, labels: np.ndarray, count: int = 30, seed: int = 0) -> Figure:
    """A grid of `count` random training digits with their labels: the hands-on's first look."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(images), size=min(count, len(images)), replace=False)
    cols = 10
    rows = max(1, -(-len(picks) // cols))
    fig = Figure(figsize=(cols * 1.2, rows * 1.4))
    for slot, i in enumerate(picks):
        ax = fig.add_subplot(rows, cols, slot + 1)
        ax.imshow(images[i].reshape(28, 28), cmap="Greys")
        ax.set_title(str(labels[i]), fontsize=14)
        ax.axis("off")
    fig.suptitle(f"{len(picks)} training digits and their labels")
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, title: str) -> Figure:
    """Counts of true digit (rows) against predicted digit (columns), numbers in every cell."""
    labels = np.union1d(y_true, y_pred)
    index = {label: i for i, label in enumerate(labels.tolist())}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(
        counts,
        ([index[v] for v in y_true.tolist()], [index[v] for v in y_pred.tolist()]),
        1,
    )
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(len(labels)), [str(v) for v in labels])
    ax.set_yticks(range(len(labels)), [str(v) for v in labels])
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    threshold = counts.max() / 2 if counts.size else 0
    for (row, col), value in np.ndenumerate(counts):
        ax.text(
            col,
            row,
            str(value),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if value > threshold else "black",
        )
    fig.tight_layout()
    return fig


def accuracy_by_k(accuracy: Mapping[int, float], best_k: int) -> Figure:
    """Test accuracy for each k, the best one marked."""
    ks = sorted(accuracy)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.plot(ks, [accuracy[k] for k in ks], marker="o")
    ax.plot([best_k], [accuracy[best_k]], marker="*", markersize=16, color="tab:red", ls="none")
    ax.annotate(f"best k={best_k}: {accuracy[best_k]:.4f}", (best_k, accuracy[best_k]))
    ax.set_xticks(ks)
    ax.set_xlabel("k (neighbours that vote)")
    ax.set_ylabel("test accuracy")
    ax.set_title("kNN: accuracy against k")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
