"""What the TTL sweeper workflow may delete: only this project's expired CI environments.

`.github/workflows/ttl-sweeper.yml` pipes `az group list --tag expires-on --output json` into
`python -m workshop.ttl_sweep --now <UTC time> --summary <file>`. Tags can be written by anyone
with write access to a group, so a tag alone never decides: a group is swept only when

- its `expires-on` tag has passed,
- it carries the program's project tag (`workshop`),
- its `pulumi-stack` tag names a CI stack (`ci-<run id>-<attempt>`, what ephemeral-env.yml creates),
- and its own name is that stack's group, `<stack>-rg` (a name cannot be changed by a tag).

So a tag can at most point the sweeper at a CI group that was going to be swept anyway. Stdout
gets one tab-separated line per group to sweep (group, stack, expires-on: names that passed the
checks above, safe in a shell); the summary file gets a Markdown table of every expired group,
with the reason for each one skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workshop.markdown import md_code, md_text
from workshop_common import contract

CI_STACK = re.compile(r"ci-[0-9]{1,20}-[0-9]{1,4}")
"""CI stack names: `ci-${{ github.run_id }}-${{ github.run_attempt }}` (ephemeral-env.yml)."""
GROUP_SUFFIX = "-rg"
"""ephemeral-env.yml names the resource group `<stack>-rg`."""


def ci_group(stack: str) -> str:
    return stack + GROUP_SUFFIX


@dataclass(frozen=True)
class Decision:
    group: str
    stack: str
    expires_on: str
    sweep: bool
    reason: str


def parse_time(value: str) -> dt.datetime | None:
    """`expires-on` as the program writes it (YYYY-MM-DDTHH:MM:SSZ, or a bare date), in UTC."""
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def decide(groups: Iterable[Mapping[str, Any]], now: dt.datetime) -> list[Decision]:
    """One decision per expired group (groups not expired yet are left out)."""
    decisions: list[Decision] = []
    for group in groups:
        name = str(group.get("name") or "")
        tags = group.get("tags") or {}
        if not isinstance(tags, Mapping):
            continue
        expires = str(tags.get(contract.TAG_EXPIRES, ""))
        stack = str(tags.get(contract.TAG_STACK, ""))
        when = parse_time(expires)
        if when is None:
            decisions.append(Decision(name, stack, expires, False, "expires-on is not a UTC time"))
            continue
        if when > now:
            continue
        if contract.TAG_PROJECT not in tags:
            reason = f"no `{contract.TAG_PROJECT}` tag: not made by this project"
        elif not CI_STACK.fullmatch(stack):
            reason = "not a CI stack (ci-<run>-<attempt>): destroy it with `pulumi destroy`"
        elif name != ci_group(stack):
            reason = f"the group of stack {stack} is named {ci_group(stack)}, not this one"
        else:
            decisions.append(Decision(name, stack, expires, True, "expired CI environment"))
            continue
        decisions.append(Decision(name, stack, expires, False, reason))
    return decisions


def summary(decisions: list[Decision], now: str, dry_run: bool) -> str:
    lines = [
        f"### TTL sweep at {md_text(now)}{' (dry run)' if dry_run else ''}",
        "",
        "| resource group | stack | expired on | decision |",
        "|---|---|---|---|",
    ]
    for d in decisions:
        verdict = ("would sweep" if dry_run else "sweep") if d.sweep else "skipped"
        row = (md_code(d.group), md_code(d.stack or "-"), md_text(d.expires_on or "-"))
        lines.append(f"| {' | '.join(row)} | {verdict}: {md_text(d.reason)} |")
    if not decisions:
        lines.append("| (none expired) | | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workshop.ttl_sweep", description=__doc__)
    parser.add_argument("--now", required=True, help="the current time, YYYY-MM-DDTHH:MM:SSZ")
    parser.add_argument("--summary", required=True, help="append the Markdown table here")
    parser.add_argument("--dry-run", action="store_true", help="print nothing to sweep")
    args = parser.parse_args(argv)
    now = parse_time(args.now)
    if now is None:
        parser.error(f"--now {args.now!r}: expected YYYY-MM-DDTHH:MM:SSZ")
    try:
        groups = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"error: stdin is not JSON from `az group list` ({exc.msg})", file=sys.stderr)
        return 2
    if not isinstance(groups, list):
        print("error: stdin must be the JSON list `az group list` prints", file=sys.stderr)
        return 2
    decisions = decide(groups, now)
    with open(args.summary, "a", encoding="utf-8") as out:
        out.write(summary(decisions, args.now, args.dry_run))
    if not args.dry_run:
        for d in decisions:
            if d.sweep:
                print(f"{d.group}\t{d.stack}\t{d.expires_on}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
