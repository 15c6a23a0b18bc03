"""The logistic-regression script end to end, its argument checks, and its real accuracy."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from mnist_trainer import logreg
from mnist_trainer.common import UsageError, scaled
from mnist_trainer.idx import load_mnist

from tests.training_support import load_model, mlflow_store, run_and_fetch


def test_script_end_to_end(synthetic_mnist: Path, tmp_path: Path):
    import mlflow

    model_dir = tmp_path / "model"
    argv = ["--data", str(synthetic_mnist), "--model-dir", str(model_dir), "--C", "0.5"]
    with mlflow_store(tmp_path):
        run = run_and_fetch(logreg.main, argv)
        artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}

    assert run.data.params["C"] == "0.5"
    assert run.data.params["solver"] == "lbfgs"
    assert run.data.params["threads"] == str(logreg.THREADS)  # the result depends on it
    assert run.data.metrics["converged"] == 1.0
    assert 1 <= run.data.metrics["n_iter"] < logreg.DEFAULTS["max_iter"]
    assert {"confusion_matrix.png", "sample_digits.png"} <= artifacts
    assert (model_dir / "MLmodel").is_file()

    data = load_mnist(synthetic_mnist)
    model = load_model(model_dir)
    accuracy = (model.predict(data.x_test / 255) == data.y_test).mean()
    assert accuracy == pytest.approx(run.data.metrics["accuracy"])
    assert accuracy > 0.5  # learnable synthetic digits: far above chance (0.1)


def test_reports_not_converged(synthetic_mnist: Path, tmp_path: Path):
    argv = ["--data", str(synthetic_mnist), "--model-dir", str(tmp_path / "m"), "--max-iter", "2"]
    with mlflow_store(tmp_path):
        run = run_and_fetch(logreg.main, argv)
    assert run.data.metrics["converged"] == 0.0
    assert run.data.metrics["n_iter"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--C", "0"], "expected a finite number > 0"),
        (["--C", "nan"], "expected a finite number > 0"),
        (["--tol", "small"], "expected a number"),
        (["--max-iter", "-3"], "expected a number >= 1"),
    ],
)
def test_bad_arguments(tmp_path: Path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        logreg.parse_args(["--data", "d", "--model-dir", str(tmp_path / "m"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_model_dir_that_is_a_file(synthetic_mnist: Path, tmp_path: Path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        logreg.main(["--data", str(synthetic_mnist), "--model-dir", str(target)])


@pytest.mark.slow
def test_defaults_converge_and_reach_0925_on_real_mnist(real_mnist_dir: Path):
    from sklearn.exceptions import ConvergenceWarning

    data = load_mnist(real_mnist_dir)
    model = logreg.build_model(**{k.lower(): v for k, v in logreg.DEFAULTS.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert logreg.fit(model, scaled(data.x_train), data.y_train)
    assert logreg.iterations(model) < logreg.DEFAULTS["max_iter"]
    accuracy = float(np.mean(model.predict(scaled(data.x_test)) == data.y_test))
    assert accuracy >= 0.925


def test_centring_changes_the_conditioning_not_the_model():
    """The Pipeline's optimum is plain LogisticRegression's: same probabilities, same weights,
    the intercept moved by -w.mean (lbfgs leaves the intercept unpenalised). Standardising
    instead of centring, or a penalised intercept, would fail this."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    x = rng.random((400, 12)) + 0.5 * y[:, None] * (np.arange(12) % 3 == 0) + np.arange(12)
    tight = {"c": 0.5, "tol": 1e-10, "max_iter": 10_000}
    centred = logreg.build_model(**tight).fit(x, y)
    # The reference optimum by Newton's method: lbfgs on these uncentred, ill-conditioned features
    # stops with its intercept 1e-4 to 3e-4 away, by the BLAS kernel (Haswell, SkylakeX), where
    # Newton's agrees with the centred fit to 5e-7 on either.
    plain = LogisticRegression(C=0.5, tol=1e-10, solver="newton-cholesky").fit(x, y)

    fitted = centred.named_steps["logreg"]
    np.testing.assert_allclose(fitted.coef_, plain.coef_, atol=1e-5)
    mean = centred.named_steps["centre"].mean_
    np.testing.assert_allclose(fitted.intercept_ - fitted.coef_ @ mean, plain.intercept_, atol=1e-4)
    np.testing.assert_allclose(centred.predict_proba(x), plain.predict_proba(x), atol=1e-5)


def test_in_background_gives_the_result_or_the_error():
    from mnist_trainer.common import in_background

    assert in_background(lambda: 42)() == 42

    def fails() -> None:
        raise ValueError("store unreachable")

    with pytest.raises(ValueError, match="store unreachable"):  # not lost on the thread
        in_background(fails)()


def test_prepare_saving_freezes_the_loaded_modules_and_collects_again(tmp_path: Path):
    """After main_guard's pause (gc off while modules load), set-up turns collection back on."""
    import gc

    from mnist_trainer.common import prepare_saving

    with mlflow_store(tmp_path):
        gc.unfreeze()  # whatever an earlier test in this process froze
        gc.disable()
        try:
            prepare_saving()
            assert gc.isenabled()
            assert gc.get_freeze_count() > 100_000  # MLflow's, skops's, matplotlib's objects
        finally:
            gc.unfreeze()
            gc.enable()


GUARDED = """
import atexit, gc, sys
from mnist_trainer.common import UsageError, main_guard
atexit.register(print, "atexit handler ran")
def run():
    sys.stderr.write(f"collection on while loading: {gc.isenabled()}\\n")
    print("last line, unflushed", end="")
    if sys.argv[1] == "usage":
        raise UsageError("bad --data")
    if sys.argv[1] == "ctrl-c":
        raise KeyboardInterrupt
main_guard(run)
"""


@pytest.mark.parametrize(("how", "status"), [("ok", 0), ("usage", 2), ("ctrl-c", 130)])
def test_main_guard_ends_with_atexit_handlers_run_and_output_flushed(how: str, status: int):
    """A successful run skips the interpreter's teardown (os._exit), but nothing else."""
    import subprocess
    import sys

    src = Path(logreg.__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", GUARDED, how], capture_output=True, text=True, cwd=src
    )
    assert done.returncode == status, done.stderr
    assert done.stdout.startswith("last line, unflushed")
    assert "atexit handler ran" in done.stdout
    assert "collection on while loading: False" in done.stderr
    assert ("error: bad --data" in done.stderr) == (how == "usage")
    assert ("interrupted" in done.stderr) == (how == "ctrl-c")
    assert "Traceback" not in done.stderr
