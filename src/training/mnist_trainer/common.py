"""What the training scripts share: argument types, data loading, the model folder and input.

Model input contract: every model these scripts save takes images as rows of 784 pixels scaled
to 0-1 (the hands-on's X / 255; mnist_trainer/score.py sends exactly that) and is made of sklearn
types only, saved in MLflow's default skops format, so loading it needs neither this package nor
trusted-type lists.

Model folder: the MLflow model (MLmodel, model.skops, requirements.txt, ...) is written directly
into --model-dir. The folder may exist if it is empty (Azure ML creates output folders before the
job starts); a non-empty one is refused before training starts, never overwritten.

Output folders on Azure are blob-backed mounts (azure-facts.md, "Mounted outputs"): a step never
removes or renames an output folder itself and never renames a file into or out of one. It writes
its final files in place (`copy_into`), the file that marks the folder complete last.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, NoReturn, TypeVar

import numpy as np

from mnist_trainer.idx import IdxError, Mnist, load_mnist


class UsageError(Exception):
    """Bad input the user can fix; `main_guard` prints it without a traceback and exits 2."""


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """--data, --model-dir and the row limits every script takes."""
    parser.add_argument(
        "--data", required=True, type=Path, help="folder with the four MNIST .gz files"
    )
    parser.add_argument(
        "--model-dir",
        required=True,
        type=Path,
        help="where the fitted MLflow model is written (absent or empty)",
    )
    parser.add_argument(
        "--train-limit", type=positive_int, help="use only the first N training images"
    )
    parser.add_argument("--test-limit", type=positive_int, help="use only the first N test images")


def check_model_dir(model_dir: Path) -> None:
    """Refuse a --model-dir that is a file or already holds something, before any training."""
    if model_dir.exists() and not model_dir.is_dir():
        raise UsageError(f"--model-dir {model_dir} is a file; give a folder (absent or empty)")
    if model_dir.is_dir() and any(model_dir.iterdir()):
        raise UsageError(
            f"--model-dir {model_dir} is not empty; give a new or empty folder "
            "(a model is never written over another)"
        )


def load_data(args: argparse.Namespace, log: Callable[[str], None]) -> Mnist:
    """The MNIST arrays from --data, cut to --train-limit/--test-limit."""
    started = time.perf_counter()
    try:
        data = load_mnist(args.data)
    except IdxError as exc:
        raise UsageError(
            f"{exc}\n  fix: point --data at a folder with the four MNIST files "
            "(`workshop data fetch` downloads them)"
        ) from None
    data = Mnist(
        x_train=data.x_train[: args.train_limit],
        y_train=data.y_train[: args.train_limit],
        x_test=data.x_test[: args.test_limit],
        y_test=data.y_test[: args.test_limit],
    )
    log(
        f"loaded {len(data.x_train)} training and {len(data.x_test)} test images "
        f"from {args.data} in {time.perf_counter() - started:.1f} s"
    )
    return data


def scaled(pixels: np.ndarray) -> np.ndarray:
    """Raw pixels 0-255 -> float32 in 0-1: the hands-on's X / 255, and what every model takes."""
    return pixels.astype(np.float32) / np.float32(255)


MODEL_REQUIREMENTS = ("mlflow", "scikit-learn", "numpy", "skops")
"""What loading a saved model needs, pinned to the versions that saved it (in a job: the
environment's conda.yml pins)."""


def model_requirements() -> list[str]:
    """`name==version` for MODEL_REQUIREMENTS as installed here.

    Given explicitly, because MLflow otherwise infers them by loading the model in a subprocess
    (seconds per save) and lists whatever that process had imported (pytest, rich, ...).
    """
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS]


MODEL_MARKER = "MLmodel"
"""The file that makes a folder an MLflow model: copied last, so its presence means complete."""


def copy_into(source: Path, target: Path, *, last: str = MODEL_MARKER) -> None:
    """Copy the contents of `source` into the folder `target`, in place, `last` copied last.

    `target` is created if absent and never removed or renamed, and nothing is renamed into it:
    on Azure it is a blob-backed output mount, where both can fail.
    """
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir(), key=lambda p: p.name == last):
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, dirs_exist_ok=True)
        else:
            shutil.copyfile(entry, target / entry.name)


def save_model(model: object, model_dir: Path) -> None:
    """mlflow.sklearn.save_model into --model-dir without leaving a half-written model behind.

    Saved (skops format, sklearn types only) into a local temporary folder first, then copied
    into --model-dir with MLmodel last, so a folder holding an MLmodel file always holds a
    complete model. Copied, not moved: --model-dir may be a mount (see the module docstring).
    """
    from mlflow import sklearn as mlflow_sklearn

    check_model_dir(model_dir)
    with tempfile.TemporaryDirectory(prefix="mnist-model-") as staging:
        saved = Path(staging) / "model"
        mlflow_sklearn.save_model(model, str(saved), pip_requirements=model_requirements())
        copy_into(saved, model_dir)


