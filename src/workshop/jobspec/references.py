"""The one parser for `azureml:` references and the local paths a spec names.

Short forms, as the CLI v2 YAML reference writes them
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-core-syntax#reference-syntax):
`azureml:<name>:<version>`, `azureml:<name>@<label>` (e.g. `@latest`) and, for computes,
`azureml:<name>`. Long forms (`azureml://registries/...`, `azureml://datastores/...`,
`azureml:/subscriptions/...` ARM ids) point outside the workspace's short names and are not parsed.
A local file may be written `file:./x.yaml` (a component in a pipeline job).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SHORT = re.compile(
    r"^azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<label>[A-Za-z0-9_.-]+)|:(?P<version>[^/@:]+))?$"
)
REMOTE_PREFIXES = ("azureml:", "http://", "https://", "git+", "wasbs://", "abfss://", "adl://")


@dataclass(frozen=True)
class AssetRef:
    """`azureml:name:version` (version set), `azureml:name@label` (label set), `azureml:name`."""

    name: str
    version: str | None = None
    label: str | None = None

    @property
    def pinned(self) -> bool:
        """The reference names a version or a label (an asset), not just a name (a compute)."""
        return self.version is not None or self.label is not None


def parse_asset(value: object) -> AssetRef | None:
    """The short-form reference in `value`; None for anything else (long forms, local paths)."""
    if not isinstance(value, str):
        return None
    match = _SHORT.match(value.strip())
    if not match:
        return None
    return AssetRef(match["name"], match["version"], match["label"])


def local_path(value: object) -> str | None:
    """The local path a value names (`file:` prefix removed); None for remote and `azureml:`."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("file:"):
        return text.removeprefix("file:").removeprefix("//") or None
    if text.startswith(REMOTE_PREFIXES) or "://" in text:
        return None
    return text
