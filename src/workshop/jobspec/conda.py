"""An environment's conda file: its Python, its pip section, and whether that section resolves.

Azure ML builds a job's image by creating the conda environment and running pip on its `pip:`
list, on Linux x86_64. `uv pip compile` with the same Python and `--python-platform
x86_64-manylinux_2_28` answers, here and in about a second, the question the image build would
answer an hour into a workshop: do these requirements resolve at all?
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

LINUX = "x86_64-manylinux_2_28"
"""The platform Azure ML's images build for (Ubuntu 22.04 images carry glibc 2.35)."""

_PYTHON = re.compile(r"^python\s*(?:=|==)\s*(?P<version>\d+\.\d+)(?:\.[\d*]+)?$")
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)==(?P<version>[^\s;#]+)$")


class CondaFileError(ValueError):
    """A conda file that cannot be read as an environment definition; names the file and key."""


class ResolveError(RuntimeError):
    """The resolver refused the pip section; `detail` is its own message."""

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: the pip requirements do not resolve\n{detail.strip()}")
        self.source = source
        self.detail = detail.strip()


@dataclass(frozen=True)
class CondaFile:
    path: Path
    python: str | None
    """`3.11` from `python=3.11` (None when the file does not name a Python)."""
    pip: tuple[str, ...]
    data: dict[str, Any] = field(repr=False, compare=False)

    def pins(self) -> dict[str, str]:
        """`name -> version` for the `name==version` entries (names normalised, PEP 503)."""
        found = {}
        for entry in self.pip:
            match = PIN.match(entry.split("#", 1)[0].strip())
            if match:
                found[normalise(match["name"])] = match["version"]
        return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_conda_file(path: Path) -> CondaFile:
    """Parse a conda environment file into its Python version and pip entries."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CondaFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise CondaFileError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise CondaFileError(f"{path}: expected a mapping with `dependencies:`")
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise CondaFileError(f"{path}: dependencies must be a list")
    python, pip = None, []
    for dep in deps:
        if isinstance(dep, dict) and "pip" in dep:
            pip.extend(str(entry).strip() for entry in dep["pip"] or [])
        elif isinstance(dep, str) and (match := _PYTHON.match(dep.replace(" ", ""))):
            python = match["version"]
    return CondaFile(path=path, python=python, pip=tuple(pip), data=data)


def uv_binary() -> str:
    """The uv the tool is installed with (a pinned dependency), so no other uv is ever picked."""
    from uv import find_uv_bin

    return find_uv_bin()


def compile_requirements(
    requirements: list[str] | tuple[str, ...],
    *,
    python: str,
    platform: str | None = LINUX,
    source: str,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """Resolve `requirements` with uv; the `name==version` lines of every package needed.

    Raises ResolveError with uv's own explanation when they cannot be resolved.
    """
    with tempfile.TemporaryDirectory(prefix="workshop-resolve-") as tmp:
        spec = Path(tmp) / "requirements.in"
        spec.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        cmd = [uv_binary(), "pip", "compile", str(spec), "--python-version", python]
        cmd += ["--no-header", "--no-annotate", "--quiet", *extra]
        if platform:
            cmd += ["--python-platform", platform]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ResolveError(source, done.stderr or done.stdout)
    return [line for line in done.stdout.splitlines() if line and not line.startswith("#")]


def resolve_conda_file(conda: CondaFile, *, platform: str | None = LINUX) -> list[str]:
    """Resolve a conda file's pip section for its own Python (this interpreter's if unnamed)."""
    python = conda.python or f"{sys.version_info.major}.{sys.version_info.minor}"
    return compile_requirements(conda.pip, python=python, platform=platform, source=str(conda.path))
