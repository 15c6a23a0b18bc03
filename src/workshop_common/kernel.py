"""The Jupyter kernel the notebooks need on a compute instance, and the setup script that builds it.

The notebooks import `workshop` and the training code, which need Python 3.11 and the pinned
packages; a compute instance's stock kernels are other Pythons with other packages. So every
trainee compute instance the stack creates runs notebooks/workshop-kernel.sh as its creation
script, which builds a kernel named KERNEL_NAME from exactly requirements/lock.txt.

Microsoft's rules for setup scripts
(https://learn.microsoft.com/en-us/azure/machine-learning/how-to-customize-compute-instance):
- a creation script runs once, when the instance is provisioned; a startup script at every start.
  The kernel lives on the instance's disk, which survives stop and start: a creation script;
- the script runs as root; per-user setup such as a Jupyter kernel goes through
  `sudo -u azureuser` ($CI_LOCAL_UBUNTU_USER), which the script does itself;
- the script comes from the workspace's notebook file share (`scriptSource: workspaceStorage`,
  a path such as Users/admin/setup.sh) or inline (`scriptSource: inline`, base64 in
  `scriptData`). The share's files are uploaded after `pulumi up` (`workshop notebooks upload`),
  later than the instances are created, so the stack passes the script inline, with the lock
  inside it;
- the default timeout is 15 minutes, changed with `timeout` (a duration such as "30m").

How large an inline script may be is not documented (inferred risk); this one is about 9.5 kB
base64-encoded, the lock gzipped inside it.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from pathlib import Path

from workshop_common.paths import ROOT

KERNEL_NAME = "aml-workshop"
"""The kernel's name (its folder under ~/.local/share/jupyter/kernels and the notebooks'
`kernelspec.name`, so Jupyter picks it by itself where it exists)."""
KERNEL_DISPLAY_NAME = "Python 3.11 (aml-workshop)"
"""What Jupyter and Studio list in their kernel pickers."""

SCRIPT = ROOT / "notebooks" / "workshop-kernel.sh"
LOCK = ROOT / "requirements" / "lock.txt"

SCRIPT_TIMEOUT = "30m"
"""Setup script timeout (default 15 minutes): a uv-managed Python and ~180 pinned wheels."""


def _embedded(path: Path) -> str:
    """`path`'s bytes gzipped and base64-encoded, in lines a heredoc carries unchanged."""
    packed = base64.encodebytes(gzip.compress(path.read_bytes(), mtime=0)).decode("ascii")
    return packed.rstrip("\n")


def creation_script(script: Path = SCRIPT, lock: Path = LOCK) -> str:
    """A self-contained bash script: writes the kernel script and the lock to a temporary folder
    (readable by the instance's user, whom the kernel script switches to) and runs it."""
    env = {"WORKSHOP_KERNEL_NAME": KERNEL_NAME, "WORKSHOP_KERNEL_DISPLAY_NAME": KERNEL_DISPLAY_NAME}
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return "\n".join(
        [
            "#!/bin/bash",
            f"# aml-workshop: build the Jupyter kernel '{KERNEL_DISPLAY_NAME}' from",
            "# notebooks/workshop-kernel.sh and requirements/lock.txt",
            "# (src/workshop_common/kernel.py).",
            "set -euo pipefail",
            'dir=$(mktemp -d "${TMPDIR:-/tmp}/aml-workshop-kernel.XXXXXX")',
            'chmod 755 "$dir"',
            "base64 -d <<'SCRIPT' | gunzip > \"$dir/workshop-kernel.sh\"",
            _embedded(script),
            "SCRIPT",
            "base64 -d <<'LOCK' | gunzip > \"$dir/lock.txt\"",
            _embedded(lock),
            "LOCK",
            'chmod 644 "$dir/workshop-kernel.sh" "$dir/lock.txt"',
            "status=0",
            f'WORKSHOP_LOCK="$dir/lock.txt" {assignments} bash "$dir/workshop-kernel.sh" '
            "|| status=$?",
            'rm -rf "$dir"',
            'exit "$status"',
            "",
        ]
    )


def creation_script_data(script: Path = SCRIPT, lock: Path = LOCK) -> str:
    """`scriptData` for an inline setup script: the script, base64-encoded."""
    return base64.b64encode(creation_script(script, lock).encode("utf-8")).decode("ascii")
