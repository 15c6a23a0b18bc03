"""k-nearest neighbours on MNIST: the hands-on's train.py, corrected, tracked with MLflow.

    python -m mnist_trainer.knn --data DIR --model-dir DIR [--kmax 15] [--kinterval 2] [--k K]
                                [--representation raw|pca50] [--train-limit N] [--test-limit N]

Tries k in range(1, kmax, kinterval) (the hands-on's semantics: 1, 3, ..., 13 by default), or only
--k (one trial of a sweep). The neighbours are searched once for the largest k and every k is
scored from that one list (mnist_trainer.neighbours); the predictions equal scikit-learn's
`KNeighborsClassifier(n_neighbors=k)` image by image. `--representation pca50` first projects the
pixels onto 50 principal components fitted on the training images.

Logs `accuracy_k` once per k (step = k, so MLflow charts accuracy against k), `best_k`,
`accuracy` (at best_k; ties to the smaller k), a k-versus-accuracy PNG (for more than one k) and
a confusion matrix at best_k. Writes the fitted best model (pixels scaled to 0-1 in, see
mnist_trainer.common; any PCA included) into --model-dir with mlflow.sklearn.save_model. The raw
model keeps the training pixels as uint8 (47 MB, not 188 MB as float32) behind a step that turns
0-1 input back into 0-255 exactly, so it predicts what the float model predicted (tests/test_knn.py,
`make bench`). The plots are drawn after the search, when every figure they need is known.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mnist_trainer import common
from mnist_trainer.neighbours import predict_many_k

REPRESENTATIONS = ("raw", "pca50")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_trainer.knn",
        description="Score kNN for several k with one neighbour search, log with MLflow.",
    )
    common.add_data_args(parser)
    parser.add_argument(
        "--kmax",
        type=common.positive_int,
        default=15,
        help="try k in range(1, kmax, kinterval) (kmax itself excluded) [%(default)s]",
    )
    parser.add_argument(
        "--kinterval", type=common.positive_int, default=2, help="step between k [%(default)s]"
    )
    parser.add_argument(
        "--k", type=common.positive_int, help="try only this k (one sweep trial); overrides --kmax"
    )
    parser.add_argument(
        "--representation",
        choices=REPRESENTATIONS,
        default="raw",
        help="raw pixels, or 50 principal components fitted on the training images [raw]",
    )
    args = parser.parse_args(argv)
    args.ks = [args.k] if args.k is not None else list(range(1, args.kmax, args.kinterval))
    if not args.ks:
        parser.error(f"--kmax {args.kmax} leaves no k to try: range(1, kmax) needs kmax >= 2")
    return args


def build_model(representation: str, k: int, n_features: int):
    """For pixels scaled to 0-1: PCA 50 -> kNN(k), or 0-255 pixels -> kNN(k), unfitted but for
    the raw pixel step (it needs no data: see `to_pixels`)."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    if representation == "pca50":
        first = PCA(n_components=50, random_state=0)
    else:
        first = to_pixels(n_features)
    return Pipeline(
        [(representation_step(representation), first), ("knn", KNeighborsClassifier(k))]
    )


def representation_step(representation: str) -> str:
    return "pca" if representation == "pca50" else "pixels"


