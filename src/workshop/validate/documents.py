"""Find the YAML files, tell what each one is, and load it with the matching azure-ai-ml loader.

azure-ai-ml takes seconds to import, so it is imported once, here, when loading starts (never at
`workshop --help`). Loading needs no credentials and no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workshop.validate.findings import Finding
from workshop_common.errors import TRACEBACK, first_line

# `$schema` file name (lower case, without `.schema.json`) -> kind.
SCHEMA_KINDS = {
    "commandjob": "command_job",
    "sweepjob": "sweep_job",
    "pipelinejob": "pipeline_job",
    "commandcomponent": "component",
    "schedule": "schedule",
    "managedonlineendpoint": "online_endpoint",
    "managedonlinedeployment": "online_deployment",
    "environment": "environment",
    "data": "data",
    "model": "model",
}

KIND_LOADERS = {
    "command_job": "load_job",
    "sweep_job": "load_job",
    "pipeline_job": "load_job",
    "component": "load_component",
    "schedule": "load_schedule",
    "online_endpoint": "load_online_endpoint",
    "online_deployment": "load_online_deployment",
    "environment": "load_environment",
    "data": "load_data",
    "model": "load_model",
}


@dataclass
class Document:
    """One YAML file: its raw mapping (what our checks read) and the SDK entity (or None)."""

    path: Path
    kind: str
    data: dict[str, Any]
    entity: Any = None

    @property
    def folder(self) -> Path:
        """Relative paths in a YAML resolve against the YAML's own folder."""
        return self.path.parent


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """Every .yml/.yaml file named or under the named folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in {".yml", ".yaml"}))
        else:
            found.append(path)
    unique: dict[Path, None] = {p.resolve(): None for p in found}
    return list(unique)


def detect_kind(data: dict[str, Any]) -> str | None:
    """The kind from `$schema`, falling back to the keys each kind requires."""
    schema = str(data.get("$schema", ""))
    if schema:
        name = schema.rsplit("/", 1)[-1].lower().removesuffix(".json").removesuffix(".schema")
        if name in SCHEMA_KINDS:
            return SCHEMA_KINDS[name]
    kind = data.get("type")
    if "create_job" in data and "trigger" in data:
        return "schedule"
    if "endpoint_name" in data:
        return "online_deployment"
    if "auth_mode" in data:
        return "online_endpoint"
    if kind == "sweep":
        return "sweep_job"
    if kind == "pipeline":
        return "pipeline_job"
    if kind == "command" or "command" in data:
        # A component has a name and a version of its own; a job is named by the service.
        return "component" if "version" in data else "command_job"
    if "image" in data or "build" in data or "conda_file" in data:
        return "environment"
    if kind in {"uri_folder", "uri_file", "mltable"} and "path" in data:
        return "data"
    if kind in {"mlflow_model", "custom_model", "triton_model"} and "path" in data:
        return "model"
    return None


def refuse_non_job(path: Path, what_runs: str) -> None:
    """A WorkshopError when `path` is an Azure ML YAML of another kind than a job (an endpoint,
    a data asset, ...); nothing for a job, or when the file cannot tell (the loader reports it)."""
    from workshop.errors import WorkshopError

    data, _ = read_yaml(path)
    kind = detect_kind(data) if data is not None else None
    if kind is None or kind.endswith("_job"):
        return
    name = "data asset" if kind == "data" else kind.replace("_", " ")
    raise WorkshopError(
        f"{path} is {'an' if name[0] in 'aeiou' else 'a'} {name} YAML, not a job",
        hint=f"{what_runs}, e.g. jobs/train-knn.yml; `workshop validate {path}` checks this one",
    )


def read_yaml(path: Path) -> tuple[dict[str, Any] | None, Finding | None]:
    """The file's top-level mapping, or a finding that says why it is not one."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, Finding("error", "load", path, "(file)", f"cannot read: {exc}", "fix the path")
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, Finding(
            "error",
            "load",
            path,
            "(syntax)",
            f"not valid YAML{at}: {problem}",
            "fix the YAML syntax (indentation, quotes, a missing colon)",
        )
    if not isinstance(data, dict):
        return None, Finding(
            "error",
            "load",
            path,
            "(top level)",
            f"expected a mapping of keys, found {type(data).__name__}",
            "start the file with `$schema:` and the keys of an Azure ML YAML",
        )
    return data, None


