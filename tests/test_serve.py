"""`serve` + `score` against the real inference server (gunicorn + azureml app) on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from typer.testing import CliRunner

from tests.mnist_fixtures import make_mnist_dir
from workshop import local_endpoint
from workshop.errors import ExitCode, WorkshopError


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mnist_dir(tmp_path_factory.mktemp("data") / "mnist", n_train=300, n_test=60)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """A logistic regression on synthetic digits, saved as a job's `model` output."""
    from mlflow import sklearn as mlflow_sklearn
    from mnist_trainer.idx import load_mnist
    from sklearn.linear_model import LogisticRegression

    mnist = load_mnist(mnist_dir)
    fitted = LogisticRegression(max_iter=300).fit(mnist.x_train / 255.0, mnist.y_train)
    model_dir = tmp_path_factory.mktemp("model")
    mlflow_sklearn.save_model(fitted, str(model_dir / "m"), pip_requirements=["scikit-learn"])
    return model_dir


@pytest.fixture(scope="module")
def url(model_dir: Path) -> Iterator[str]:
    """The model served like the managed deployment serves it."""
    port = local_endpoint.free_port()
    log = model_dir.parent / "server.log"
    server = local_endpoint.start(model_dir, port, log=log)
    address = f"http://127.0.0.1:{port}"
    try:
        local_endpoint.wait_ready(address, server, timeout=90)
        yield address
    finally:
        local_endpoint.stop(server)
    assert server.poll() is not None


