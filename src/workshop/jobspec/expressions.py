"""The one grammar for `${{...}}` data-binding expressions and `$[[...]]` optional segments.

Azure ML replaces `${{inputs.X}}`, `${{outputs.Y}}` and, in a sweep trial, `${{search_space.K}}`
in a command; pipeline nodes bind with `${{parent.inputs.I}}`, `${{parent.outputs.O}}` and
`${{parent.jobs.STEP.outputs.O}}` (https://learn.microsoft.com/azure/machine-learning/
reference-yaml-core-syntax#binding-inputs-and-outputs-between-steps-in-a-pipeline-job).
`$[[...]]` wraps the part of a command that is dropped when an optional input has no value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

NAME = r"\w[\w-]*"
"""Step, input and output names (Microsoft's nyc_taxi_data_regression example names `prep-job`)."""
EXPRESSION = re.compile(r"\$\{\{\s*(?P<ref>[^{}]*?)\s*\}\}")
"""Any `${{ ... }}`; `ref` is the dotted text inside, trimmed."""
OPTIONAL = re.compile(r"\$\[\[(?P<body>.*?)\]\]", re.DOTALL)
PARENT_REF = re.compile(
    rf"^\$\{{\{{\s*parent\.(?:inputs\.(?P<input>{NAME})|jobs\.(?P<step>{NAME})\.outputs\.(?P<output>{NAME}))\s*\}}\}}$"
)
"""A whole value that reads a pipeline input or another step's output."""
PARENT_OUTPUT = re.compile(rf"^\$\{{\{{\s*parent\.outputs\.(?P<name>{NAME})\s*\}}\}}$")
"""A whole value that names the pipeline output a step's output becomes."""


def expressions(text: str) -> list[str]:
    """The dotted references of every `${{...}}` in `text`, in order."""
    return [m["ref"] for m in EXPRESSION.finditer(text)]


def is_expression(value: Any) -> bool:
    """A value that is one `${{...}}` and nothing else (its type is only known at run time)."""
    return isinstance(value, str) and EXPRESSION.fullmatch(value.strip()) is not None


@dataclass(frozen=True)
class ParentRef:
    """`${{parent.inputs.I}}` (section inputs, name I), `${{parent.jobs.S.outputs.O}}` (step S)."""

    section: str
    name: str
    step: str | None = None


def parse_parent(ref: str) -> ParentRef | None:
    """The pipeline binding a dotted `parent....` reference makes; None when it is not one."""
    parts = ref.split(".")
    if parts[0] != "parent" or not all(re.fullmatch(NAME, p) for p in parts):
        return None
    if len(parts) == 3 and parts[1] in {"inputs", "outputs"}:
        return ParentRef(parts[1], parts[2])
    if len(parts) == 5 and parts[1] == "jobs" and parts[3] in {"inputs", "outputs"}:
        return ParentRef(parts[3], parts[4], step=parts[2])
    return None


def node_bindings(node: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(section, key, reference) for every `${{...}}` in a pipeline node's inputs and outputs."""
    found = []
    for section in ("inputs", "outputs"):
        values = node.get(section)
        for key, value in (values if isinstance(values, dict) else {}).items():
            text = value.get("path") if isinstance(value, dict) else value
            if isinstance(text, str):
                found.extend((section, str(key), ref) for ref in expressions(text))
    return found


def step_dependencies(steps: dict[str, Any]) -> dict[str, set[str]]:
    """Step -> the steps whose outputs its inputs read (unknown step names included)."""
    needs: dict[str, set[str]] = {}
    for name, node in steps.items():
        needs[str(name)] = set()
        for section, _, ref in node_bindings(node if isinstance(node, dict) else {}):
            parent = parse_parent(ref)
            if section == "inputs" and parent and parent.step and parent.section == "outputs":
                needs[str(name)].add(parent.step)
    return needs


def find_cycle(needs: dict[str, set[str]]) -> list[str] | None:
    """One dependency cycle as [a, b, ..., a], or None; steps missing from `needs` are ignored."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    path: list[str] = []

    def visit(step: str) -> list[str] | None:
        state[step] = 1
        path.append(step)
        for other in sorted(needs.get(step, ())):
            if other not in needs:
                continue
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other not in state and (cycle := visit(other)):
                return cycle
        path.pop()
        state[step] = 2
        return None

    for step in needs:
        if step not in state and (cycle := visit(step)):
            return cycle
    return None
