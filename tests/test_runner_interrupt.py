"""Ctrl-C or SIGTERM during a sweep stops every trial's process and marks the runs KILLED."""

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
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
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
