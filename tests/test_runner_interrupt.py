"""Ctrl-C, SIGTERM or SIGHUP stops every process `workshop run` started and marks runs KILLED.

SIGHUP (the terminal closed) used to leave the trials running under PID 1; an environment build
interrupted half-way must stop uv and its build processes and leave nothing that looks built.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "runner"


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"]
)
def test_a_stop_signal_during_a_sweep_leaves_no_child_process(
    tmp_path: Path, stop: signal.Signals
) -> None:
    env = {**os.environ, "WORKSHOP_HOME": str(tmp_path)}
    sets = ["--set", "inputs.sleep=300", "--set", "limits.max_concurrent_trials=2"]
    runner = subprocess.Popen(
        [sys.executable, "-m", "workshop", "run", str(FIXTURES / "sweep.yml"), "--json", *sets],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    pids: list[int] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(pids) < 2:
        assert runner.poll() is None, runner.communicate()[0].decode()
        pid_files = sorted((tmp_path / "runs").glob("*/trials/*/outputs/model/pid"))
        pids = [int(p.read_text()) for p in pid_files if p.read_text().strip()]
        time.sleep(0.2)
    assert len(pids) == 2, "two trials should be sleeping side by side"
    assert all(alive(pid) for pid in pids)

    runner.send_signal(stop)
    output = runner.communicate(timeout=60)[0].decode()
    assert runner.returncode == 130, output
    assert not [pid for pid in pids if alive(pid)], "a trial outlived the runner"
    assert '"status": "KILLED"' in output

    from mlflow.tracking import MlflowClient

    from workshop.runner.tracking import store_uri

    client = MlflowClient(tracking_uri=store_uri(tmp_path))
    experiment = client.get_experiment_by_name("runner-tests")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    statuses = sorted(run.info.status for run in runs)
    assert statuses == ["KILLED", "KILLED", "KILLED"], statuses  # the sweep and its two trials


SLOW_BACKEND = """
import os, time
from pathlib import Path

def _wait(*args, **kwargs):
    Path(os.environ["SLOW_BUILD_PID"]).write_text(str(os.getpid()))
    time.sleep(300)

get_requires_for_build_wheel = build_wheel = prepare_metadata_for_build_wheel = _wait
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_a_stop_signal_during_an_environment_build_stops_the_build(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """A local project whose build backend never finishes keeps uv busy for as long as needed."""
    project = tmp_path / "slowpkg"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "slowpkg"\nversion = "0.1"\n'
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    (project / "backend.py").write_text(SLOW_BACKEND)
    (tmp_path / "conda.yml").write_text(
        f"dependencies:\n  - python=3.11\n  - pip:\n      - {project}\n"
    )
    (tmp_path / "env.yml").write_text(
        "name: slow\nversion: '1'\nimage: python:3.11-slim\nconda_file: conda.yml\n"
    )
    (tmp_path / "job.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: echo never\nenvironment: azureml:slow:1\nexperiment_name: runner-tests\n"
    )
    envs, pid_file = tmp_path / "envs", tmp_path / "backend.pid"
    env = {
        **os.environ,
        "WORKSHOP_HOME": str(tmp_path / "home"),
        "WORKSHOP_ENV_DIR": str(envs),
        "SLOW_BUILD_PID": str(pid_file),
    }
    runner = subprocess.Popen(
        [sys.executable, "-m", "workshop", "run", str(tmp_path / "job.yml")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and not (pid_file.exists() and pid_file.read_text()):
        assert runner.poll() is None, runner.communicate()[0].decode()
        time.sleep(0.2)
    backend = int(pid_file.read_text())
    assert alive(backend)

    runner.send_signal(stop)
    output = runner.communicate(timeout=60)[0].decode()
    assert runner.returncode == 130, output
    assert not alive(backend), "the build outlived the runner"
    assert list(envs.iterdir()) == [], "an interrupted build left a folder behind"
    assert "never" not in output


def test_a_stop_signal_the_caller_ignores_stays_ignored() -> None:
    """`nohup workshop run ...` ignores SIGHUP: the run goes on; the other stop signals still
    stop it, and the caller's dispositions are back afterwards."""
    from workshop.stopping import stop_signals_interrupt

    term = signal.getsignal(signal.SIGTERM)
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"), stop_signals_interrupt():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.1)  # a handler would have raised by now
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == term
    finally:
        signal.signal(signal.SIGHUP, before)
