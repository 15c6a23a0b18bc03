"""The stack outputs a CI job summary may show: names and counts, no ids, no people.

A job summary is readable by everyone who can read the repository's Actions runs. The full
`pulumi stack output --json` holds the subscription id, the tenant id (inside the Studio URLs and
configJson) and the trainees' names; `python -m workshop.ci_summary` reads that JSON on stdin and
prints only the outputs in SHOWN, plus how many trainees the stack has.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from workshop.markdown import md_code
from workshop_common import contract

SHOWN = (
    contract.WORKSPACE_NAME,
    contract.RESOURCE_GROUP,
    contract.LOCATION,
    contract.COMPUTE_NAME,
    contract.DATA_ASSET,
    contract.ENVIRONMENT,
    contract.EXPIRES_ON,
)
"""Outputs that name things in the environment; everything else stays out of the summary."""


def render(outputs: Mapping[str, Any]) -> str:
    lines = ["| output | value |", "|---|---|"]
    for key in SHOWN:
        value = outputs.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            lines.append(f"| {key} | {md_code(str(value))} |")
    trainees = outputs.get(contract.TRAINEES)
    if isinstance(trainees, list):
        lines.append(f"| {contract.TRAINEES} | {len(trainees)} (names not shown) |")
    return "\n".join(lines) + "\n"


def main() -> int:
    try:
        outputs = json.load(sys.stdin)
    except json.JSONDecodeError:
        outputs = None
    if not isinstance(outputs, Mapping):
        print("(no stack outputs)")
        return 0
    sys.stdout.write(render(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
