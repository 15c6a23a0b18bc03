"""`workshop handout`: a folder per trainee (config.json, README.md, index.html) from a stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from workshop import json_report
from workshop.errors import WorkshopError
from workshop.json_report import JsonFlag


def register(app: typer.Typer) -> None:
    app.command(name="handout", rich_help_panel="Azure")(handout)


def handout(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the handouts into.")],
    stack: Annotated[
        str | None, typer.Option("--stack", help="Read the outputs of this Pulumi stack.")
    ] = None,
    outputs: Annotated[
        Path | None,
        typer.Option("--outputs", help="Or a file saved with `pulumi stack output --json`."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            help="ja or en; default: the stack's handoutLanguage setting (ja without --stack).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write each trainee's handout: config.json and a page with links, data, compute, commands.

    Nothing secret is written: trainees sign in with their own account (`az login`).
    """
    from workshop.handout import (
        handouts_from_outputs,
        read_outputs_file,
        stack_language,
        write_handouts,
    )

    if (stack is None) == (outputs is None):
        raise WorkshopError(
            "give exactly one of --stack NAME or --outputs FILE",
            hint="workshop handout --stack dev --out handouts/",
        )
    data: Any
    if stack is not None:
        from workshop.azure.stack import stack_outputs

        data = stack_outputs(
            stack,
            without_pulumi="save the outputs where Pulumi runs (`pulumi stack output --json > "
            "outputs.json`) and pass --outputs outputs.json",
        )
        source = f"stack {stack}"
    else:
        assert outputs is not None
        data, source = read_outputs_file(outputs), str(outputs)
    if language is None and stack is not None:
        language = stack_language(stack)
    folders = write_handouts(handouts_from_outputs(data, source, language), out)
    json_report.record(source=source, out=str(out), folders=[str(f) for f in folders])
    console = Console()
    for folder in folders:
        console.print(f"  {folder}")
    console.print(f"[green]{len(folders)} handouts in {out}[/]")
