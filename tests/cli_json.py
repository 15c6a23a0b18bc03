"""Run `workshop ... --json` through the real entry point and check the one document it prints."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from workshop.json_report import ENVELOPE


def run_json(
    capsys: pytest.CaptureFixture[str],
    *args: str,
    result_keys: frozenset[str] | set[str] = frozenset(),
) -> tuple[int, dict[str, Any], str]:
    """`workshop ARGS --json`: (exit code, the document, stderr). Fails the test unless stdout is
    exactly one JSON document with the envelope keys, agreeing with the exit code, and its
    result has `result_keys`."""
    from rich.console import Console

    from workshop.cli import main
    from workshop.commands import cloud

    old, old_console = sys.argv, cloud.console
    sys.argv = ["workshop", *args, "--json"]
    cloud.console = Console(width=200)  # no wrapping: assertions see whole lines
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv, cloud.console = old, old_console
    out, err = capsys.readouterr()
    document = json.loads(out)  # raises unless stdout is one JSON document and nothing else
    assert tuple(document) == ENVELOPE, document
    assert document["exit_code"] == code and document["ok"] is (code == 0), (document, err)
    if code:
        assert document["error"]["message"], document
    else:
        assert document["error"] is None
    assert result_keys <= set(document["result"]), document["result"]
    return code, document, err
