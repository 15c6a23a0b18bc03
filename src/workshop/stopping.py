"""Stop signals as Ctrl-C, so whatever a command started is stopped by its `finally` blocks.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM and SIGHUP (a closed terminal) end
the process at once, which leaves children running and temporary files behind. Inside
`stop_signals_interrupt()` all three raise KeyboardInterrupt; `signals_held()` keeps them from
interrupting the cleanup itself (they are delivered when it is done).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _main_thread() -> bool:
    # Signal handlers can only be installed from the main thread (and only it receives them).
    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While inside, SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt; restored on exit.

    A signal the caller ignores stays ignored: `nohup workshop run ...` (SIGHUP) or a job started
    with `&` by a non-interactive shell (SIGINT) keeps running, as Unix programs do.
    """
    if not _main_thread():
        yield
        return
    previous = {
        sig: signal.signal(sig, _raise_interrupt)
        for sig in STOP_SIGNALS
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold the stop signals while cleaning up, so a second Ctrl-C cannot cut the cleanup short."""
    if not _main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
