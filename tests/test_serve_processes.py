"""`workshop serve` and the demo's serve phase leave nothing running, whatever stops them.

Each test starts the real CLI (or the demo's serve phase) in a subprocess on 127.0.0.1, stops it
the way an operator would, and then looks in /proc for anything left in the server's process
group. Bounded in time by pytest-timeout; every process a test starts is killed in its finally.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mnist_fixtures import make_mnist_dir
from workshop import local_endpoint
from workshop.errors import ExitCode
from workshop.paths import ROOT

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import sklearn as mlflow_sklearn
    from mnist_trainer.idx import load_mnist
    from sklearn.linear_model import LogisticRegression

    mnist = load_mnist(make_mnist_dir(tmp_path_factory.mktemp("data") / "m", n_train=100))
    fitted = LogisticRegression(max_iter=100).fit(mnist.x_train / 255.0, mnist.y_train)
    folder = tmp_path_factory.mktemp("model")
    mlflow_sklearn.save_model(fitted, str(folder / "m"), pip_requirements=["scikit-learn"])
    return folder


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is pgid."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Started(subprocess.Popen[str]):
    """A command in its own session (signals go to it alone), and the servers it started."""

    servers: list[int]

    def server(self) -> int:
        """The one child this command started (the gunicorn master), kept for the cleanup."""
        (pid,) = children(self.pid)
        self.servers.append(pid)
        return pid


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str]) -> Iterator[Started]:
    """Run command; afterwards kill whatever is left of it and of its servers' groups."""
    proc = Started(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    proc.servers = []
    try:
        yield proc
    finally:
        for pgid in [proc.pid, *proc.servers]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        proc.wait()


def wait_for_line(proc: subprocess.Popen[str], word: str) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:
        if word in line:
            return line
    raise AssertionError(f"the command ended without printing {word!r}: {proc.stderr.read()}")


def environment(tmp_path: Path) -> dict[str, str]:
    """WORKSHOP_HOME and HOME in tmp_path (gunicorn 25.1+ puts its control socket under HOME)."""
    for name in ("home", "user"):
        (tmp_path / name).mkdir(exist_ok=True)
    env = {**os.environ, "WORKSHOP_HOME": str(tmp_path / "home"), "COLUMNS": "300"}
    env["HOME"] = str(tmp_path / "user")
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def serve_command(model_dir: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "workshop",
        "serve",
        "--model",
        str(model_dir),
        "--port",
        str(port),
    ]


# SIGINT (Ctrl-C) already stopped it; each case costs a server start (a minute on a busy machine).
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_serve_stops_the_server_too(
    sig: signal.Signals, model_dir: Path, tmp_path: Path
) -> None:
    port = local_endpoint.free_port()
    with started(serve_command(model_dir, port), environment(tmp_path)) as cli:
        wait_for_line(cli, "ready: POST")
        server = cli.server()
        assert not port_is_free(port)
        cli.send_signal(sig)
        assert cli.wait(timeout=60) == 130  # as after Ctrl-C
        assert group_members(server) == []
        assert port_is_free(port)
    # No control socket that a second server would share: gunicorn makes ~/.gunicorn for it.
    assert not (tmp_path / "user" / ".gunicorn").exists()


DEMO_SERVE_PHASE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import workshop.commands.serve as serve
    from workshop.commands import demo

    def score_slowly(url, n, seed=0, key=None):
        print("scoring at", url, flush=True)
        time.sleep(600)

    serve.score_sample = score_slowly
    demo._serve_and_score(Path(sys.argv[1]), 1)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGHUP])
def test_a_stop_signal_during_the_demos_serve_phase_stops_the_server(
    sig: signal.Signals, model_dir: Path, tmp_path: Path
) -> None:
    command = [sys.executable, "-c", DEMO_SERVE_PHASE, str(model_dir)]
    with started(command, environment(tmp_path)) as demo:
        port = int(wait_for_line(demo, "scoring at").rsplit(":", 1)[1])
        server = demo.server()
        demo.send_signal(sig)
        demo.wait(timeout=60)
        assert group_members(server) == []
        assert port_is_free(port)


def test_a_second_serve_on_a_held_port_is_refused_before_starting(
    model_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with started(serve_command(model_dir, port), environment(tmp_path)) as cli:
            _, err = cli.communicate(timeout=60)
            assert cli.returncode == ExitCode.BAD_INPUT
            assert f"port {port} on 127.0.0.1 is in use" in err
            assert "--port" in err


def test_a_server_that_dies_while_serving_passes_on_its_exit_code(
    model_dir: Path, tmp_path: Path
) -> None:
    port = local_endpoint.free_port()
    with started(serve_command(model_dir, port), environment(tmp_path)) as cli:
        wait_for_line(cli, "ready: POST")
        server = cli.server()
        os.kill(server, signal.SIGKILL)
        _, err = cli.communicate(timeout=60)
        assert cli.returncode == 128 + signal.SIGKILL
        assert "stopped by itself" in err
        assert group_members(server) == []


def test_a_server_that_fails_to_start_passes_on_its_exit_code(tmp_path: Path) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "MLmodel").write_text("not: [an mlflow model\n")
    port = local_endpoint.free_port()
    with started(serve_command(broken, port), environment(tmp_path)) as cli:
        _, err = cli.communicate(timeout=120)
        # gunicorn's exit code when the app cannot boot (init() raised): 3.
        assert cli.returncode == 3, err
        assert "exited with code 3 before it was ready" in err
    assert port_is_free(port)
