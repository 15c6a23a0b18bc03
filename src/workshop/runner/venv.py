"""Virtualenvs for jobs, made with uv: a cached one per conda file, and a scratch layer per task.

A cached environment is built once per content (its pip section and the interpreter) under
`paths.env_cache()`, in a temporary folder renamed into place when complete, so an interrupted
build never looks finished. Packages are copied from uv's cache, not hard-linked: a job that
edits a file in its environment must not edit uv's cache or the tool's own environment (which
`make setup` also linked from that cache).

A task never runs in a cached environment itself but in a scratch layer over it: a virtualenv of
its own whose site-packages reads the base's through a `.pth` file, with the base's scripts
(pip, mlflow, azmlinfsrv...) rewritten to run its own python. `pip install` inside a job then
installs into the layer (pip leaves packages "outside environment" alone), and a job that writes
into `sys.prefix` writes into the layer, as a job on Azure writes into its own container only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workshop.errors import WorkshopError
from workshop.jobspec.conda import CondaFile, uv_binary
from workshop.paths import env_cache, repo_relative
from workshop.runner.process import call

RELOCATABLE = b"#!/bin/sh\n'''exec'"
"""How a script `uv venv --relocatable` writes starts: it runs the python next to it."""


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # 3.11.7

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def tool_interpreter() -> Interpreter:
    """The Python the tool runs on (the base interpreter under its virtualenv)."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    version = ".".join(str(part) for part in sys.version_info[:3])
    return Interpreter(base, version)