def to_pixels(n_features: int):
    """A fitted MinMaxScaler that maps 0-1 back to the integer pixels 0-255, exactly.

    It computes x * 255 + 0, and for every pixel p, (p / 255) * 255 == p in float32 and in float64
    (tests/test_knn.py checks all 256), so a kNN fitted on the uint8 pixels sees the very integers
    it was fitted on. A plain sklearn type: the saved model still needs no trusted-type list.
    """
    from sklearn.preprocessing import MinMaxScaler

    return MinMaxScaler(feature_range=(0, 255)).fit(np.array([[0.0], [1.0]]).repeat(n_features, 1))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log = common.printer("knn")
    common.check_model_dir(args.model_dir)
    data = common.load_data(args, log)
    if max(args.ks) > len(data.x_train):
        raise common.UsageError(
            f"k={max(args.ks)} needs at least that many training images, "
            f"but there are {len(data.x_train)}; lower --kmax/--k or raise --train-limit"
        )
    if args.representation == "pca50" and min(len(data.x_train), len(data.x_test)) < 50:
        raise common.UsageError(
            "--representation pca50 needs at least 50 training and 50 test images; "
            "raise --train-limit/--test-limit or use --representation raw"
        )

    # MLflow's, skops's and matplotlib's imports and the store's set-up (~7 s of one core) run on
    # a thread of their own beside the search's workers (one per core BLAS would use: all of
    # them in train-knn, the runner's share in a sweep trial), which sleep while they wait.
    saving_ready = common.in_background(common.prepare_saving)

    # The model takes pixels scaled to 0-1; the raw search (and the raw model) work on the integer
    # pixels, whose neighbours are the same and whose float64 distances are exact (neighbours.py).
    if args.representation == "pca50":  # PCA, fitted once and shared by every k
        model = build_model(args.representation, args.ks[-1], data.x_train.shape[1])
        search_train = model[0].fit_transform(common.scaled(data.x_train))
        search_test = model[0].transform(common.scaled(data.x_test))
    else:
        model = None  # built once its imports are done (in the background)
        search_train, search_test = data.x_train, data.x_test

    log(f"searching neighbours once for k in {args.ks} ({args.representation}) ...")
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        log(f"  {done}/{total} test images, {time.perf_counter() - started:.0f} s")

    predictions, stats = predict_many_k(
        search_train,
        data.y_train,
        search_test,
        args.ks,
        progress=progress,
    )
    search_seconds = time.perf_counter() - started
    accuracy = {k: float((p == data.y_test).mean()) for k, p in predictions.items()}
    for k in args.ks:
        log(f"k={k:3d}  accuracy {accuracy[k]:.4f}")
    best_k = max(args.ks, key=lambda k: (accuracy[k], -k))
    log(f"best k={best_k} with accuracy {accuracy[best_k]:.4f} ({search_seconds:.1f} s)")
    saving_ready()

    import mlflow
    from mlflow.entities import Metric

    from mnist_trainer import plots

    if model is None:
        model = build_model(args.representation, best_k, data.x_train.shape[1])
    model.set_params(knn__n_neighbors=best_k)
    model[-1].fit(search_train, data.y_train)  # uint8 pixels (raw) or the PCA features

    with mlflow.start_run() as run:
        mlflow.log_params(
            {
                "model": "KNeighborsClassifier",
                "representation": args.representation,
                "ks": ",".join(map(str, args.ks)),
                "kmax": args.kmax,
                "kinterval": args.kinterval,
                "k": args.k if args.k is not None else "",
                "train_rows": len(data.x_train),
                "test_rows": len(data.x_test),
            }
        )
        now = int(time.time() * 1000)
        mlflow.MlflowClient().log_batch(  # one store write for every k (step = k)
            run.info.run_id,
            metrics=[Metric("accuracy_k", accuracy[k], now, k) for k in args.ks],
        )
        mlflow.log_metrics(
            {
                "best_k": best_k,
                "accuracy": accuracy[best_k],
                "search_seconds": search_seconds,
                "exact_fallback_rows": stats.full_rows,
            }
        )
        if len(args.ks) > 1:  # a sweep trial's one k is no curve; the sweep compares trials
            mlflow.log_figure(plots.accuracy_by_k(accuracy, best_k), "accuracy_by_k.png")
        mlflow.log_figure(
            plots.confusion_matrix(
                data.y_test,
                predictions[best_k],
                f"kNN k={best_k}: accuracy {accuracy[best_k]:.4f}",
            ),
            "confusion_matrix.png",
        )
        common.save_model(model, args.model_dir)
        log(f"fitted k={best_k} model saved to {args.model_dir}")


if __name__ == "__main__":
    common.main_guard(main)