def prepare_saving() -> None:
    """The imports and set-up that logging and saving need and training does not, for a second
    core while the first one trains (`in_background`): about 10 s of one core per process.

    skops first: its import looks every scipy ufunc up in every loaded module (skops/io/_utils.py
    `whichmodule`), about a second cheaper before MLflow's ~1,500 modules are loaded than after.
    mlflow.pyfunc is what save_model imports first; a store query sets MLflow's store up (its ORM
    and engine, once per process) so that `mlflow.start_run` later costs a few milliseconds.
    """
    import skops.io  # noqa: F401

    # isort: split
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

    mlflow.MlflowClient().search_experiments(max_results=1)
    # save_model checks these requirements against what is installed; the first check maps every
    # installed distribution to its modules (~0.4 s here), and MLflow keeps the map per process.
    from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

    warn_dependency_requirement_mismatches(model_requirements())
    from mnist_trainer import plots  # noqa: F401  (matplotlib)

    if not gc.isenabled():  # main_guard's: the modules are loaded, their objects live to the end
        gc.freeze()
        gc.enable()


T = TypeVar("T")
_SWITCH_INTERVAL = 0.0001  # seconds: see Background._run


class Background(Generic[T]):
    """Work running on a thread of its own (`in_background`)."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._outcome: dict[str, object] = {}
        self._work = work
        self._thread = threading.Thread(target=self._run, name="in_background", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # While this thread runs Python (imports), the main thread waits for the GIL after every
        # numpy/BLAS call that released it, up to the switch interval (5 ms) each time: a search
        # on 2,048 test images took 6.5 s beside a busy Python thread, 4.5 s with 0.5 ms, 3.4 s
        # alone (measured here); the logistic regression's 94-iteration fit took 11.8 s alone,
        # 12.9-16.0 s beside the set-up with 0.5 ms, 12.1-13.3 s with 0.1 ms (a script running
        # only the fit beside the set-up; a busy process on the other core, no GIL shared, costs
        # 13.2 s). So the interval is short while it runs.
        previous = sys.getswitchinterval()
        sys.setswitchinterval(_SWITCH_INTERVAL)
        try:
            self._outcome["value"] = self._work()
        except BaseException as exc:  # handed to the caller by __call__
            self._outcome["error"] = exc
        finally:
            sys.setswitchinterval(previous)

    def __call__(self) -> T:
        """Wait for the work; its result, or its exception raised here."""
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]  # type: ignore[misc]
        return self._outcome["value"]  # type: ignore[return-value]


def in_background(work: Callable[[], T]) -> Background[T]:
    """Start `work` on a thread; calling the object returned waits for it and gives its result
    (or raises its exception).

    For what a script needs later but not yet (MLflow's import and store set-up, matplotlib, a plot
    that waits for no result) while the main thread computes in numpy/BLAS or scikit-learn's loss
    kernels, which release the GIL: on a second core it then costs no wall time.
    """
    return Background(work)


def printer(name: str) -> Callable[[str], None]:
    """Progress lines a trainee can follow in a job's log: `[name] message`, flushed at once."""

    def log(message: str) -> None:
        print(f"[{name}] {message}", flush=True)

    return log


def main_guard(run: Callable[[], None]) -> None:
    """Run a script's main; a UsageError becomes `error: ...` on stderr and exit status 2.

    After a successful run the process ends without the interpreter's teardown (freeing thousands
    of modules' objects after MLflow, scikit-learn and skops: 3-4 s measured on this machine under
    load, for nothing): the atexit handlers run, stdout and stderr are flushed, then os._exit(0).
    By then the MLflow run has ended and every file the script wrote is closed. Ctrl-C ends the
    same way with "interrupted" and status 130 (a traceback through the search's worker threads
    said nothing more).
    """
    # No cyclic garbage collection while the modules load (scikit-learn, MLflow, skops,
    # matplotlib: ~700,000 objects that live until the end): its passes over them found nothing
    # and cost ~0.8 s per process, 0.3 s of it inside mlflow.start_run (measured here).
    # prepare_saving freezes what is loaded by then and turns it back on.
    gc.disable()
    try:
        run()
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C on a script run by hand: one line, not a traceback
        print("interrupted", file=sys.stderr)
        _end(130)  # a shell's code for SIGINT
    _end(0)


def _end(status: int) -> NoReturn:
    """Exit with `status` after the atexit handlers and a flush, without the teardown."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
