"""Child processes: each in its own process group, output streamed and kept, nothing left behind.

A job's command runs under bash in its own session, so Ctrl-C at the terminal reaches only the
runner; the runner then stops every child's whole process group (SIGTERM, then SIGKILL after a
grace period) before it lets the interrupt go on. SIGTERM and SIGHUP (the terminal closed) to the
runner are handled the same way, and so are the helper processes (environment builds) of `call`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from workshop.stopping import signals_held

GRACE_SECONDS = 5.0
POLL_SECONDS = 0.1
"""Signals that stop a run like Ctrl-C does (SIGINT is Python's KeyboardInterrupt already)."""
_print_lock = threading.Lock()


@dataclass
class Launch:
    """One command to run: what, where, with which environment, and where its log goes."""

    label: str
    command: str
    cwd: Path
    env: dict[str, str]
    log_path: Path
    timeout: float | None = None


@dataclass
class Outcome:
    """How a launch ended: `exit` (see returncode), `timeout`, `killed` or `not_started`."""

    how: str
    returncode: int | None = None
    seconds: float = 0.0
    started: float = 0.0  # time.monotonic() when the process started

    @property
    def ok(self) -> bool:
        return self.how == "exit" and self.returncode == 0

    def describe(self) -> str:
        if self.how == "exit":
            code = self.returncode
            if code is not None and code < 0:  # ended by a signal: as a shell (and Azure) shows it
                return f"exit code {128 - code} (killed by {signal.Signals(-code).name})"
            return f"exit code {code}"
        return {"timeout": "timed out", "killed": "stopped", "not_started": "not started"}[self.how]


@dataclass
class _Running:
    index: int
    launch: Launch
    popen: subprocess.Popen[bytes]
    started: float
    pump: threading.Thread


def shell() -> list[str]:
    """Azure ML runs a job's command with bash; use it too when it is there."""
    bash = shutil.which("bash")
    return [bash, "-c"] if bash else ["/bin/sh", "-c"]


LEAKY = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "MPLBACKEND"}
"""Variables that point a Python at the caller's packages or set-up (a notebook's MPLBACKEND names
matplotlib-inline, which a job's own environment does not have). A job on Azure starts without
them, so a local job does too."""


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's variables less LEAKY, with unbuffered output, plus extra (the job's)."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def call(
    command: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a helper (uv) to its end, output captured; an interrupt stops its whole group first."""
    popen = subprocess.Popen(
        list(command),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its children (uv's build backends) go with it
    )
    try:
        out, err = popen.communicate()
    except BaseException:
        with signals_held():
            _stop(popen)
        raise
    return subprocess.CompletedProcess(list(command), popen.returncode, out, err)


def run_all(
    launches: Sequence[Launch],
    *,
    concurrency: int = 1,
    deadline: float | None = None,
    on_start: Callable[[int], dict[str, str]] | None = None,
    on_exit: Callable[[int, Outcome], None] | None = None,
) -> list[Outcome]:
    """Run launches, at most `concurrency` at a time, until all end or `deadline` (monotonic).

    `on_start(i)` returns extra environment for launch i just before it starts (the MLflow run
    id); `on_exit(i, outcome)` is called as each one ends. On KeyboardInterrupt every running child
    is stopped and reported as `killed` before the interrupt propagates.
    """
    outcomes: list[Outcome | None] = [None] * len(launches)
    pending = list(range(len(launches)))
    running: list[_Running] = []

    def finish(item: _Running, how: str) -> None:
        if how == "exit":
            # What the command left running in its group (`server &`) goes with it, as a job's
            # container goes with its main process on Azure; else it would also hold the output
            # pipe open. A process that left the group (setsid) is beyond reach.
            _kill_group(item.popen.pid, signal.SIGKILL)
        code = item.popen.returncode
        outcome = Outcome(how, code, time.monotonic() - item.started, item.started)
        outcomes[item.index] = outcome
        item.pump.join(timeout=2)
        if on_exit:
            on_exit(item.index, outcome)

    try:
        while pending or running:
            now = time.monotonic()
            past_deadline = deadline is not None and now >= deadline
            while pending and len(running) < max(1, concurrency) and not past_deadline:
                index = pending.pop(0)
                extra = on_start(index) if on_start else {}
                running.append(_start(index, launches[index], extra))
            for item in list(running):
                timeout = item.launch.timeout
                if item.popen.poll() is not None:
                    running.remove(item)
                    finish(item, "exit")
                elif past_deadline or (timeout is not None and now - item.started > timeout):
                    _stop(item.popen)
                    running.remove(item)
                    finish(item, "timeout")
            if past_deadline and not running:
                break
            time.sleep(POLL_SECONDS)
    except BaseException:
        with signals_held():
            for item in running:
                _stop(item.popen)
            for item in running:
                finish(item, "killed")
        raise
    return [o if o is not None else Outcome("not_started") for o in outcomes]


def _start(index: int, launch: Launch, extra: dict[str, str]) -> _Running:
    launch.log_path.parent.mkdir(parents=True, exist_ok=True)
    popen = subprocess.Popen(
        [*shell(), launch.command],
        cwd=launch.cwd,
        env={**launch.env, **extra},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: Ctrl-C goes to the runner, not to it
    )
    assert popen.stdout is not None
    pump = threading.Thread(
        target=_pump, args=(popen.stdout, launch.log_path, launch.label), daemon=True
    )
    pump.start()
    return _Running(index, launch, popen, time.monotonic(), pump)


def _pump(stream: IO[bytes], log_path: Path, label: str) -> None:
    """Copy a child's output to its log file and to our stdout, each line prefixed with its run."""
    with log_path.open("wb") as log:
        for line in iter(stream.readline, b""):
            log.write(line)
            log.flush()
            text = line.decode("utf-8", errors="replace").rstrip("\n")
            with _print_lock:
                print(f"[{label}] {text}", flush=True)


def _stop(popen: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM the child's process group, SIGKILL it if it is still there after the grace."""
    if popen.poll() is not None:
        _kill_group(popen.pid, signal.SIGKILL)  # stragglers the command left behind
        return
    _kill_group(popen.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=GRACE_SECONDS)
    _kill_group(popen.pid, signal.SIGKILL)
    popen.wait()


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
