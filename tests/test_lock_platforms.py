"""requirements/lock.txt installs on trainees' laptops: Linux, macOS (Apple silicon) and Windows.

The lock is resolved `--universal` (workshop.jobspec.envlock), with markers where a platform
needs other packages (pywin32 on Windows, appnope on macOS, gunicorn everywhere but Windows).
Here the real resolver (`uv pip compile --python-platform`) resolves the lock itself for each
platform, from wheels only (`--only-binary :all:`: a laptop has no compiler, and uv then checks
every pin has a wheel with that platform's tags), and must come back with exactly the lock's
pins whose markers hold there: nothing added (a dependency the lock missed), nothing moved.
This checks resolution only; the test suite itself runs on Linux.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from workshop.paths import ROOT

LOCK = ROOT / "requirements" / "lock.txt"
UV = Path(sys.executable).with_name("uv")
PYTHON = "3.11"  # pyproject's requires-python
PLATFORMS = {
    # uv's target triple: the marker environment of a CPython 3.11 on that platform (PEP 508)
    "x86_64-unknown-linux-gnu": {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
    },
    "aarch64-apple-darwin": {
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": "arm64",
        "os_name": "posix",
    },
    "x86_64-pc-windows-msvc": {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": "AMD64",
        "os_name": "nt",
    },
}


def pins(text: str, environment: dict[str, str] | None = None) -> dict[str, str]:
    """name -> version of the `name==version [; marker]` lines whose marker holds (if given)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith((" ", "#", "-")):
            continue
        requirement = Requirement(line)
        marker = requirement.marker
        if environment is not None and marker is not None and not marker.evaluate(environment):
            continue
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        found[canonicalize_name(requirement.name)] = spec.version
    return found


def resolve_lock(platform: str, tmp_path: Path, lock: Path = LOCK) -> str:
    """The lock resolved for one platform by uv: from its cache when it can, else the index."""
    if not UV.is_file():
        pytest.fail(f"{UV} missing: run make setup")
    out = tmp_path / f"{platform}.txt"
    cmd = [str(UV), "pip", "compile", str(lock), "--python-platform", platform]
    cmd += ["--python-version", PYTHON, "--only-binary", ":all:", "--no-header", "--no-annotate"]
    cmd += ["--quiet", "-o", str(out)]
    done = subprocess.run([*cmd, "--offline"], capture_output=True, text=True, check=False)
    if done.returncode != 0 and "network was disabled" in done.stderr:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"the lock does not resolve for {platform}:\n{done.stderr}"
    return out.read_text(encoding="utf-8")


def differences(platform: str, tmp_path: Path, lock: Path = LOCK) -> dict[str, list[str]]:
    """What uv's resolution for `platform` adds to, drops from or changes in the lock's pins."""
    environment = {
        **PLATFORMS[platform],
        "python_version": PYTHON,
        "python_full_version": f"{PYTHON}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    expected = pins(lock.read_text(encoding="utf-8"), environment)
    resolved = pins(resolve_lock(platform, tmp_path, lock))
    both = set(resolved) & set(expected)
    return {
        "added": sorted(set(resolved) - set(expected)),
        "missing": sorted(set(expected) - set(resolved)),
        "other versions": sorted(n for n in both if resolved[n] != expected[n]),
    }


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_lock_resolves_unchanged_from_wheels_on(platform: str, tmp_path: Path) -> None:
    found = {kind: names for kind, names in differences(platform, tmp_path).items() if names}
    assert not found, f"{platform}: {found}; re-run make lock"


def test_a_pin_the_lock_lacks_is_caught(tmp_path: Path) -> None:
    """pywin32 is a Windows-only dependency: a lock without it fails for Windows alone."""
    lock = tmp_path / "lock.txt"
    lines = LOCK.read_text(encoding="utf-8").splitlines(keepends=True)
    lock.write_text("".join(x for x in lines if not x.startswith("pywin32==")), encoding="utf-8")
    assert differences("x86_64-pc-windows-msvc", tmp_path, lock)["added"] == ["pywin32"]
    assert not any(differences("aarch64-apple-darwin", tmp_path, lock).values())


def test_the_markers_select_per_platform_packages() -> None:
    """The check above would pass vacuously if markers were never read: they are."""
    text = LOCK.read_text(encoding="utf-8")
    linux, mac, windows = (pins(text, environment) for environment in PLATFORMS.values())
    assert "pywin32" in windows and "pywin32" not in linux and "pywin32" not in mac
    assert "appnope" in mac and "appnope" not in windows
