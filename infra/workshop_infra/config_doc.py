"""The README's settings table, rendered from Pulumi.yaml (the one place settings are declared).

    python infra/workshop_infra/config_doc.py   # prints the Markdown table

tests/test_readme.py fails when README.md's table differs from this rendering.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

PULUMI_YAML = Path(__file__).resolve().parents[2] / "Pulumi.yaml"


def _default(spec: dict) -> str:
    if "default" not in spec:
        return "(required)"
    value = spec["default"]
    if value == "":
        return "''"
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def render_table(pulumi_yaml: Path = PULUMI_YAML) -> str:
    """One Markdown row per declared setting: key, type, default, description."""
    config: dict[str, dict] = yaml.safe_load(pulumi_yaml.read_text(encoding="utf-8"))["config"]
    rows = ["| key | type | default | what it does |", "|---|---|---|---|"]
    rows.append("| `azure-native:location` | string | (required) | Azure region for everything. |")
    for key, spec in config.items():
        default = _default(spec).replace("|", "\\|")
        description = str(spec.get("description", "")).replace("|", "\\|")
        rows.append(f"| `{key}` | {spec.get('type', '')} | `{default}` | {description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(render_table())
