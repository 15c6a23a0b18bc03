"""One-pass kNN: equal to scikit-learn image by image, and the knn script end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mnist_trainer import knn
from mnist_trainer.common import scaled
from mnist_trainer.idx import load_mnist
from mnist_trainer.neighbours import predict_many_k, sklearn_heap_topk
from sklearn.neighbors import KNeighborsClassifier

from tests.training_support import load_model, mlflow_store, run_and_fetch


def sklearn_predictions(x_train, y_train, x_test, k):
    model = KNeighborsClassifier(n_neighbors=k).fit(x_train.astype(np.float64), y_train)
    return model.predict(x_test.astype(np.float64))


@st.composite
def tied_problem(draw):
    """Integer data over 20 features (brute force, as on MNIST) with many exact ties.

    Training rows are drawn from a few prototypes (duplicates: equal distances), the values are
    0-2 (many different rows at equal distances), and labels are few (tied votes).
    """
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_train = draw(st.integers(16, 90))
    prototypes = rng.integers(0, 3, size=(draw(st.integers(2, 12)), 20))
    x_train = prototypes[rng.integers(0, len(prototypes), n_train)].astype(np.uint8)
    x_test = rng.integers(0, 3, size=(draw(st.integers(1, 25)), 20)).astype(np.uint8)
    x_test[::2] = prototypes[rng.integers(0, len(prototypes), len(x_test[::2]))]
    y_train = rng.integers(0, draw(st.integers(2, 4)), n_train)
    ks = sorted(set(draw(st.lists(st.integers(1, min(15, n_train)), min_size=1, max_size=6))))
    return x_train, y_train, x_test, ks, draw(st.integers(1, 8)), draw(st.integers(1, 10))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problem())
def test_equals_sklearn_with_distance_and_vote_ties(problem):
    x_train, y_train, x_test, ks, extra, block = problem
    predicted, _ = predict_many_k(
        x_train, y_train, x_test, ks, extra_candidates=extra, block_rows=block
    )
    for k in ks:
        expected = sklearn_predictions(x_train, y_train, x_test, k)
        np.testing.assert_array_equal(predicted[k], expected, err_msg=f"k={k}")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_problem())
def test_worker_threads_change_nothing_but_the_speed(problem):
    """Blocks searched on several threads: the same predictions and the same counts of fallback
    rows and heap replays as one thread (each thread has its own buffer; counters are summed)."""
    x_train, y_train, x_test, ks, extra, block = problem
    one, one_stats = predict_many_k(
        x_train, y_train, x_test, ks, extra_candidates=extra, block_rows=block, workers=1
    )
    seen: list[int] = []
    many, many_stats = predict_many_k(
        x_train,
        y_train,
        x_test,
        ks,
        extra_candidates=extra,
        block_rows=block,
        workers=4,
        progress=lambda done, total: seen.append(done),
    )
    for k in ks:
        np.testing.assert_array_equal(many[k], one[k], err_msg=f"k={k}")
    assert many_stats == one_stats
    assert seen == sorted(seen) and seen[-1] == len(x_test)  # progress in order, to the end


def test_worker_threads_on_blocks_large_enough_to_overlap():
    """Enough blocks, each long enough for threads to overlap, so a buffer or counter shared
    between them would show up as a wrong prediction or count."""
    rng = np.random.default_rng(7)
    x_train = rng.integers(0, 4, size=(4000, 48)).astype(np.uint8)
    y_train = rng.integers(0, 10, len(x_train))
    x_test = rng.integers(0, 4, size=(600, 48)).astype(np.uint8)
    one, one_stats = predict_many_k(x_train, y_train, x_test, [1, 5, 9], block_rows=8, workers=1)
    many, many_stats = predict_many_k(x_train, y_train, x_test, [1, 5, 9], block_rows=8, workers=4)
    for k in (1, 5, 9):
        np.testing.assert_array_equal(many[k], one[k], err_msg=f"k={k}")
    assert many_stats == one_stats and one_stats.heap_replays > 0


def test_heap_keeps_a_higher_index_where_sklearn_does():
    """The case that makes the replay necessary: the lowest-index rule would keep index 0."""
    dist = np.array([5.0, 5.0, 5.0, 1.0, 1.0])
    assert sorted(sklearn_heap_topk(dist, 3).tolist()) == [1, 3, 4]
    y = np.array([0, 1, 1, 2, 2])
    x = np.array([[0.0], [0.0], [0.0], [0.0], [0.0]])
    # Check against sklearn itself with 16+ features (brute force), using the same distances.
    x_train = np.zeros((5, 16))
    x_train[:, 0] = np.sqrt(dist)
    expected = sklearn_predictions(x_train, y, np.zeros((1, 16)), 3)
    predicted, stats = predict_many_k(x_train, y, np.zeros((1, 16)), [3])
    assert predicted[3].tolist() == expected.tolist()
    assert stats.heap_replays == 1
    del x


def test_rejects_k_larger_than_training_set():
    with pytest.raises(ValueError, match="larger than the 3 training samples"):
        predict_many_k(np.zeros((3, 4)), np.zeros(3), np.zeros((1, 4)), [5])


def test_script_end_to_end(synthetic_mnist: Path, tmp_path: Path):
    import mlflow

    model_dir = tmp_path / "model"
    model_dir.mkdir()  # Azure ML creates output folders before the job starts
    argv = ["--data", str(synthetic_mnist), "--model-dir", str(model_dir), "--kmax", "8"]
    with mlflow_store(tmp_path):
        run = run_and_fetch(knn.main, argv)
        client = mlflow.MlflowClient()
        history = client.get_metric_history(run.info.run_id, "accuracy_k")
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}

    by_k = {m.step: m.value for m in history}
    assert sorted(by_k) == [1, 3, 5, 7]
    best_k = int(run.data.metrics["best_k"])
    assert run.data.metrics["accuracy"] == max(by_k.values()) == by_k[best_k]
    assert {"accuracy_by_k.png", "confusion_matrix.png"} <= artifacts

    data = load_mnist(synthetic_mnist)
    model = load_model(model_dir)
    assert model[-1].n_neighbors == best_k
    accuracy = (model.predict(data.x_test / 255) == data.y_test).mean()
    assert accuracy == pytest.approx(by_k[best_k])
    assert accuracy > 0.5  # the synthetic digits are learnable: far above chance (0.1)

    # The saved model keeps uint8 pixels (a quarter of float32) and predicts what the one-pass
    # search and a kNN fitted on float32 0-1 pixels (the model it replaces) predict, for float64
    # and float32 input alike.
    assert model[-1]._fit_X.dtype == np.uint8
    one_pass, _ = predict_many_k(data.x_train, data.y_train, data.x_test, [best_k])
    float_model = KNeighborsClassifier(best_k).fit(scaled(data.x_train), data.y_train)
    for x in (data.x_test / 255, scaled(data.x_test)):
        np.testing.assert_array_equal(model.predict(x), one_pass[best_k])
        np.testing.assert_array_equal(model.predict(x), float_model.predict(x))


def test_pixel_step_gives_back_every_pixel_exactly():
    pixels = np.arange(256, dtype=np.uint8)[:, None]
    step = knn.to_pixels(1)
    for x in (pixels / 255, scaled(pixels)):  # float64 (the endpoint's JSON) and float32
        assert np.array_equal(step.transform(x), pixels)


def test_script_pca50_single_k(synthetic_mnist: Path, tmp_path: Path):
    import mlflow

    model_dir = tmp_path / "model"
    argv = ["--data", str(synthetic_mnist), "--model-dir", str(model_dir), "--k", "3"]
    with mlflow_store(tmp_path):
        run = run_and_fetch(knn.main, [*argv, "--representation", "pca50"])
        artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"confusion_matrix.png"}  # one k: no accuracy-by-k curve
    assert run.data.params["representation"] == "pca50"
    assert run.data.metrics["best_k"] == 3
    model = load_model(model_dir)
    assert [name for name, _ in model.steps] == ["pca", "knn"]
    data = load_mnist(synthetic_mnist)
    accuracy = (model.predict(data.x_test / 255) == data.y_test).mean()
    assert accuracy == pytest.approx(run.data.metrics["accuracy"])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--kmax", "1"], "leaves no k to try"),
        (["--k", "0"], "expected a number >= 1"),
        (["--kinterval", "two"], "expected a whole number"),
        (["--representation", "pca10"], "invalid choice"),
    ],
)
def test_bad_arguments(tmp_path: Path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        knn.parse_args(["--data", "d", "--model-dir", str(tmp_path / "m"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_refuses_non_empty_model_dir_and_missing_data(synthetic_mnist: Path, tmp_path: Path):
    from mnist_trainer.common import UsageError

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "MLmodel").write_text("earlier model")
    with pytest.raises(UsageError, match="is not empty"):
        knn.main(["--data", str(synthetic_mnist), "--model-dir", str(taken)])
    assert (taken / "MLmodel").read_text() == "earlier model"
    with pytest.raises(UsageError, match=r"(?s)no such file.*workshop data fetch"):
        knn.main(["--data", str(tmp_path / "nowhere"), "--model-dir", str(tmp_path / "m")])
    with pytest.raises(UsageError, match="k=13 needs at least"):
        knn.main(["--data", str(synthetic_mnist), "--model-dir", str(tmp_path / "m"),
                  "--train-limit", "5"])  # fmt: skip


@pytest.mark.slow
def test_equals_sklearn_on_real_mnist(real_mnist_dir: Path):
    """All 60,000 training images against 500 test images, every k of the default sweep."""
    data = load_mnist(real_mnist_dir)
    x_test = data.x_test[:500]
    ks = list(range(1, 15, 2))
    predicted, _ = predict_many_k(data.x_train, data.y_train, x_test, ks)
    x_train32 = data.x_train.astype(np.float32)
    for k in ks:
        expected = KNeighborsClassifier(n_neighbors=k).fit(x_train32, data.y_train)
        np.testing.assert_array_equal(
            predicted[k], expected.predict(x_test.astype(np.float32)), err_msg=f"k={k}"
        )
