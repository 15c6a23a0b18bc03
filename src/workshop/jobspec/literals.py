"""Literal values bound to a component's typed inputs: what `workshop validate` reports and what
`workshop run` refuses before a pipeline's first step, from one set of rules.

Types, bounds and choices as the component YAML reference declares them
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-component-command#inputs:
`string`, `integer`, `number`, `boolean`; `min`/`max` for numbers, `enum` for strings), enforced
as azure-ai-ml's Input describes: "If a value below min is passed, the job execution will fail"
(https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.input).
"""

from __future__ import annotations

import math
from typing import Any

from workshop.jobspec.expressions import PARENT_REF

PRIMITIVE_TYPES = frozenset({"string", "integer", "number", "boolean"})


def article(kind: str) -> str:
    return "an" if kind[:1] in "aeiou" else "a"


def fits(value: Any, kind: str) -> bool:
    """True if `value` (YAML's, or the text a command would get) is of the primitive `kind`."""
    if isinstance(value, dict):
        value = value.get("value", value.get("default"))
    if kind == "string" or value is None:
        return True
    if kind == "boolean":
        return isinstance(value, bool) or str(value).lower() in {"true", "false"}
    if isinstance(value, bool):
        return False
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return kind == "number" or (math.isfinite(number) and number.is_integer())


def out_of_bounds(value: Any, spec: dict[str, Any]) -> str | None:
    """How a value that `fits` its input's type breaks the input's `min`, `max` or `enum` ("below
    its min 1"); None if it does not (or the input declares none)."""
    if isinstance(value, dict):
        value = value.get("value", value.get("default"))
    kind = spec.get("type")
    if value is None or not fits(value, str(kind)):  # a wrong type is reported as such
        return None
    if kind in ("integer", "number") and not isinstance(value, bool):
        number = float(value)
        low, high = spec.get("min"), spec.get("max")
        if low is not None and number < float(low):
            return f"below its min {low}"
        if high is not None and number > float(high):
            return f"above its max {high}"
    choices = spec.get("enum")
    if kind == "string" and isinstance(choices, list) and str(value) not in map(str, choices):
        return f"not one of its enum values ({', '.join(map(str, choices))})"
    return None


def problem(value: Any, spec: dict[str, Any]) -> str | None:
    """Why `value` cannot go to the input `spec` declares ("not an integer", "above its max 10");
    None if it can, or if the input is not of a primitive type."""
    kind = spec.get("type")
    if kind not in PRIMITIVE_TYPES:
        return None
    if not fits(value, str(kind)):
        return f"not {article(str(kind))} {kind}"
    return out_of_bounds(value, spec)


def bound_literal(value: Any, pipeline_inputs: dict[str, Any]) -> tuple[bool, Any]:
    """(True, the literal a pipeline step's input gets), following a `${{parent.inputs.X}}`
    binding (written whole, or as `{path: ...}` in azure-ai-ml's dictionary form) to the pipeline
    input; (False, None) for data, another step's output or a pipeline input not declared."""
    text = value.get("path") if isinstance(value, dict) else value
    match = PARENT_REF.match(text.strip()) if isinstance(text, str) else None
    if match is not None:
        if not match["input"] or match["input"] not in pipeline_inputs:
            return False, None
        return bound_literal(pipeline_inputs[match["input"]], {})
    if isinstance(value, dict):
        if "path" in value or ("value" not in value and "default" not in value):
            return False, None
        value = value.get("value", value.get("default"))
    return True, value
