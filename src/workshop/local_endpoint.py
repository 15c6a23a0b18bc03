"""The local online endpoint: Azure ML's own inference server on 127.0.0.1, and a client for it.

`azmlinfsrv` always binds 0.0.0.0, so the server is started the way it starts itself (gunicorn
with its app, `azureml_inference_server_http.server.entry:app`, configured through the same
environment variables) but bound to 127.0.0.1 only. The scoring script is the one the managed
deployment uses (src/training/mnist_trainer/score.py), so requests and errors behave the same.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from workshop.errors import ExitCode, WorkshopError
from workshop.paths import TRAINING_DIR
from workshop.stopping import signals_held, stop_signals_interrupt

SCORE_SCRIPT = TRAINING_DIR / "mnist_trainer" / "score.py"
HOST = "127.0.0.1"


def check_model_dir(model_dir: Path) -> None:
    """Fail early, with the fix, when the folder holds no MLflow model."""
    if not model_dir.is_dir():
        raise WorkshopError(
            f"--model {model_dir}: no such folder",
            hint="pass a model folder, e.g. the `model` output printed by `workshop run`",
        )
    if not any(model_dir.rglob("MLmodel")):
        raise WorkshopError(
            f"--model {model_dir}: no MLmodel file in it",
            hint="pass a folder written by mlflow.sklearn.save_model (a job's `model` output)",
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


THREADS = 4
"""Request threads in the one worker: a client that sends its body slowly holds one thread, and
the others keep answering (the health probe included). A synchronous worker would wait for it."""

APP = "azureml_inference_server_http.server.entry:app"


def server_python() -> str:
    """The interpreter that runs gunicorn and score.py: the one place that chooses it.

    jobs/deployment.yml's environment, built like a job's (the managed endpoint runs that one).
    """
    from workshop.runner.environment import deployment_interpreter

    return str(deployment_interpreter())


def server_command(fd: int) -> list[str]:
    """gunicorn as azmlinfsrv runs it, on a socket this process has bound already (fd://).

    Binding here, not in gunicorn, means a port another server holds is refused before anything
    starts, and the health check can only reach this server. `--no-control-socket`: gunicorn
    (25.1+) otherwise shares one control socket under $HOME between every server of the user.
    """
    return [
        server_python(),
        "-m",
        "gunicorn",
        "--bind",
        f"fd://{fd}",
        "--workers",
        "1",
        "--worker-class",
        "gthread",
        "--threads",
        str(THREADS),
        "--timeout",
        "300",
        "--no-control-socket",
        "--access-logfile",
        "-",
        APP,
    ]


MODEL_NAME = "local-model"
"""The name the local server gives the model it serves (Azure uses the registered model's)."""


def azure_model_layout(model_dir: Path, root: Path) -> Path:
    """`model_dir` as a managed deployment lays its model out: root/azureml-models/NAME/1.

    The inference server reads the model's name and version from AZUREML_MODEL_DIR's last two
    parts (azureml_inference_server_http/server/appinsights_client.py, `_get_model_ids`); a
    folder that does not end in a version number makes it log "Error while fetching model IDs"
    with a traceback. Version 1 is a symlink to the folder itself: nothing is copied.
    """
    version = root / "azureml-models" / MODEL_NAME / "1"
    version.parent.mkdir(parents=True, exist_ok=True)
    version.symlink_to(model_dir.resolve(), target_is_directory=True)
    return version


def server_environment(model_dir: Path, port: int) -> dict[str, str]:
    """The variables `azmlinfsrv --entry_script score.py --model_dir DIR --port N` would set;
    `model_dir` as the deployment sees it (`azure_model_layout`)."""
    return {
        **os.environ,
        "AML_APP_ROOT": str(TRAINING_DIR),
        "AZUREML_ENTRY_SCRIPT": str(SCORE_SCRIPT),
        "AZUREML_MODEL_DIR": str(model_dir),
        "SERVER_PORT": str(port),
        "HEALTH_PORT": str(port),
        "WORKER_COUNT": "1",
        "AML_APP_INSIGHTS_ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }


class ServerExited(WorkshopError):
    """The inference server ended on its own; the CLI exits with the server's exit code."""

    def __init__(self, returncode: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_status(returncode)


def exit_status(returncode: int) -> int:
    """A child's return code as a shell shows it: 128 + N when signal N ended it, never 0."""
    if returncode < 0:
        return 128 - returncode
    return returncode or 1


def bind(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:port, or a WorkshopError when something holds the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As gunicorn binds: a port left in TIME_WAIT is free; one with a listener is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise WorkshopError(
            f"port {port} on {HOST} is in use ({exc.strerror or exc})",
            hint="stop the server that holds it (another `workshop serve`?) or pass --port "
            "with a free port",
        ) from None
    return sock


def start(model_dir: Path, port: int, *, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the server in its own process group; output to `log` (or inherited).

    The model is served through `azure_model_layout` in a temporary folder, removed once the
    returned process object is gone (`stop` waits for the server first)."""
    check_model_dir(model_dir)
    with bind(port) as sock:
        layout = Path(tempfile.mkdtemp(prefix="workshop-serve-"))
        out = log.open("wb") if log else None
        try:
            server = subprocess.Popen(
                server_command(sock.fileno()),
                env=server_environment(azure_model_layout(model_dir, layout), port),
                cwd=TRAINING_DIR,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                pass_fds=(sock.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(layout, ignore_errors=True)
            raise
        finally:
            if out:
                out.close()  # the child holds its own copy
        weakref.finalize(server, shutil.rmtree, layout, True)
        return server


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Poll GET / until the server answers 200 (its init() has loaded the model)."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerExited(
                server.returncode,
                f"the inference server exited with code {server.returncode} before it was ready",
                hint="read its log above: usually init() could not load the model",
            )
        with contextlib.suppress(requests.RequestException):
            if requests.get(base_url(url) + "/", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise WorkshopError(f"the inference server at {url} was not ready after {timeout:.0f} s")


def stop(server: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn and its worker (the whole process group); a second Ctrl-C waits for it."""
    with signals_held():
        if server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
        # Anything left in the group (a master that did not stop, a worker that outlived its
        # master) is killed: the group, named by the master's pid, lives while any member does.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@contextlib.contextmanager
def serving(
    model_dir: Path, port: int, *, log: Path | None = None, timeout: float = 120
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The server, ready, for the `with` block: (url, process). Stopped when the block ends,
    by an error, Ctrl-C, SIGTERM or SIGHUP alike."""
    url = f"http://{HOST}:{port}"
    with stop_signals_interrupt():
        server = start(model_dir, port, log=log)
        try:
            wait_ready(url, server, timeout=timeout)
            yield url, server
        finally:
            stop(server)


def base_url(url: str) -> str:
    return url.rstrip("/").removesuffix("/score")


def score_url(url: str) -> str:
    return base_url(url) + "/score"


ANSWER_KEYS = frozenset({"predictions", "probabilities", "classes"})
"""What score.py's run() returns for a good request."""


_KEY = (
    "check --key or WORKSHOP_ENDPOINT_KEY (the endpoint's key: "
    "`az ml online-endpoint get-credentials -n ENDPOINT`)"
)
_BUSY = "retry later: the endpoint ran out of time for the request or is throttling requests"
_REFUSALS = {401: _KEY, 403: _KEY, 408: _BUSY, 429: _BUSY}
"""4xx answers that are the service's side (its key, its time limit, its throttling): they exit
SERVICE_FAILED like a 5xx; any other 4xx is the request's fault (BAD_INPUT)."""
_BAD_REQUEST = "fix the request as the message says"


def score(url: str, images: np.ndarray, *, key: str | None = None) -> dict[str, Any]:
    """POST images (n, 784) in 0-255 to the endpoint; its answer, or a WorkshopError."""
    import requests

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WorkshopError(
            f"--url {url!r} is not an http(s) URL",
            hint="give the endpoint's address, e.g. http://127.0.0.1:5001 or the scoring URI "
            "that `workshop deploy` prints",
        )
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"data": np.asarray(images).reshape(len(images), -1).astype(int).tolist()}
    try:
        response = requests.post(score_url(url), json=body, headers=headers, timeout=120)
    except requests.ConnectionError:
        raise WorkshopError(
            f"nothing answers at {score_url(url)}",
            hint="start the local endpoint with `workshop serve --model DIR` or check the URL",
            exit_code=ExitCode.SERVICE_FAILED,
        ) from None
    except requests.Timeout:
        raise WorkshopError(
            f"{score_url(url)} did not answer within 120 s", exit_code=ExitCode.SERVICE_FAILED
        ) from None
    if response.status_code != 200:
        status = response.status_code
        raise WorkshopError(
            f"the endpoint answered {status}: {_error_message(response)}",
            hint=_REFUSALS.get(status, "read the server log" if status >= 500 else _BAD_REQUEST),
            exit_code=ExitCode.SERVICE_FAILED
            if status >= 500 or status in _REFUSALS
            else ExitCode.BAD_INPUT,
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not answer.keys() >= ANSWER_KEYS:
        raise WorkshopError(
            f"{score_url(url)} answered 200 but not with predictions, probabilities and classes",
            hint="point --url at a scoring endpoint served with score.py (`workshop serve`)",
        )
    return answer


def _error_message(response: Any) -> str:
    """The server's own message (score.py answers {"message": ...}); an HTML error page or an
    overlong body shrinks to the status reason or its first 300 characters."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    text = response.text.strip()
    if not text or text.startswith("<"):
        return str(response.reason)
    return text if len(text) <= 300 else text[:300] + "..."


def _border(pixels: np.ndarray) -> np.ndarray:
    return np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])


def png_to_pixels(path: Path) -> np.ndarray:
    """A photo or drawing of one digit as MNIST stores digits: 28x28, light ink on black.

    Grayscale; inverted when the background is light (dark ink on paper); cropped to the ink,
    scaled to fit 20x20 and centred in 28x28, as the MNIST digits were prepared.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        alpha = None
        if "A" in image.getbands() or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.float64)
        gray = np.asarray(image.convert("L"), dtype=np.float64)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise WorkshopError(f"--image {path}: cannot read it as an image ({exc})") from None
    # On a transparent background (a canvas export) the strokes are what is opaque, whatever
    # their colour: read as gray, black ink on transparent black was "blank".
    pixels = alpha if alpha is not None and _border(alpha).mean() < 128 else gray
    if _border(pixels).mean() > 127:
        pixels = 255 - pixels
    ink = pixels > 0.2 * pixels.max() if pixels.max() > 0 else np.zeros_like(pixels, bool)
    if not ink.any():
        raise WorkshopError(f"--image {path}: the image is blank", hint="draw a digit")
    rows, cols = np.where(ink)
    crop = pixels[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = 20 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    digit = Image.fromarray(crop.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (28, 28))
    canvas.paste(digit, ((28 - size[0]) // 2, (28 - size[1]) // 2))
    return np.asarray(canvas, dtype=np.uint8).reshape(784)