def find_interpreter(minor: str | None, source: Path) -> Interpreter:
    """A local Python `minor` (3.11): the tool's own, else one uv finds here without downloading."""
    here = tool_interpreter()
    if minor is None or minor == here.minor:
        return here
    done = call(
        [uv_binary(), "python", "find", "--no-python-downloads", "--no-project", minor],
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    found = Path(done.stdout.strip()) if done.returncode == 0 else None
    if found is None or not found.is_file():
        raise WorkshopError(
            f"{source}: asks for Python {minor}, and this machine has no Python {minor} "
            f"(the tool runs on {here.version}; uv may not download interpreters here)",
            hint=f"install Python {minor} where uv finds it (PATH), or write `python={here.minor}`"
            f" in {source.name} if the job runs on it",
        )
    version = call([str(found), "-c", "import platform; print(platform.python_version())"])
    return Interpreter(found, version.stdout.strip() or minor)


def requirements(conda: CondaFile) -> list[str]:
    """What pip installs: the pip section, plus pip itself when the conda file lists it."""
    deps = conda.data.get("dependencies") or []
    wants_pip = any(isinstance(dep, str) and dep.split("=")[0].strip() == "pip" for dep in deps)
    return [*conda.pip, *(["pip"] if wants_pip and not _names(conda.pip, "pip") else [])]


def _names(entries: tuple[str, ...], name: str) -> bool:
    return any(entry.split("=")[0].split("<")[0].split(">")[0].strip() == name for entry in entries)


def content_key(conda: CondaFile, python: Interpreter) -> str:
    """The cache key: what is installed and on which interpreter (not where the file lives)."""
    data = {"python": python.version, "interpreter": str(python.path), "pip": requirements(conda)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def built(conda: CondaFile, python: Interpreter) -> Path | None:
    """The cached environment for this content, if a complete one exists."""
    final = env_cache() / content_key(conda, python)
    return final if (final / "pyvenv.cfg").is_file() else None


def build(conda: CondaFile, python: Interpreter) -> Path:
    """Build (or reuse) the cached environment; WorkshopError with uv's message if it fails."""
    done = built(conda, python)
    if done:
        return done
    cache = env_cache()
    cache.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(cache)
    key = content_key(conda, python)
    final = cache / key
    temp = cache / f".building-{key}-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    spec = cache / f".building-{key}-{os.getpid()}.txt"
    try:
        spec.write_text("\n".join(requirements(conda)) + "\n", encoding="utf-8")
        _uv(["venv", "--quiet", "--relocatable", "--python", str(python.path), str(temp)], conda)
        python_in_temp = str(temp / "bin" / "python")
        # --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (CI images, this machine) every job
        # would otherwise recompile sklearn, mlflow... from source on every start.
        install = ["pip", "install", "--link-mode=copy", "--compile-bytecode"]
        install += ["--python", python_in_temp]
        _uv([*install, "--requirement", str(spec)], conda)
        try:
            temp.rename(final)
        except OSError:  # another run finished the same build first: use its copy
            if built(conda, python) is None:
                raise
            shutil.rmtree(temp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        spec.unlink(missing_ok=True)
    return final


def _uv(args: list[str], conda: CondaFile) -> None:
    # cwd: relative paths in the pip section mean the conda file's folder
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PYTHON"}}
    done = call([uv_binary(), *args], cwd=conda.path.parent, env=env)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip()
        from workshop.jobspec.envlock import REQUIREMENTS_IN  # only on this path: 50 ms

        ours = conda.path.resolve().is_relative_to(REQUIREMENTS_IN.parent.resolve())
        raise WorkshopError(
            f"{conda.path}: the environment cannot be built here; uv says:\n{message}",
            hint=f"edit {repo_relative(REQUIREMENTS_IN)} and run `make lock`"
            if ours
            else f"make the pip requirements in {conda.path} installable together",
        )


def _remove_abandoned(cache: Path) -> None:
    """Temporary folders of builds whose process is gone (killed before it could clean up)."""
    for path in cache.glob(".building-*"):
        pid = path.name.removesuffix(".txt").rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def site_packages(prefix: Path) -> list[Path]:
    """The site-packages folders of a virtualenv (lib/pythonX.Y/site-packages)."""
    return sorted(p for p in prefix.glob("lib/python*/site-packages") if p.is_dir())


def layer(base: Path, dest: Path) -> Path:
    """A scratch virtualenv at `dest` over the environment at `base` (see the module docstring).

    Returns `dest`. `base` is a cached environment or, for substitutes, the tool's own prefix.
    """
    python = base / "bin" / "python"
    done = call([uv_binary(), "venv", "--quiet", "--python", str(python), str(dest)])
    if done.returncode != 0:
        raise WorkshopError(f"cannot create the job's environment at {dest}: {done.stderr}")
    [own] = site_packages(dest) or [dest]
    lines = "".join(f"import site; site.addsitedir({str(p)!r})\n" for p in site_packages(base))
    (own / "_workshop_base.pth").write_text(lines, encoding="utf-8")
    _copy_scripts(base / "bin", dest / "bin")
    return dest


def _copy_scripts(source: Path, dest: Path) -> None:
    """The base's Python scripts, made to run the layer's python (binaries are left out)."""
    shebang = re.compile(rb"#!" + re.escape(str(source / "python").encode()) + rb"[0-9.]*")
    for path in sorted(source.iterdir()):
        name = path.name
        if name.startswith(("python", "activate", "deactivate", "pydoc")) or not path.is_file():
            continue
        try:
            text = path.read_bytes() if path.stat().st_size < 1_000_000 else b""
        except OSError:
            continue
        first, _, rest = text.partition(b"\n")
        if text.startswith(RELOCATABLE):
            pass  # it runs the python next to it: the layer's, once copied
        elif shebang.fullmatch(first.rstrip()):
            text = f"#!{dest / 'python'}".encode() + b"\n" + rest
        else:
            continue
        target = dest / name
        if not target.exists():
            target.write_bytes(text)
            target.chmod(0o755)


def environment_variables(prefix: Path) -> dict[str, str]:
    """What a process needs to run in the virtualenv at `prefix`: its bin first on PATH."""
    tool_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != tool_bin]
    return {"PATH": os.pathsep.join([str(prefix / "bin"), *path]), "VIRTUAL_ENV": str(prefix)}


def run_python(prefix: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` in a virtualenv (for checks and tests)."""
    return subprocess.run(
        [str(prefix / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **environment_variables(prefix)},
    )
