"""The `workshop` command: one entry point for trainees, operators and CI.

Each sub-command lives in `workshop.commands.<name>` and registers itself with `register(app)`;
heavy imports (azure-ai-ml, mlflow, scikit-learn) happen inside the commands, so `--help` is quick.

How a command ends is decided here, once: `_outcome` maps what it raised to an exit code (from
`workshop.errors.ExitCode`) and an error; `_Group.invoke` writes the `--json` document from it
(workshop.json_report), `main` the one-line message (or, with --debug, the traceback).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer import _click  # typer's own click (typer.Exit and its usage errors live there)
from typer.core import TyperGroup

from workshop import json_report
from workshop.errors import ExitCode, WorkshopError, exit_code_table
from workshop_common import errors as common_errors

DISTRIBUTION = "aml-workshop"  # pyproject.toml's [project] name: the version's one source
DEBUG_HINT = "rerun with `workshop --debug ...` for the whole error and its traceback"


class _Group(TyperGroup):
    """The root command: every sub-command's outcome goes through `_outcome`."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        ctx.meta["workshop.args"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: _click.Context) -> Any:
        from mnist_trainer.idx import IdxError

        args: list[str] = ctx.meta.get("workshop.args", [])
        command = _command_name(self, ctx, args)
        json_report.begin(command)
        try:
            try:
                returned = super().invoke(ctx)
            except IdxError as exc:
                # A damaged or truncated MNIST file: `data fetch` checks every MD5 and replaces it.
                raise WorkshopError(
                    str(exc), hint=f"run `workshop data fetch --dest {exc.path.parent}`"
                ) from exc
        except BaseException as exc:
            code, error = _outcome(exc)
            if isinstance(exc, _click.exceptions.ClickException) and "--json" in args:
                json_report.request(command)  # refused before --json was parsed
            if isinstance(exc, KeyboardInterrupt | typer.Abort):
                err_console.print("[yellow]interrupted[/]")
            json_report.finish(code, error)
            raise
        json_report.finish(ExitCode.OK, None)
        return returned


def _command_name(group: TyperGroup, ctx: _click.Context, args: list[str]) -> str:
    """`data fetch` from `--debug data fetch --dest x`: the words that name (sub-)commands."""
    words: list[str] = []
    command: _click.Command = group
    for arg in args:
        if arg.startswith("-"):
            continue
        sub = command.get_command(ctx, arg) if isinstance(command, TyperGroup) else None
        if sub is None:
            break
        words.append(arg)
        command = sub
    return " ".join(words)


def _outcome(exc: BaseException) -> tuple[int, dict[str, str | None] | None]:
    """The exit code a command ends with after raising `exc`, and the error it reports."""
    if isinstance(exc, WorkshopError):
        return exc.exit_code, {"message": exc.message, "fix": exc.hint}
    if isinstance(exc, typer.Exit):
        code = exc.exit_code
        return code, None if code == 0 else {"message": f"exit code {code}", "fix": None}
    if isinstance(exc, _click.exceptions.ClickException):  # usage: a bad option, a missing argument
        return exc.exit_code, {"message": exc.format_message(), "fix": "see --help"}
    if isinstance(exc, KeyboardInterrupt | typer.Abort):
        return ExitCode.INTERRUPTED, {"message": "interrupted", "fix": None}
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        return code, None if code == 0 else {"message": f"exit code {code}", "fix": None}
    return ExitCode.ERROR, {
        "message": f"unexpected {type(exc).__name__}: {common_errors.first_line(exc)}",
        "fix": DEBUG_HINT,
    }


def _print_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"workshop {version(DISTRIBUTION)}")
        except PackageNotFoundError:
            typer.echo(f"workshop: {DISTRIBUTION} is not installed (run `make setup`)", err=True)
            raise typer.Exit(ExitCode.ERROR) from None
        raise typer.Exit()


def _set_debug(value: bool) -> bool:
    common_errors.show_full_errors(value)
    return value


app = typer.Typer(
    name="workshop",
    cls=_Group,
    help=(
        "The Azure ML MNIST hands-on: fetch the data, validate and run the job YAMLs under jobs/ "
        "on this machine or on Azure ML, serve and score the model."
    ),
    epilog=f"**Exit codes** (the same for every command):\n\n{exit_code_table()}",
    no_args_is_help=True,
    # Markdown joins a docstring's source lines into paragraphs (rich mode keeps every line break
    # and wraps them oddly); write `<...>` inside backticks, or Markdown drops it as HTML.
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version of workshop and exit.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="WORKSHOP_DEBUG",
            callback=_set_debug,
            help="On an error, show the whole error (the SDK's full message) and its traceback "
            "instead of one line.",
        ),
    ] = False,
) -> None:
    """Options for every command (put them before the command: `workshop --debug submit ...`)."""


# Sub-command modules, in the order `workshop --help` lists them.
COMMAND_MODULES: list[str] = [
    "data",
    "cloud",
    "validate",
    "run",
    "serve",
    "demo",
    "handout",
    "notebooks",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"workshop.commands.{_name}").register(app)

err_console = Console(stderr=True)


def main() -> None:
    """Run the CLI: an error is one message with its fix and a distinct exit code (ExitCode),
    never a traceback, unless --debug asks for one."""
    try:
        app()
    except WorkshopError as exc:
        _traceback(exc)
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:
        _traceback(exc)
        code, error = _outcome(exc)
        assert error is not None
        _fail(f"{error['message']}\n  fix: {error['fix']}", code)
    finally:
        common_errors.show_full_errors(False)


def _traceback(exc: BaseException) -> None:
    """With --debug: the exception and the ones it came from (the SDK's), whole."""
    if common_errors.full_errors():
        traceback.print_exception(exc, file=sys.stderr)


def _fail(message: str, code: int) -> None:
    # The message is plain text: a `[...]` in a path or value must print as it is.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)
