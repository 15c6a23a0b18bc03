"""The one error type users see, and the exit codes every command ends with.

`ExitCode` is the one table of exit codes: the commands raise with its members, `workshop --help`
and README.md's "Exit codes" table are rendered from it (tests/test_cli_ops.py checks the README).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """How a `workshop` command ended; CI branches on these numbers."""

    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    CHECK_FAILED = 3
    JOB_FAILED = 4
    SERVICE_FAILED = 5
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "done: the checks passed, the job completed (`validate`: warnings and notes only)",
    ExitCode.ERROR: "an unexpected error (a bug: rerun with `--debug` for the traceback)",
    ExitCode.BAD_INPUT: "bad input or configuration: an option, a file, a job YAML (also "
    "`validate` finding an error), a stack setting, a config.json; the message names the fix "
    "(command-line usage errors exit 2 too)",
    ExitCode.CHECK_FAILED: "a cloud check failed: a `preflight` check, the `smoke` accuracy below "
    "`--min-accuracy` or not logged",
    ExitCode.JOB_FAILED: "a job ended without success: `run`, `submit --wait`, `warmup`, `smoke`",
    ExitCode.SERVICE_FAILED: "Azure, an endpoint or a download refused or could not be reached: "
    "sign-in, permission, a missing resource, the network, no MNIST mirror with a valid file",
    ExitCode.INTERRUPTED: "interrupted: Ctrl-C, SIGTERM or SIGHUP (child processes stopped, "
    "local runs marked KILLED)",
}


def exit_code_table() -> str:
    """The Markdown table of exit codes that README.md quotes and `workshop --help` shows."""
    rows = [f"| {code.value} | `{code.name}` | {code.meaning} |" for code in ExitCode]
    return "\n".join(["| code | name | meaning |", "|---|---|---|", *rows])


class WorkshopError(Exception):
    """An error the user can act on; the CLI prints its message (no traceback) and exits with
    `exit_code` (bad input unless the raiser says otherwise)."""

    def __init__(
        self, message: str, *, hint: str | None = None, exit_code: int = ExitCode.BAD_INPUT
    ) -> None:
        self.hint = hint
        self.exit_code = exit_code
        super().__init__(message)

    @property
    def message(self) -> str:
        return super().__str__()

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message
