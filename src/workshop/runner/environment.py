"""`compute` and `environment` locally: this machine and this virtualenv, checked against the pins.

A model trained here must load in the cloud environment, so a local numpy, scikit-learn or mlflow
that differs from the environment's conda pins is worth a warning before the run starts.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from workshop.runner.binding import Assets

CHECKED = ("numpy", "scikit-learn", "mlflow")
PIN = re.compile(r"^\s*(?P<name>[A-Za-z0-9_.-]+)\s*==\s*(?P<version>[^\s;#]+)")


def conda_pins(conda_file: Path) -> dict[str, str]:
    """`name==version` pins from a conda file's pip section (and plain conda `name=version`)."""
    data = yaml.safe_load(conda_file.read_text(encoding="utf-8")) or {}
    pins: dict[str, str] = {}
    for dep in data.get("dependencies", []):
        entries = dep.get("pip", []) if isinstance(dep, dict) else [str(dep).replace("=", "==", 1)]
        for entry in entries:
            match = PIN.match(str(entry).replace("===", "=="))
            if match:
                pins[match["name"].lower()] = match["version"]
    return pins


def pin_warnings(environment: Any, assets: Assets) -> list[str]:
    """Where local versions differ from the pins of the job's environment (empty if they agree)."""
    ref = environment if isinstance(environment, str) else ""
    ref = ref if ref.startswith("azureml:") else f"azureml:{ref}"
    hit = assets.lookup("environment", ref)
    if hit is None or not hit[1].get("conda_file"):
        return []
    path, data = hit
    conda_file = path.parent / str(data["conda_file"])
    if not conda_file.is_file():
        return [f"{conda_file} (the environment's conda file) is missing"]
    pins = conda_pins(conda_file)
    warnings = []
    for name in CHECKED:
        if name not in pins:
            continue
        try:
            local = metadata.version(name)
        except metadata.PackageNotFoundError:
            local = "not installed"
        if local != pins[name]:
            warnings.append(f"{name} {local} here, {pins[name]} in {conda_file.name}")
    return warnings
