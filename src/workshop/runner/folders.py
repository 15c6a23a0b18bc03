"""Every path the runner creates stays inside the run folder: names are checked, joins verified.

Names come from the YAML (outputs, inputs, pipeline steps), so a name such as `../../../tmp/x`
would otherwise become a folder outside the workshop home. The rules are azure-ai-ml's own: an
input or output name matches `IOConstants.VALID_KEY_PATTERN` (letters, digits, underscores,
dot-separated), a pipeline step name is a lower-case identifier (`is_valid_node_name`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from workshop.errors import WorkshopError

if TYPE_CHECKING:
    from workshop.runner.binding import LoadedJob


def check_names(job: LoadedJob) -> None:
    """Every name the runner makes a folder of: inputs, outputs, steps and their components'.

    Checked when the SDK loads the YAML (`binding.load_with_sdk`); a cached load passed it.
    """
    from workshop.runner.binding import spec_of_node

    spec, where = job.spec, job.path.name
    check_io_names(spec.get("inputs"), "input", where)
    check_io_names(spec.get("outputs"), "output", where)
    nodes = {"": spec.get("component") or spec.get("trial") or {}}
    for name, node in (spec.get("jobs") or {}).items():
        check_step_name(str(name), where)
        check_io_names(node.get("inputs"), "input", f"{where}: jobs.{name}")
        check_io_names(node.get("outputs"), "output", f"{where}: jobs.{name}")
        nodes[f"jobs.{name}."] = spec_of_node(node)
    for prefix, component in nodes.items():
        if isinstance(component, dict):
            for section in ("inputs", "outputs"):
                check_io_names(component.get(section), section[:-1], f"{where}: {prefix}component")


def check_io_names(names: object, section: str, where: str) -> None:
    """Input/output names are identifiers; anything else is the YAML's mistake, named."""
    from azure.ai.ml.constants._component import IOConstants  # private; see the module docstring

    io_name = re.compile(IOConstants.VALID_KEY_PATTERN)
    for name in names if isinstance(names, dict) else []:
        if not io_name.fullmatch(str(name)):
            raise WorkshopError(
                f"{where}: {section} name {name!r} is not an identifier",
                hint=f"name {section} with letters, digits and underscores (e.g. model), "
                "as Azure ML requires",
            )


def check_step_name(name: str, where: str) -> None:
    from azure.ai.ml._utils.utils import is_valid_node_name  # private; see the module docstring

    if not is_valid_node_name(name):
        raise WorkshopError(
            f"{where}: step name {name!r} is not a lower-case identifier",
            hint="name pipeline steps with lower-case letters, digits and underscores",
        )


def inside(root: Path, *parts: str) -> Path:
    """`root / parts`, refused if it would leave `root` (a `..` or an absolute part)."""
    path = root.joinpath(*parts)
    resolved_root = root.resolve()
    if not path.resolve().is_relative_to(resolved_root):
        raise WorkshopError(f"{'/'.join(parts)!r} would leave the run folder {root}")
    return path