def test_health_probe_and_a_good_batch(url: str, mnist_dir: Path) -> None:
    from mnist_trainer.idx import load_mnist

    assert requests.get(url + "/", timeout=5).status_code == 200
    mnist = load_mnist(mnist_dir)
    answer = local_endpoint.score(url, mnist.x_test[:20])
    assert len(answer["predictions"]) == 20
    accuracy = np.mean(np.array(answer["predictions"]) == mnist.y_test[:20])
    assert accuracy >= 0.8  # learnable synthetic digits: far above chance (0.1)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"pixels": []}', "missing key 'data'"),
        ('{"data": [[1, 2, 3]]}', "shape [1, 3]"),
        ('{"data": [[' + ", ".join(["300"] * 784) + "]]}", "outside 0-255"),
    ],
)
def test_bad_payloads_get_400_with_the_scripts_message(url: str, body: str, expected: str) -> None:
    response = requests.post(
        url + "/score", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400
    assert expected in response.json()["message"]


def test_client_shows_the_servers_message_for_a_4xx(url: str) -> None:
    with pytest.raises(WorkshopError, match="answered 400: image 0 pixel 0 is 999"):
        local_endpoint.score(url, np.full((1, 784), 999))


def test_score_command_prints_predictions_beside_labels(
    url: str, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workshop.cli import app

    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(mnist_dir))
    result = CliRunner().invoke(app, ["score", "--url", url, "--sample", "8"])
    assert result.exit_code == 0, result.output
    assert "accuracy on the sample:" in result.output
    assert result.output.count("✓") + result.output.count("✗") == 8


def test_a_sample_larger_than_one_request_is_sent_in_batches(
    url: str, mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mnist_trainer.score

    from workshop.commands.serve import score_sample

    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(mnist_dir))
    monkeypatch.setattr(mnist_trainer.score, "DEFAULT_MAX_BATCH", 7)  # the server takes 1000
    sent: list[int] = []
    real_score = local_endpoint.score

    def counting(address: str, images: np.ndarray, *, key: str | None = None) -> dict:
        sent.append(len(images))
        return real_score(address, images, key=key)

    monkeypatch.setattr(local_endpoint, "score", counting)
    assert 0.0 <= score_sample(url, 20) <= 1.0
    assert sent == [7, 7, 6]
    with pytest.raises(WorkshopError, match="--sample 61: the test set has 60 digits"):
        score_sample(url, 61)


def test_score_a_png_drawn_dark_on_light(url: str, mnist_dir: Path, tmp_path: Path) -> None:
    from mnist_trainer.idx import load_mnist
    from PIL import Image

    from workshop.commands.serve import score_image

    mnist = load_mnist(mnist_dir)
    digit = mnist.x_test[0].reshape(28, 28)
    paper = Image.fromarray(255 - digit).resize((112, 112), Image.Resampling.NEAREST)
    png = tmp_path / "digit.png"
    paper.save(png)
    pixels = local_endpoint.png_to_pixels(png)
    assert pixels.shape == (784,)
    assert pixels.reshape(28, 28)[0].max() == 0  # inverted back: the border is black again
    assert score_image(url, png) in range(10)


def test_a_digit_on_a_transparent_background_reads_as_on_paper(tmp_path: Path) -> None:
    """A canvas export: strokes on transparent black. What is opaque is the digit, whatever its
    colour: the same as drawn on white paper. Read without its alpha, black strokes were
    'blank'."""
    from PIL import Image, ImageDraw

    inks = {"black": (0, 0, 0, 255), "white": (255, 255, 255, 255), "red": (255, 0, 0, 255)}
    drawn = {"paper": (Image.new("RGBA", (112, 112), (255, 255, 255, 255)), inks["black"])}
    for ink, colour in inks.items():  # any colour of stroke on a transparent background
        drawn[ink] = (Image.new("RGBA", (112, 112), (0, 0, 0, 0)), colour)
    for name, (image, colour) in drawn.items():
        ImageDraw.Draw(image).line([(56, 16), (56, 96)], fill=colour, width=9)
        image.save(tmp_path / f"{name}.png")
    on_paper = local_endpoint.png_to_pixels(tmp_path / "paper.png")
    assert on_paper.max() > 200  # the stroke, as light ink on black
    for ink in ("black", "white", "red"):
        assert (local_endpoint.png_to_pixels(tmp_path / f"{ink}.png") == on_paper).all(), ink


def test_an_image_too_large_to_decode_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    Image.new("L", (112, 112), 255).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 112 x 112 is over twice the limit
    with pytest.raises(WorkshopError, match="cannot read it as an image") as info:
        local_endpoint.png_to_pixels(tmp_path / "big.png")
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_the_server_finds_the_models_name_and_version_as_on_azure(
    url: str, model_dir: Path
) -> None:
    """The server reads them from AZUREML_MODEL_DIR (.../azureml-models/NAME/VERSION on Azure);
    a bare model folder made it log "Error while fetching model IDs" and a traceback."""
    log = (model_dir.parent / "server.log").read_text(errors="replace")
    assert "ready for serving traffic" in log  # the log holds the worker's whole start
    assert "Error while fetching model IDs" not in log
    assert "Traceback" not in log


def test_the_model_layout_links_the_folder_and_goes_with_the_server(model_dir: Path) -> None:
    import gc

    server = local_endpoint.start(model_dir, local_endpoint.free_port(), log=Path(os.devnull))
    # Until the child has exec'd the server, /proc shows the parent's environment: wait for it.
    deadline = time.monotonic() + 30
    found: list[bytes] = []
    while not found and time.monotonic() < deadline:
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
        found = [v for v in environ if v.startswith(b"AZUREML_MODEL_DIR=")]
        time.sleep(0.01)
    local_endpoint.stop(server)
    assert found, "the server never had AZUREML_MODEL_DIR in its environment"
    served = Path(found[0].split(b"=", 1)[1].decode())
    assert served.parts[-3:] == ("azureml-models", local_endpoint.MODEL_NAME, "1")
    assert served.resolve() == model_dir.resolve()
    root = served.parents[2]
    assert root.is_dir()
    del server
    gc.collect()
    assert not root.exists()  # the temporary layout is gone ...
    assert any(model_dir.rglob("MLmodel"))  # ... and the model it linked to is not


def test_a_server_that_is_down_is_named_with_the_fix() -> None:
    port = local_endpoint.free_port()
    with pytest.raises(WorkshopError, match="nothing answers at") as info:
        local_endpoint.score(f"http://127.0.0.1:{port}", np.zeros((1, 784)))
    assert "workshop serve --model" in str(info.value)
    assert info.value.exit_code == ExitCode.SERVICE_FAILED  # not the user's input: the service


@pytest.mark.parametrize(
    ("status", "exit_code", "hint"),
    [
        (500, ExitCode.SERVICE_FAILED, "read the server log"),
        (502, ExitCode.SERVICE_FAILED, "read the server log"),
        (401, ExitCode.SERVICE_FAILED, "check --key"),
        (403, ExitCode.SERVICE_FAILED, "check --key"),
        (408, ExitCode.SERVICE_FAILED, "retry later"),
        (429, ExitCode.SERVICE_FAILED, "retry later"),
        (400, ExitCode.BAD_INPUT, "fix the request"),
        (422, ExitCode.BAD_INPUT, "fix the request"),
    ],
)
def test_an_endpoints_refusal_exits_by_whose_side_it_is(
    monkeypatch: pytest.MonkeyPatch, status: int, exit_code: ExitCode, hint: str
) -> None:
    class Answer:
        status_code = status
        reason = "Reason"
        text = '{"message": "the server says why"}'

        def json(self) -> object:
            return {"message": "the server says why"}

    monkeypatch.setattr(requests, "post", lambda *args, **kwargs: Answer())
    with pytest.raises(WorkshopError) as info:
        local_endpoint.score("http://127.0.0.1:5001", np.zeros((1, 784)))
    assert info.value.args[0] == f"the endpoint answered {status}: the server says why"
    assert info.value.exit_code == exit_code
    assert info.value.hint is not None and info.value.hint.startswith(hint)


def test_serve_refuses_a_folder_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(WorkshopError, match="no MLmodel file"):
        local_endpoint.start(tmp_path, local_endpoint.free_port())


@pytest.mark.parametrize("bad_url", ["127.0.0.1:5001", "ftp://127.0.0.1/", "http://"])
def test_a_url_that_is_not_http_is_named_with_the_fix(bad_url: str) -> None:
    with pytest.raises(WorkshopError, match="is not an http") as info:
        local_endpoint.score(bad_url, np.zeros((1, 784)))
    assert "http://127.0.0.1:5001" in str(info.value)


def test_a_server_that_is_not_a_scoring_endpoint_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Answer:
        status_code = 200

        def json(self) -> object:
            return {"status": "ok"}  # e.g. some other app's health route

    monkeypatch.setattr(requests, "post", lambda *args, **kwargs: Answer())
    with pytest.raises(WorkshopError, match="not with predictions"):
        local_endpoint.score("http://127.0.0.1:5001", np.zeros((1, 784)))


@pytest.mark.timeout(60)
def test_a_client_sending_its_body_slowly_does_not_block_the_others(
    url: str, mnist_dir: Path
) -> None:
    from urllib.parse import urlsplit

    from mnist_trainer.idx import load_mnist

    port = urlsplit(url).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
        slow.sendall(
            b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100000\r\n\r\n{"data": [[0, 0, '
        )  # ... and nothing more for now
        assert requests.get(url + "/", timeout=10).status_code == 200
        answer = local_endpoint.score(url, load_mnist(mnist_dir).x_test[:2])
        assert len(answer["predictions"]) == 2
