"""The rules a literal bound to a typed input must meet, shared by `validate` and `run`."""

from __future__ import annotations

from typing import Any

import pytest

from workshop.jobspec.literals import fits, out_of_bounds

BOUNDED = {"type": "integer", "min": 1, "max": 10}


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        (3, "integer", True),
        ("3", "integer", True),  # the text a command gets
        (2.5, "integer", False),
        (2.5, "number", True),
        (True, "integer", False),
        ("True", "boolean", True),
        ("yes", "boolean", False),
        ("abc", "number", False),
        (float("nan"), "integer", False),
        ({"value": 4}, "integer", True),
        ("anything", "string", True),
    ],
)
def test_fits(value: Any, kind: str, ok: bool) -> None:
    assert fits(value, kind) is ok


@pytest.mark.parametrize(
    ("value", "spec", "said"),
    [
        (0, BOUNDED, "below its min 1"),
        (11, BOUNDED, "above its max 10"),
        ("11", BOUNDED, "above its max 10"),
        (10, BOUNDED, None),
        ("abc", BOUNDED, None),  # a wrong type is the type check's to report
        ("c", {"type": "string", "enum": ["a", "b"]}, "not one of its enum values (a, b)"),
        ("a", {"type": "string", "enum": ["a", "b"]}, None),
        (50, {"type": "integer"}, None),
    ],
)
def test_out_of_bounds(value: Any, spec: dict[str, Any], said: str | None) -> None:
    assert out_of_bounds(value, spec) == said
