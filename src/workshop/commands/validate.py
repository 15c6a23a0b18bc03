"""`workshop validate`: check the job YAMLs offline before Azure (or `workshop run`) sees them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from workshop import json_report
from workshop.errors import WorkshopError
from workshop.json_report import JsonFlag
from workshop.paths import JOBS_DIR

if TYPE_CHECKING:
    from workshop.validate.findings import Report


def register(app: typer.Typer) -> None:
    app.command(name="validate")(validate)


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="YAML files or folders to check (folders recursively). Default: jobs/.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Do not resolve conda files against the package index (a note says so).",
        ),
    ] = False,
    references: Annotated[
        bool | None,
        typer.Option(
            "--references/--no-references",
            help="Check `azureml:` names against what this repository creates. Default: for "
            "files inside this checkout only.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Validate Azure ML job, component, schedule, endpoint, environment and data YAMLs offline.

    Each file is loaded with the matching azure-ai-ml loader and the SDK's own validation (no
    credentials, no network), then checked for what the SDK misses offline: undeclared
    ${{inputs.X}}/${{outputs.Y}}/${{search_space.K}} bindings, grid search spaces that are not all
    `choice`, ${{parent...}} bindings to steps/outputs that do not exist, pipeline node inputs the
    component does not declare, search spaces outside the trial's inputs, step cycles, values of
    the wrong type for an input, a sweep objective the training code never logs, missing local
    files, code folders holding tests, secrets or data sets, conda files that do not parse or
    resolve, and `azureml:` names this repository does not create. Any error exits BAD_INPUT;
    warnings and notes alone exit 0 (exit codes: `workshop --help`).
    """
    targets = paths or [JOBS_DIR]
    missing = [p for p in targets if not p.exists()]
    if missing:
        raise WorkshopError(
            f"no such file or folder: {', '.join(str(p) for p in missing)}",
            hint="give YAML files or folders that exist, or no argument for jobs/",
        )
    from rich.progress import Progress

    from workshop.validate import validate as run_validation

    console = Console()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("loading azure-ai-ml", total=None)

        def step(path: Path) -> None:
            progress.update(task, description=f"checking {path.name}")

        report = run_validation(targets, progress=step, offline=offline, references=references)

    if not report.files:
        raise WorkshopError(
            f"no YAML files in {', '.join(str(p) for p in targets)}",
            hint="give the folder that holds the job YAMLs (jobs/) or the files themselves",
        )

    json_report.record(**report.to_dict())
    _print(console, report)
    if not report.ok:
        raise WorkshopError(
            f"{len(report.errors)} error(s) in {len(report.files)} file(s)",
            hint="fix each error listed above (its key and fix are given), then validate again",
        )


def _print(console: Console, report: Report) -> None:
    """One finding per entry (file: key: problem, then the fix): greppable, never wrapped."""
    rank = {"error": 0, "warning": 1, "note": 2}
    for f in sorted(report.findings, key=lambda f: (rank[f.severity], f.display_file, f.key)):
        style = {"error": "bold red", "warning": "yellow"}.get(f.severity, "cyan")
        console.print(f"[{style}]{f.severity}[/]: ", end="", highlight=False)
        console.print(
            f"{f.display_file}: {f.key}: {f.message}\n  fix: {f.fix}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    verdict = "[bold red]failed[/]" if report.errors else "[bold green]ok[/]"
    console.print(
        f"{verdict}: {len(report.files)} file(s), {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s), {len(report.notes)} note(s)"
    )
