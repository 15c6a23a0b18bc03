"""Read a YAML file that must hold a mapping (Pulumi.yaml, the job YAMLs), failing as a ConfigError
that names the file: unreadable, not YAML, or not a mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workshop_infra.errors import ConfigError


def read_mapping(path: Path) -> dict[str, Any]:
    """The YAML mapping in `path`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), None, f"is not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise ConfigError(str(path), document, "must be a YAML mapping")
    return document