def sdk_loaders() -> dict[str, Callable[..., Any]]:
    """The azure-ai-ml `load_*` functions by kind (imports the SDK, once, quietly)."""
    from azure.ai.ml.entities import _load_functions

    from workshop.sdk import quiet_azure_ml

    quiet_azure_ml()
    return {kind: getattr(_load_functions, name) for kind, name in KIND_LOADERS.items()}


def load_entity(doc: Document, loaders: dict[str, Callable[..., Any]]) -> Finding | None:
    """Load `doc` with the SDK into `doc.entity`; a failure becomes one readable finding."""
    loader = loaders[doc.kind]
    try:
        doc.entity = loader(doc.path)
    except Exception as exc:
        problems = sdk_problems(str(exc)) or [(" (file)", first_line(exc))]
        key, _ = problems[0]
        text = "; ".join(f"{k}: {m}" if k.strip() else m for k, m in problems[:6])
        return Finding(
            "error",
            "load",
            doc.path,
            key.strip() or "(file)",
            f"azure-ai-ml {KIND_LOADERS[doc.kind]} failed: {text}",
            "fix the key(s) named; the Azure ML CLI v2 YAML reference lists what each kind allows",
        )
    return None


def sdk_validate(doc: Document) -> list[Finding]:
    """The SDK's own offline validation, where the entity has one (jobs, components, schedules)."""
    entity = doc.entity
    if entity is None:
        return []
    messages: dict[str, str] = {}
    targets = [entity]
    if doc.kind == "command_job":
        # Only the job's component sees an undeclared ${{inputs.x}} in the command.
        component = getattr(entity, "component", None)
        if component is not None and not isinstance(component, str):
            targets.append(component)
    for target in targets:
        validate = getattr(target, "_validate", None)
        if validate is None:
            continue
        try:
            result = validate()
        except Exception as exc:  # online deployments raise instead of returning a result
            messages.setdefault("(file)", first_line(exc))
            continue
        for key, message in (getattr(result, "error_messages", None) or {}).items():
            messages.setdefault(key or "(file)", str(message))
    return [
        Finding(
            "error",
            "sdk",
            doc.path,
            key,
            f"azure-ai-ml validation: {_clean(message)}",
            "fix the key named; `az ml job validate` reports the same",
        )
        for key, message in messages.items()
    ]


_VALIDATION_HEAD = re.compile(r"Validation for \w+ failed:\s*")


def sdk_problems(message: str) -> list[tuple[str, str]]:
    """(key path, message) leaves from the SDK's nested 'Validation for X failed: {json}' text."""
    match = _VALIDATION_HEAD.search(message)
    if not match:
        return []
    try:
        payload = json.JSONDecoder().raw_decode(message[match.end() :])[0]
    except ValueError:
        return []
    leaves: list[tuple[str, str]] = []
    _collect(payload, "", leaves)
    seen: dict[tuple[str, str], None] = {}
    for leaf in leaves:
        seen.setdefault(leaf, None)
    return list(seen)


def _collect(node: Any, key: str, out: list[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        if "errors" in node and isinstance(node["errors"], list):  # a wrapped result
            for error in node["errors"]:
                path = ".".join(p for p in (key, str(error.get("path") or "")) if p)
                nested = sdk_problems(str(error.get("message", "")))
                if nested:
                    out.extend((".".join(p for p in (path, k) if p), m) for k, m in nested)
                else:
                    out.append((path, _clean(str(error.get("message", "")))))
            return
        for name, value in node.items():
            child = key if name == "_schema" else ".".join(p for p in (key, str(name)) if p)
            _collect(value, child, out)
    elif isinstance(node, list):
        if node and all(isinstance(item, dict) for item in node):
            # A union field: one error dict per alternative; the first alternative is the
            # form the YAML most likely meant, the rest would only repeat the problem.
            _collect(node[0], key, out)
        else:
            for item in node:
                _collect(item, key, out)
    elif node is not None:
        nested = sdk_problems(str(node))
        if nested:
            out.extend((".".join(p for p in (key, k) if p), m) for k, m in nested)
        else:
            out.append((key, _clean(str(node))))


def _clean(text: str) -> str:
    """One line: no traceback, no trailing whitespace runs."""
    return re.sub(r"\s+", " ", text.split(TRACEBACK)[0]).strip()
