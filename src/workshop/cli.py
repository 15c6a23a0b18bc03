"""The `workshop` command: one entry point for trainees, operators and CI.

Each sub-command lives in `workshop.commands.<name>` and registers itself with `register(app)`;
heavy imports (azure-ai-ml, mlflow, scikit-learn) happen inside the commands, so `--help` is quick.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from workshop.errors import WorkshopError

app = typer.Typer(
    name="workshop",
    help=(
        "The Azure ML MNIST hands-on: fetch the data, validate and run the job YAMLs under jobs/ "
        "on this machine or on Azure ML, serve and score the model."
    ),
    no_args_is_help=True,
    # Markdown joins a docstring's source lines into paragraphs (rich mode keeps every line break
    # and wraps them oddly); write `<...>` inside backticks, or Markdown drops it as HTML.
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    add_completion=False,
)

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
    """Run the CLI; user errors print one clear message and exit 1, never a traceback."""
    from mnist_trainer.idx import IdxError

    try:
        app()
    except WorkshopError as exc:
        _fail(str(exc), getattr(exc, "exit_code", 1))
    except IdxError as exc:
        # A damaged or truncated MNIST file: `data fetch` checks every file's MD5 and replaces it.
        _fail(f"{exc}\n  fix: run `workshop data fetch --dest {exc.path.parent}`")
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


def _fail(message: str, code: int = 1) -> None:
    # The message is plain text: a `[...]` in a path or value must print as it is.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)
