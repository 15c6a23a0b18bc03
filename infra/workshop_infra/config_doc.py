"""The README's settings table, rendered from Pulumi.yaml (the one place settings are declared).

    python infra/workshop_infra/config_doc.py   # prints the Markdown table

tests/test_readme.py fails when README.md's table differs from this rendering.
"""

from __future__ import annotations

import json
from pathlib import Path

from workshop_infra.project_file import PROJECT_FILE, Declared, read_project_file


def _default(setting: Declared) -> str:
    value = setting.default
    if value == "":
        return "''"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_table(pulumi_yaml: Path = PROJECT_FILE) -> str:
    """One Markdown row per declared setting: key, type, default, description."""
    project = read_project_file(pulumi_yaml)
    rows = ["| key | type | default | what it does |", "|---|---|---|---|"]
    rows.append("| `azure-native:location` | string | (required) | Azure region for everything. |")
    for setting in project.settings.values():
        default = _default(setting).replace("|", "\\|")
        description = setting.description.replace("|", "\\|")
        key = f"{project.name}:{setting.key}"
        rows.append(f"| `{key}` | {setting.type} | `{default}` | {description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(render_table())
