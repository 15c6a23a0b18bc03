"""`--json`: a command ends with exactly one JSON document on stdout, whatever happens.

While a command runs with `--json`, stdout is diverted to stderr, so the tables, progress lines
and a local job's output (all written for people) land on stderr. When the command ends (done,
failed, refused by the command line, interrupted), `workshop.cli` writes the one document:

    {"command": "preflight", "ok": false, "exit_code": 3,
     "error": {"message": "...", "fix": "..."} or null,
     "result": {...what the command found, as far as it got...}}

Commands add to `result` with `record(...)` as they go, so a failure still reports what was
found (preflight's checks, smoke's phases).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, TextIO

import typer

ENVELOPE = ("command", "ok", "exit_code", "error", "result")
"""The top-level keys of every document, in order (README.md lists them)."""


@dataclass
class _Invocation:
    command: str = ""
    json: bool = False
    stdout: TextIO | None = None  # the real stdout while human text is diverted to stderr
    result: dict[str, Any] = field(default_factory=dict)


_current = _Invocation()


def begin(command: str) -> None:
    """A new invocation (workshop.cli, before parsing the command line): no JSON yet."""
    global _current
    _current = _Invocation(command=command)


def record(**values: Any) -> None:
    """Add what the command found to the document's `result` (kept for people too: cheap)."""
    _current.result.update(values)


def requested() -> bool:
    return _current.json


def _start(ctx: typer.Context, value: bool) -> bool:
    """The --json option's callback: divert stdout from here on."""
    if value and not _current.json:
        root = ctx.find_root().command_path
        _current.command = ctx.command_path[len(root) :].strip() or _current.command
        _current.json = True
        _current.stdout = sys.stdout
        sys.stdout = sys.stderr
    return value


def request(command: str) -> None:
    """JSON mode for a command line whose --json was not parsed (a usage error came first)."""
    _current.command = command or _current.command
    if not _current.json:
        _current.json = True
        _current.stdout = sys.stdout
        sys.stdout = sys.stderr


def finish(exit_code: int, error: dict[str, str | None] | None) -> None:
    """Restore stdout and, in JSON mode, write the one document to it."""
    global _current
    done, _current = _current, _Invocation()
    if not done.json:
        return
    out = done.stdout or sys.stdout
    sys.stdout = out
    document = {
        "command": done.command,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "error": error,
        "result": done.result,
    }
    out.write(json.dumps(document, indent=2, default=str) + "\n")
    out.flush()


JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document on stdout ({command, ok, exit_code, error, result}); "
        "human text goes to stderr.",
        callback=_start,
    ),
]
