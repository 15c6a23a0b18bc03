"""The settings as Pulumi.yaml declares them: key, type, default, description. The one declaration.

The Pulumi CLI reads the same `config:` section (it applies the defaults and checks the types
before the program starts), the program reads it here for the defaults and types it validates
against, and config_doc renders the README's table from it. Schema of the section:
https://www.pulumi.com/docs/iac/concepts/projects/project-file/#config-options

The file is found next to this package (infra/workshop_infra/ is two levels under the project
root), not through the working directory: the Pulumi CLI runs the program from the project
root, tests and the `workshop` CLI from anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from workshop_infra.errors import ConfigError
from workshop_infra.yaml_file import read_mapping

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"

PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "array": list}
"""The config types Pulumi.yaml may declare, and the Python type of a default of each."""

Default = str | int | bool | list[Any]


@dataclass(frozen=True)
class Declared:
    """One project setting: what Pulumi.yaml says about it."""

    key: str  # without the project namespace
    type: str  # string | integer | boolean | array
    default: Default
    description: str
    items: str | None = None  # the element type of an array (`items.type`)

    @property
    def default_text(self) -> str:
        """The default as Pulumi hands config to a program: text, JSON for arrays, true/false."""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, list):
            return json.dumps(self.default)
        return str(self.default)


@dataclass(frozen=True)
class ProjectFile:
    """The project name and its declared settings, in file order."""

    path: Path
    name: str
    settings: dict[str, Declared]


def _fail(path: Path, key: str, value: object, rule: str) -> ConfigError:
    return ConfigError(
        f"{path}: {key}", value, rule, fix="correct the config section of Pulumi.yaml"
    )


def _declared(path: Path, name: str, full_key: str, spec: object) -> Declared:
    if not isinstance(spec, dict):
        raise _fail(path, full_key, spec, "must be a mapping with type, default and description")
    kind = spec.get("type")
    if kind not in PYTHON_TYPES:
        raise _fail(path, f"{full_key}.type", kind, f"must be one of {', '.join(PYTHON_TYPES)}")
    if "default" not in spec:
        # Every setting has a default, so a stack needs only the keys it changes.
        raise _fail(path, full_key, spec, "needs a default")
    default = spec["default"]
    if type(default) is not PYTHON_TYPES[kind]:  # `type is`: a bool is not an integer here
        raise _fail(path, f"{full_key}.default", default, f"must be of type {kind}")
    items = spec.get("items")
    item_type = items.get("type") if isinstance(items, dict) else None
    if (kind == "array") != (item_type is not None):
        raise _fail(
            path, f"{full_key}.items", items, "an array needs `items: {type: ...}`, others none"
        )
    description = spec.get("description")
    if not isinstance(description, str) or not description.strip():
        raise _fail(path, f"{full_key}.description", description, "must say what it does")
    short = full_key.removeprefix(f"{name}:")
    return Declared(short, kind, default, description, item_type)


def read_project_file(path: Path = PROJECT_FILE) -> ProjectFile:
    """Read and check the `config:` section: every project key typed, defaulted and described."""
    project = read_mapping(path)
    if not isinstance(project.get("name"), str):
        raise _fail(path, "name", None, "a Pulumi project file needs a name")
    name: str = project["name"]
    config = project.get("config") or {}
    if not isinstance(config, dict):
        raise _fail(path, "config", config, "must be a mapping of keys to declarations")
    settings: dict[str, Declared] = {}
    for full_key, spec in config.items():
        key = str(full_key)
        if ":" in key and not key.startswith(f"{name}:"):
            continue  # a provider's value (`azure-native:...: {value: ...}`), not a setting
        declared = _declared(path, name, key, spec)
        settings[declared.key] = declared
    return ProjectFile(path, name, settings)


@cache
def project_file() -> ProjectFile:
    """This project's Pulumi.yaml, read once per process."""
    return read_project_file()
