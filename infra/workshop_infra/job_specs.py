"""The data asset and environment definitions, read from the job YAMLs under jobs/.

`az ml ... create -f jobs/...` and `pulumi up` register the same names, versions, image and conda
file because both read these files: there is one definition of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop_infra.errors import ConfigError
from workshop_infra.yaml_file import read_mapping


@dataclass(frozen=True)
class DataAssetSpec:
    name: str
    version: str
    description: str


@dataclass(frozen=True)
class EnvironmentSpec:
    name: str
    version: str
    description: str
    image: str
    conda_file: str  # the conda YAML's content, as the EnvironmentVersion takes it


@dataclass(frozen=True)
class JobSpecs:
    data: DataAssetSpec
    environment: EnvironmentSpec


def _text(path: Path, document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: {key}", value, "must be a non-empty string")
    return value


def read_job_specs(jobs_dir: Path) -> JobSpecs:
    """Read jobs/data-mnist.yml, jobs/environment.yml and the conda file it names."""
    data_path = jobs_dir / "data-mnist.yml"
    data = read_mapping(data_path)
    if data.get("type") != "uri_folder":
        raise ConfigError(f"{data_path}: type", data.get("type"), "must be uri_folder")
    env_path = jobs_dir / "environment.yml"
    env = read_mapping(env_path)
    conda_path = (env_path.parent / _text(env_path, env, "conda_file")).resolve()
    try:
        conda = conda_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{env_path}: conda_file", str(conda_path), f"cannot be read ({exc.strerror})"
        ) from exc
    return JobSpecs(
        data=DataAssetSpec(
            name=_text(data_path, data, "name"),
            version=_text(data_path, data, "version"),
            description=str(data.get("description") or ""),
        ),
        environment=EnvironmentSpec(
            name=_text(env_path, env, "name"),
            version=_text(env_path, env, "version"),
            description=str(env.get("description") or ""),
            image=_text(env_path, env, "image"),
            conda_file=conda,
        ),
    )
