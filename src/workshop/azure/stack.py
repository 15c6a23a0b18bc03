"""Read a Pulumi stack: its outputs through the `pulumi` CLI, its config from the stack files.

Outputs come from `pulumi stack output --json` (never `--show-secrets`: nothing here needs a
secret, and CI logs must not show one). Config is read from Pulumi.yaml (declared defaults) and
Pulumi.<stack>.yaml, so `workshop preflight` works before the first `pulumi up` and without the
CLI; secret values stay encrypted and are never used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from workshop.errors import WorkshopError
from workshop.paths import ROOT
from workshop_common import contract

PULUMI_TIMEOUT_SECONDS = 120


WITHOUT_PULUMI = (
    "name the workspace with --subscription/--resource-group/--workspace or --config config.json"
)
"""What a workspace command can use instead of --stack when the Pulumi CLI is not here."""


def _pulumi(args: list[str], *, cwd: Path, without_pulumi: str = WITHOUT_PULUMI) -> str:
    exe = shutil.which("pulumi")
    if exe is None:
        raise WorkshopError(
            "the `pulumi` command is not on PATH, so the stack's outputs cannot be read",
            hint="install the Pulumi CLI (https://www.pulumi.com/docs/install/), or "
            + without_pulumi,
        )
    try:
        done = subprocess.run(
            [exe, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=PULUMI_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkshopError(
            f"`pulumi {' '.join(args)}` did not answer within {PULUMI_TIMEOUT_SECONDS} s",
            hint="check that the state backend is reachable (`pulumi whoami -v`)",
        ) from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit code {done.returncode}"
        if "no stack named" in (done.stderr or "").lower():
            raise WorkshopError(
                f"unknown Pulumi stack: {last}",
                hint="list the stacks with `pulumi stack ls` (is PULUMI_BACKEND_URL / "
                "`pulumi login` the backend that holds it?), or create it with "
                "`pulumi stack init NAME` and `pulumi up`",
            )
        raise WorkshopError(
            f"`pulumi {' '.join(args)}` failed: {last}",
            hint="run the same command yourself to see the whole message; "
            "`pulumi login` selects the state backend",
        )
    return done.stdout


def stack_outputs(
    stack: str, *, cwd: Path = ROOT, without_pulumi: str = WITHOUT_PULUMI
) -> dict[str, Any]:
    """The stack's outputs, with the ones every command needs checked present.

    `without_pulumi` ends the fix when the CLI is missing: what the caller accepts instead.
    """
    raw = _pulumi(
        ["stack", "output", "--json", "--stack", stack], cwd=cwd, without_pulumi=without_pulumi
    )
    try:
        outputs = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise WorkshopError(
            f"`pulumi stack output --json --stack {stack}` did not print JSON ({exc.msg})",
            hint="upgrade the Pulumi CLI to 3.x",
        ) from exc
    if not isinstance(outputs, dict):
        raise WorkshopError(f"stack {stack!r}: expected a JSON object of outputs, got {raw[:80]!r}")
    missing = [key for key in contract.REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        hint = (
            f"run `pulumi up --stack {stack}` first (a stack has outputs only after an update)"
            if not outputs
            else f"update it with this repository's infra/ program: `pulumi up --stack {stack}`"
        )
        raise WorkshopError(
            f"stack {stack!r} has no output {', '.join(missing)}"
            + (f" (it has: {', '.join(sorted(outputs))})" if outputs else " (it has no outputs)"),
            hint=hint,
        )
    return outputs


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise WorkshopError(
            f"{path}: not valid YAML ({exc})", hint="fix the file's syntax"
        ) from exc
    if not isinstance(data, dict):
        raise WorkshopError(f"{path}: expected a mapping at the top level")
    return data


def _unprefixed(key: str) -> str:
    """`aml-workshop:vmSize` → `vmSize`; keys of other namespaces stay whole."""
    prefix = f"{contract.PROJECT}:"
    return key[len(prefix) :] if key.startswith(prefix) else key


def stack_config(stack: str, *, root: Path = ROOT) -> tuple[dict[str, Any], bool]:
    """The stack's effective config (declared defaults overlaid by Pulumi.<stack>.yaml).

    Returns the config (project keys without the `aml-workshop:` prefix, provider keys such as
    `azure-native:location` whole; secrets omitted) and whether the stack file exists.
    """
    project_file = root / "Pulumi.yaml"
    if not project_file.is_file():
        raise WorkshopError(
            f"{project_file} not found, so the stack's settings are unknown",
            hint="run workshop from the repository checkout that holds the Pulumi project",
        )
    config: dict[str, Any] = {}
    declared = _read_yaml(project_file).get("config") or {}
    if isinstance(declared, Mapping):
        for key, spec in declared.items():
            if isinstance(spec, Mapping):
                if "default" in spec:
                    config[_unprefixed(str(key))] = spec["default"]
                elif "value" in spec:
                    config[_unprefixed(str(key))] = spec["value"]
            else:
                config[_unprefixed(str(key))] = spec
    stack_file = root / f"Pulumi.{stack}.yaml"
    exists = stack_file.is_file()
    if exists:
        values = _read_yaml(stack_file).get("config") or {}
        if isinstance(values, Mapping):
            for key, value in values.items():
                if isinstance(value, Mapping) and "secure" in value:
                    continue  # encrypted: never needed here
                config[_unprefixed(str(key))] = value
    return config, exists
