"""The benchmark's sections: each runs one comparison and returns its table rows and figures.

__main__ runs them in one process, in an order that lets later sections use earlier results (the
2019 per-k predictions check the end-to-end run's saved model), prints every section in one table
and writes each under its key.
"""

from __future__ import annotations

import resource
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mnist_trainer import logreg
from mnist_trainer.idx import Mnist
from mnist_trainer.neighbours import predict_many_k

KS = list(range(1, 15, 2))  # the hands-on's range(1, kmax=15, kinterval=2)


@dataclass
class Section:
    key: str
    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # (what, original, ours)
    figures: dict[str, Any] = field(default_factory=dict)
    predictions: dict[int, np.ndarray] = field(default_factory=dict)  # not written to JSON


def original_logreg(data: Mnist) -> dict[str, Any]:
    """The hands-on's `LogisticRegression()` on X / 255.0 (float64), fitted alone, timed."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        started = time.perf_counter()
        model.fit(data.x_train / 255.0, data.y_train)
        seconds = time.perf_counter() - started
    return {
        "params": {k: model.get_params()[k] for k in ("solver", "C", "tol", "max_iter")},
        "fit_seconds": round(seconds, 2),
        "accuracy": float(np.mean(model.predict(data.x_test / 255.0) == data.y_test)),
        "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
        "n_iter": int(model.n_iter_.max()),
    }


def logistic_regression(original: dict[str, Any], run: dict[str, Any]) -> Section:
    """The 2019 fit alone against `workshop run jobs/train-logreg.yml`'s own fit (its metrics)."""
    metrics = run["metrics"]
    ours = {
        "params": {"solver": "lbfgs", **logreg.DEFAULTS, "threads": logreg.THREADS},
        "fit_seconds": round(metrics["fit_seconds"], 2),
        "accuracy": metrics["accuracy"],
        "converged": metrics["converged"] == 1.0,
        "n_iter": int(metrics["n_iter"]),
    }
    o, s = original, ours
    figures = {"original": o, "ours": s, "speedup": round(o["fit_seconds"] / s["fit_seconds"], 2)}
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
    section = Section("knn", "k-nearest neighbours, k = 1, 3, ..., 13", rows, figures)
    section.predictions = original
    return section


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def end_to_end(
    knn: Section,
    original_logreg: dict[str, Any],
    knn_run: tuple[float, dict[str, Any]],
    logreg_run: tuple[float, dict[str, Any]],
    setup: dict[str, float | None],
    data: Mnist,
) -> Section:
    """`workshop run jobs/train-knn.yml` / `train-logreg.yml` end to end against the 2019 code."""
    from benchmarks.runs import model_megabytes, runner_seconds, saved_model_predictions

    (knn_seconds, knn_doc), (lr_seconds, lr_doc) = knn_run, logreg_run
    best_k = int(knn_doc["metrics"]["best_k"])
    predicted = saved_model_predictions(knn_doc, data.x_test)
    mismatches = int(np.sum(predicted != knn.predictions[best_k]))
    knn_compute = knn_doc["metrics"]["search_seconds"]
    lr_compute = lr_doc["metrics"]["fit_seconds"]
    figures = {
        "knn": {
            "seconds": round(knn_seconds, 2),
            "compute_seconds": round(knn_compute, 2),
            "overhead_seconds": round(knn_seconds - knn_compute, 2),
            "runner_seconds": runner_seconds(knn_seconds, knn_doc),
            "speedup_vs_2019_loop": round(knn.figures["original_seconds"] / knn_seconds, 2),
            "best_k": best_k,
            "saved_model_mismatches_vs_2019": mismatches,
            "saved_model_mb": model_megabytes(knn_doc),
        },
        "logreg": {
            "seconds": round(lr_seconds, 2),
            "compute_seconds": round(lr_compute, 2),
            "overhead_seconds": round(lr_seconds - lr_compute, 2),
            "runner_seconds": runner_seconds(lr_seconds, lr_doc),
            "ratio_to_2019_fit": round(lr_seconds / original_logreg["fit_seconds"], 2),
            "saved_model_mb": model_megabytes(lr_doc),
        },
        "setup": setup,
    }
    k, lr = figures["knn"], figures["logreg"]
    env = setup["environment_build_seconds"]
    rows = [
        (
            "workshop run train-knn.yml",
            f"{knn.figures['original_seconds']:.1f} s (per-k loop)",
            f"{k['seconds']:.1f} s ({k['speedup_vs_2019_loop']:.1f}x; target >= 6x)",
        ),
        ("  of which neighbour search", "", f"{k['compute_seconds']:.1f} s"),
        ("  overhead (target < 3 s)", "", f"{k['overhead_seconds']:.1f} s"),
        ("    of which the runner's own", "", f"{k['runner_seconds']:.1f} s"),
        (
            f"  saved model = 2019 predictions (k={best_k})",
            "",
            _yes(mismatches == 0) + f", {k['saved_model_mb']:.0f} MB",
        ),
        (
            "workshop run train-logreg.yml",
            f"{original_logreg['fit_seconds']:.1f} s (fit alone)",
            f"{lr['seconds']:.1f} s ({lr['ratio_to_2019_fit']:.2f}x; target <= 1.25x)",
        ),
        ("  of which fit", "", f"{lr['compute_seconds']:.1f} s"),
        ("  overhead (target < 3 s)", "", f"{lr['overhead_seconds']:.1f} s"),
        ("    of which the runner's own", "", f"{lr['runner_seconds']:.1f} s"),
        ("one-time: MLflow store", "", f"{setup['mlflow_store_seconds']:.1f} s"),
        (
            "one-time: first load of the two jobs (azure-ai-ml)",
            "",
            f"{setup.get('first_load_seconds', float('nan')):.1f} s",
        ),
        ("one-time: environment build", "", "n/a" if env is None else f"{env:.1f} s"),
    ]
    title = "workshop run, end to end (warm: environment built, jobs loaded once)"
    return Section("runs", title, rows, figures)
