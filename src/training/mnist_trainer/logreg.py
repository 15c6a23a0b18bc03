"""Logistic regression on MNIST: the hands-on's local step, tracked with MLflow.

    python -m mnist_trainer.logreg --data DIR --model-dir DIR [--max-iter N] [--C FLOAT]
                                   [--tol FLOAT] [--train-limit N] [--test-limit N]

Pixels are scaled to 0-1 (float32), centred (each pixel's training mean subtracted) and fitted with
lbfgs. The 2019 hands-on's `LogisticRegression()` stops at max_iter=100 with a ConvergenceWarning;
centring reaches scikit-learn's default tolerance (1e-4) in fewer iterations than the raw pixels
take to max_iter=100, and changes nothing else: lbfgs leaves the intercept unpenalised, so
w.(x - mean) + b is the same family of models with the same penalty on w, hence the same optimum
(tests/test_logreg.py checks it). Logs the parameters, `accuracy`, `converged` (1/0), `n_iter`, a
confusion-matrix PNG and a grid of 30 sample digits (the grid and MLflow's and matplotlib's set-up
run on a second thread while the fit runs on one core); writes the fitted model, a scikit-learn
Pipeline (centre -> logistic regression; pixels scaled to 0-1 in, see mnist_trainer.common), into
--model-dir with mlflow.sklearn.save_model.

Reproducible: lbfgs's path depends on how BLAS splits its sums, i.e. on the thread count (README,
"Reproducibility", has the figures measured on full MNIST). The fit runs on --threads BLAS/OpenMP
threads (default 1, which every machine has), so the same data gives the same model on any number
of cores with the same BLAS kernel.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from mnist_trainer import common

# scikit-learn's own C and tol. Measured on full MNIST, centred, one thread (benchmarks/results.json
# has the latest): 94 iterations, 0.9261 or 0.9265 by the BLAS kernel (README, "Reproducibility").
# tol 3e-4 stopped at 47 iterations and 0.9254, too close
# to the 0.925 floor; the raw pixels at tol 1e-4 need over 150.
DEFAULTS = {"C": 1.0, "tol": 1e-4, "max_iter": 1000}
THREADS = 1  # BLAS/OpenMP threads of the fit: see the module docstring


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_trainer.logreg",
        description="Fit a logistic regression on MNIST and log it with MLflow.",
    )
    common.add_data_args(parser)
    parser.add_argument(
        "--max-iter",
        type=common.positive_int,
        default=DEFAULTS["max_iter"],
        help="lbfgs iteration cap (reaching it means not converged) [%(default)s]",
    )
    parser.add_argument(
        "--C",
        type=common.positive_float,
        default=DEFAULTS["C"],
        help="inverse regularisation strength [%(default)s]",
    )
    parser.add_argument(
        "--tol",
        type=common.positive_float,
        default=DEFAULTS["tol"],
        help="lbfgs stops when the largest gradient entry falls below this [%(default)s]",
    )
    parser.add_argument(
        "--threads",
        type=common.positive_int,
        default=THREADS,
        help="BLAS/OpenMP threads for the fit; the result depends on it [%(default)s]",
    )
    return parser.parse_args(argv)


def build_model(c: float, tol: float, max_iter: int):
    """For pixels scaled to 0-1: centre each pixel, then LogisticRegression (lbfgs, multinomial).

    Centring only moves the intercept (module docstring) and makes lbfgs's problem better
    conditioned. Plain scikit-learn steps, so the saved model needs no trusted-type list."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [
            ("centre", StandardScaler(with_std=False)),
            ("logreg", LogisticRegression(C=c, tol=tol, max_iter=max_iter)),
        ]
    )


def iterations(model) -> int:
    """lbfgs iterations the fit took (reaching max_iter means not converged)."""
    return int(model.named_steps["logreg"].n_iter_.max())


def fit(model, x: np.ndarray, y: np.ndarray, threads: int = THREADS) -> bool:
    """Fit on `threads` BLAS/OpenMP threads; True if lbfgs converged (no ConvergenceWarning)."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(record=True) as caught, threadpool_limits(threads):
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x, y)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


SAMPLE_DIGITS = "sample_digits.png"


def _prepare_logging(data, folder: Path) -> Path:
    """What logging and saving need and the fit does not (common.prepare_saving), and the
    sample-digits figure, drawn and written as PNG into `folder` (it shows training images, so it
    waits for nothing; PNG encoding is most of what `mlflow.log_figure` costs)."""
    common.prepare_saving()
    from mnist_trainer import plots

    path = folder / SAMPLE_DIGITS
    plots.sample_digits(data.x_train, data.y_train).savefig(path)  # as mlflow.log_figure saves
    return path


def main(argv: list[str] | None = None) -> None:
    # The figure is staged outside the model and output folders; removed here, not at exit
    # (main_guard ends the process without the interpreter's teardown).
    staging = Path(tempfile.mkdtemp(prefix="mnist-logreg-"))
    try:
        _main(argv, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _main(argv: list[str] | None, staging: Path) -> None:
    args = parse_args(argv)
    log = common.printer("logreg")
    common.check_model_dir(args.model_dir)
    # Reading the gzip files (zlib releases the GIL) while scikit-learn is imported.
    data_ready = common.in_background(lambda: common.load_data(args, log))
    model = build_model(args.C, args.tol, args.max_iter)
    data = data_ready()
    # The fit runs on `threads` (1) cores; logging's set-up runs meanwhile on another.
    logging_ready = common.in_background(lambda: _prepare_logging(data, staging))
    log(
        f"fitting on {len(data.x_train)} images "
        f"(C={args.C}, tol={args.tol}, {args.threads} thread(s)) ..."
    )
    started = time.perf_counter()
    # float32 features: half the memory traffic of the original's float64, same result.
    converged = fit(model, common.scaled(data.x_train), data.y_train, args.threads)
    fit_seconds = time.perf_counter() - started
    n_iter = iterations(model)
    predicted = np.asarray(model.predict(common.scaled(data.x_test)))
    accuracy = float((predicted == data.y_test).mean())
    log(
        f"fitted in {fit_seconds:.1f} s, {n_iter} iterations, "
        f"{'converged' if converged else 'NOT converged (raise --max-iter or --tol)'}"
    )
    log(f"test accuracy {accuracy:.4f} on {len(data.x_test)} images")
    sample_digits = logging_ready()

    import mlflow

    from mnist_trainer import plots

    with mlflow.start_run():
        mlflow.log_params(
            {
                "model": "LogisticRegression",
                "preprocessing": "centre",  # the saved model is the Pipeline (build_model)
                "solver": "lbfgs",
                "C": args.C,
                "tol": args.tol,
                "max_iter": args.max_iter,
                "threads": args.threads,
                "train_rows": len(data.x_train),
                "test_rows": len(data.x_test),
            }
        )
        mlflow.log_metrics(
            {
                "accuracy": accuracy,
                "converged": float(converged),
                "n_iter": n_iter,
                "fit_seconds": fit_seconds,
            }
        )
        mlflow.log_artifact(str(sample_digits))
        mlflow.log_figure(
            plots.confusion_matrix(
                data.y_test, predicted, f"Logistic regression: accuracy {accuracy:.4f}"
            ),
            "confusion_matrix.png",
        )
        common.save_model(model, args.model_dir)
        log(f"model saved to {args.model_dir}")


if __name__ == "__main__":
    common.main_guard(main)
