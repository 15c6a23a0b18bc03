"""The benchmark's sections: each runs one comparison and returns its table rows and figures.

To add one (e.g. the demo's phases), write a function `(Mnist) -> Section` and append it to
SECTIONS; __main__ prints every section in one table and writes each under its key.
"""

from __future__ import annotations

import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mnist_trainer import logreg
from mnist_trainer.common import scaled
from mnist_trainer.idx import Mnist
from mnist_trainer.neighbours import predict_many_k

KS = list(range(1, 15, 2))  # the hands-on's range(1, kmax=15, kinterval=2)


@dataclass
class Section:
    key: str
    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, original, ours)
    figures: dict[str, Any] = field(default_factory=dict)


def _fit_logreg(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[float, bool]:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        started = time.perf_counter()
        model.fit(x, y)
        seconds = time.perf_counter() - started
    return seconds, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def logistic_regression(data: Mnist) -> Section:
    """The hands-on's `LogisticRegression()` on X / 255.0 (float64) against our settings."""
    from sklearn.linear_model import LogisticRegression

    figures: dict[str, Any] = {}
    for name, model, x_train, x_test in (
        ("original", LogisticRegression(), data.x_train / 255.0, data.x_test / 255.0),
        (
            "ours",
            logreg.build_model(
                logreg.DEFAULTS["C"], logreg.DEFAULTS["tol"], int(logreg.DEFAULTS["max_iter"])
            ),
            scaled(data.x_train),
            scaled(data.x_test),
        ),
    ):
        seconds, converged = _fit_logreg(model, x_train, data.y_train)
        accuracy = float(np.mean(model.predict(x_test) == data.y_test))
        figures[name] = {
            "params": {k: model.get_params()[k] for k in ("solver", "C", "tol", "max_iter")},
            "fit_seconds": round(seconds, 2),
            "accuracy": accuracy,
            "converged": converged,
            "n_iter": int(model.n_iter_.max()),
        }
    o, s = figures["original"], figures["ours"]
    figures["speedup"] = round(o["fit_seconds"] / s["fit_seconds"], 2)
    return Section(
        "logreg",
        "Logistic regression",
        [
            ("fit time", f"{o['fit_seconds']:.1f} s", f"{s['fit_seconds']:.1f} s"),
            ("iterations", str(o["n_iter"]), str(s["n_iter"])),
            ("converged", _yes(o["converged"]), _yes(s["converged"])),
            ("test accuracy", f"{o['accuracy']:.4f}", f"{s['accuracy']:.4f}"),
        ],
        figures,
    )


def knn_sweep(data: Mnist) -> Section:
    """The hands-on's per-k loop against our one-pass search; every prediction compared."""
    from sklearn.neighbors import KNeighborsClassifier

    rss_before = _max_rss_mib()
    started = time.perf_counter()
    ours, stats = predict_many_k(data.x_train, data.y_train, data.x_test, KS)
    ours_seconds = time.perf_counter() - started
    ours_peak = _max_rss_mib()

    x_train, x_test = data.x_train / 255.0, data.x_test / 255.0  # as the hands-on loaded them
    original: dict[int, np.ndarray] = {}
    started = time.perf_counter()
    for k in KS:
        model = KNeighborsClassifier(n_neighbors=k)
        model.fit(x_train, data.y_train)
        original[k] = model.predict(x_test)  # .score() is predict + mean
    original_seconds = time.perf_counter() - started

    per_k = {
        k: {
            "accuracy_original": float(np.mean(original[k] == data.y_test)),
            "accuracy_ours": float(np.mean(ours[k] == data.y_test)),
            "mismatches": int(np.sum(original[k] != ours[k])),
        }
        for k in KS
    }
    identical = all(v["mismatches"] == 0 for v in per_k.values())
    figures = {
        "ks": KS,
        "original_seconds": round(original_seconds, 2),
        "ours_seconds": round(ours_seconds, 2),
        "speedup": round(original_seconds / ours_seconds, 2),
        "identical_predictions": identical,
        "per_k": per_k,
        "ours_peak_rss_mib": round(ours_peak),
        "rss_before_search_mib": round(rss_before),
        "exact_fallback_rows": stats.full_rows,
        "heap_replays": stats.heap_replays,
    }
    rows = [
        ("kNN wall time (7 k)", f"{original_seconds:.1f} s", f"{ours_seconds:.1f} s"),
        ("kNN speed-up", "1x", f"{figures['speedup']:.1f}x"),
    ]
    rows += [
        (
            f"  accuracy k={k}",
            f"{v['accuracy_original']:.4f}",
            f"{v['accuracy_ours']:.4f}"
            + ("" if v["mismatches"] == 0 else f" ({v['mismatches']} differ)"),
        )
        for k, v in per_k.items()
    ]
    rows.append(("every prediction matches", "", _yes(identical)))
    rows.append(("peak memory (process RSS)", "", f"{ours_peak:.0f} MiB"))
    return Section("knn", "k-nearest neighbours, k = 1, 3, ..., 13", rows, figures)


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


# kNN first, so its peak memory is not hidden by the float64 copies the originals make.
SECTIONS: list[Callable[[Mnist], Section]] = [knn_sweep, logistic_regression]
