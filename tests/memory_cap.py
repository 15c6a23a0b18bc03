"""Code run in a child process whose address space is capped (RLIMIT_AS), for hostile-input tests.

A cap turns "reads the whole bomb into memory" into a MemoryError the test can see, instead of a
machine that swaps. Two ways, one helper each: cap the child from its start (`run_capped`, for a
command whose own imports fit under a fixed cap), or cap it at what it uses after its imports plus
a margin (`cap_above_current`, pasted into a `python -c` script after the imports it needs).
"""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run_capped(
    command: Sequence[str], cap: int, *, cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run command with its address space capped at `cap` bytes from the start; never raises on
    a non-zero exit (the caller asserts on it)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return subprocess.run(
        list(command),
        preexec_fn=limit,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def cap_above_current(margin: int) -> str:
    """Python source that caps its own process at its current size (VmSize) plus `margin` bytes."""
    return (
        "import re as _re, resource as _resource\n"
        '_status = open("/proc/self/status").read()\n'
        '_vm = int(_re.search(r"VmSize:\\s+(\\d+) kB", _status).group(1)) * 1024\n'
        f"_resource.setrlimit(_resource.RLIMIT_AS, (_vm + {margin}, _vm + {margin}))\n"
    )
