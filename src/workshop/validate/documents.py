"""Find the YAML files and load each with the matching azure-ai-ml loader into findings.

Reading YAML and telling kinds apart is workshop.jobspec's (below both validate and the runner);
this module turns the SDK's own loading and validation into findings. Loading needs no
credentials and no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workshop.jobspec.sdkload import KIND_LOADERS
from workshop.jobspec.yamlread import SpecReadError, read_mapping
from workshop.validate.findings import Finding
from workshop_common.errors import TRACEBACK, first_line


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


def read_yaml(path: Path) -> tuple[dict[str, Any] | None, Finding | None]:
    """The file's top-level mapping (read with the alias guard), or a finding that says why not."""
    try:
        return read_mapping(path), None
    except SpecReadError as exc:
        return None, Finding("error", "load", path, exc.key, exc.message, exc.fix)


DEPLOYMENT_COMMANDS = {
    "online_deployment": "az ml online-deployment create",
    "batch_deployment": "az ml batch-deployment create",
}
PLACEHOLDER_ENDPOINT = "endpoint-given-on-the-command-line"


def load_entity(doc: Document, loaders: dict[str, Callable[..., Any]]) -> list[Finding]:
    """Load `doc` with the SDK into `doc.entity`; a failure becomes one readable finding.

    A deployment may leave `endpoint_name` to the CLI's `--endpoint-name`
    (https://learn.microsoft.com/cli/azure/ml/online-deployment#az-ml-online-deployment-create):
    the rest is loaded with a placeholder and a note says where the name must come from.
    """
    found: list[Finding] = []
    overrides: list[dict[str, Any]] = []
    command = DEPLOYMENT_COMMANDS.get(doc.kind)
    if command and not doc.data.get("endpoint_name"):
        overrides.append({"endpoint_name": PLACEHOLDER_ENDPOINT})
        found.append(
            Finding(
                "note",
                "load",
                doc.path,
                "endpoint_name",
                "not in the file: the deployment needs the endpoint's name from the command line",
                f"create it with `{command} --file {doc.path.name} --endpoint-name NAME`, or "
                "add `endpoint_name:`",
            )
        )
    loader = loaders[doc.kind]
    try:
        doc.entity = loader(doc.path, params_override=overrides)
    except Exception as exc:
        problems = sdk_problems(str(exc)) or [(" (file)", first_line(exc))]
        key, _ = problems[0]
        text = "; ".join(f"{k}: {m}" if k.strip() else m for k, m in problems[:6])
        found.append(
            Finding(
                "error",
                "load",
                doc.path,
                key.strip() or "(file)",
                f"azure-ai-ml {KIND_LOADERS[doc.kind]} failed: {text}",
                "fix the key(s) named; the Azure ML CLI v2 YAML reference lists what each kind "
                "allows",
            )
        )
    return found


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
