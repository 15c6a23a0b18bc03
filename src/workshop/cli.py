"""The `workshop` command: one entry point for trainees, operators and CI.

Each sub-command lives in `workshop.commands.<name>` and registers itself with `register(app)`;
heavy imports (azure-ai-ml, mlflow, scikit-learn) happen inside the commands, so `--help` is quick.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from workshop.errors import WorkshopError

app = typer.Typer(
    name="workshop",
    help=(
        "The Azure ML MNIST hands-on: fetch the data, validate and run the job YAMLs under jobs/ "
        "on this machine or on Azure ML, serve and score the model."
    ),
    no_args_is_help=True,
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
    except (WorkshopError, IdxError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
