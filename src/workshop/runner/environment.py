"""A job's `environment` on this machine: built from its conda file, or a scratch substitute.

An environment with a conda file (an `azureml:NAME:VERSION` defined by a YAML here, or inline
`image:` + `conda_file:`) is realised as declared: a virtualenv with its pip section, built once
per content with uv (`venv.build`). One that cannot be reproduced here (an image alone, a docker
build context, a curated or registry environment) is replaced by a scratch environment over the
tool's own packages, and one line says so. Either way every task runs in a layer of its own over
that environment (`venv.layer`), so a job's `pip install` never reaches the tool or the cache.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from workshop.errors import WorkshopError
from workshop.jobspec.conda import CondaFile, CondaFileError, read_conda_file
from workshop.jobspec.references import parse_asset
from workshop.paths import JOBS_DIR, repo_relative
from workshop.runner import venv
from workshop.runner.binding import Assets, LoadedJob, environment_key, spec_of_node

console = Console(stderr=True)
SUBSTITUTE = (
    "runs in a scratch environment over this tool's packages (`pip install` goes to the job's "
    "own layer)"
)


@dataclass(frozen=True)
class Plan:
    """What a job's environment becomes here: `conda` to build, or a substitute and why."""

    label: str
    conda: CondaFile | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Realised:
    """An environment ready for tasks: `base` is the cached virtualenv or the tool's prefix."""

    plan: Plan
    base: Path

    def layer(self, dest: Path) -> dict[str, str]:
        """A fresh scratch layer at `dest` for one task; the variables that put a process in it."""
        venv.layer(self.base, dest)
        return venv.environment_variables(dest)

    @property
    def python(self) -> Path:
        return self.base / "bin" / "python"


def describe(value: Any) -> str:
    """How the YAML names an environment, in one short phrase (never a Python dict)."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        parts = []
        if value.get("image"):
            parts.append(f"image {value['image']}")
        if value.get("conda_file"):
            parts.append("a conda file")
        if value.get("build"):
            build = value["build"]
            parts.append(
                f"docker build {build.get('path', '') if isinstance(build, dict) else build}"
            )
        return " + ".join(parts) or "an empty inline environment"
    return str(value)


key = environment_key


def plan(value: Any, assets: Assets, conda_paths: dict[str, Path], where: str) -> Plan:
    label = describe(value)
    if value is None:
        return Plan(label, reason="the job names no environment")
    if isinstance(value, dict):
        if value.get("conda_file"):
            path = conda_paths.get(key(value["conda_file"]))
            if path is not None:
                return Plan(label, conda=_read(path, where))
        if value.get("build"):
            return Plan(label, reason="a docker build needs Docker, which local runs do not use")
        return Plan(label, reason="an image alone needs Docker, which local runs do not use")
    ref = str(value)
    parsed = parse_asset(ref)
    if parsed is not None and parsed.pinned:
        hit = assets.lookup("environment", ref)
        if hit is None:
            return Plan(
                label,
                reason="it is defined in the workspace (curated or registered), "
                "not by an environment YAML here",
            )
        path, data = hit
        if data.get("conda_file"):
            return Plan(label, conda=_read(path.parent / str(data["conda_file"]), str(path)))
        if data.get("build"):
            return Plan(label, reason=f"{repo_relative(path)} is a docker build context")
        return Plan(label, reason=f"{repo_relative(path)} is the image {data.get('image')} alone")
    if ref.startswith("azureml://registries/"):
        return Plan(label, reason="it lives in an Azure ML registry")
    return Plan(label, reason="it is not an environment defined here")


def _read(path: Path, where: str) -> CondaFile:
    try:
        return read_conda_file(path)
    except CondaFileError as exc:
        raise WorkshopError(f"{where}: {exc}", hint="fix the environment's conda file") from None


def values(job: LoadedJob) -> list[Any]:
    """Every environment the job's tasks use (a pipeline's steps may each have their own)."""
    spec = job.spec
    if job.kind == "pipeline":
        nodes = [spec_of_node(node) for node in (spec.get("jobs") or {}).values()]
    elif job.kind == "sweep":
        nodes = [spec.get("trial") or {}]
    else:
        nodes = [spec.get("component") or {}]
    return [node.get("environment", spec.get("environment")) for node in nodes]


class Environments:
    """The environments of one job: planned when loaded, realised before any task starts."""

    def __init__(self, job: LoadedJob, assets: Assets) -> None:
        paths = job.conda_paths
        self.plans: dict[str, Plan] = {}
        for value in values(job):
            if key(value) not in self.plans:
                self.plans[key(value)] = plan(value, assets, paths, job.path.name)
        self.ready: dict[str, Realised] = {}

    def summary(self) -> str:
        return ", ".join(p.label for p in self.plans.values()) or "(none)"

    def realise(self) -> None:
        """Build what is not built yet (fails before any job starts); note every substitute."""
        for name, item in self.plans.items():
            self.ready[name] = realise(item)

    def __getitem__(self, value: Any) -> Realised:
        return self.ready[key(value)]


def realise(item: Plan) -> Realised:
    if item.conda is None:
        console.print(
            f"environment {item.label}: {item.reason}; the job {SUBSTITUTE}",
            highlight=False,
            soft_wrap=True,
        )
        return Realised(item, Path(sys.prefix))
    conda = item.conda
    python = venv.find_interpreter(conda.python, conda.path)
    others = [
        d
        for d in conda.data.get("dependencies") or []
        if isinstance(d, str) and d.split("=")[0].strip() not in {"python", "pip"}
    ]
    if others:
        console.print(
            f"[yellow]warning:[/] {repo_relative(conda.path)}: conda packages are not "
            f"installed locally, only the pip section: {', '.join(others)}"
        )
    found = venv.built(conda, python)
    if found is None:
        console.print(
            f"environment {item.label}: building it from {repo_relative(conda.path)} with uv "
            f"(Python {python.version}, {len(venv.requirements(conda))} requirements; once per "
            "content, then cached)...",
            highlight=False,
            soft_wrap=True,
        )
        started = time.monotonic()
        found = venv.build(conda, python)
        console.print(
            f"environment built in {time.monotonic() - started:.1f} s: {found}",
            highlight=False,
            soft_wrap=True,
        )
    return Realised(item, found)


def interpreter_for(value: Any, folder: Path = JOBS_DIR) -> Path:
    """The python of an environment (built if needed); the tool's own for a substitute."""
    item = plan(value, Assets(folder), {}, str(folder))
    return realise(item).python if item.conda else Path(sys.executable)


def deployment_interpreter(deployment: Path = JOBS_DIR / "deployment.yml") -> Path:
    """The python `workshop serve` runs the inference server with: the deployment's environment."""
    import yaml

    data = yaml.safe_load(deployment.read_text(encoding="utf-8")) or {}
    return interpreter_for(data.get("environment"), deployment.parent)


def prepare(job_yaml: Path) -> Path:
    """Build (or find) a command or sweep job's environment; returns its folder (`make bench`)."""
    import yaml

    data = yaml.safe_load(job_yaml.read_text(encoding="utf-8")) or {}
    value = data.get("environment") or (data.get("trial") or {}).get("environment")
    return interpreter_for(value, job_yaml.parent).parent.parent
