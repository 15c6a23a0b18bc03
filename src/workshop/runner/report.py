"""How a local run is shown: a table of every run, trial and step, and the `--json` document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from workshop.paths import runs_dir
from workshop.runner.records import RunRecord
from workshop.runner.tracking import ui_command

STYLE = {"FINISHED": "green", "FAILED": "red", "KILLED": "yellow", "SKIPPED": "dim"}


def table(record: RunRecord) -> Table:
    out = Table(title=f"{record.kind} {record.name}: {record.status}", title_justify="left")
    for column in ("run", "status", "seconds", "metrics", "params / note"):
        out.add_column(column)

    best_names = {r.best for r in _walk(record) if r.best}

    def add(item: RunRecord, depth: int) -> None:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(item.metrics.items())[:6])
        note = item.error or ", ".join(f"{k}={v}" for k, v in item.params.items())
        marker = " (best)" if depth and item.name in best_names else ""
        style = STYLE.get(item.status, "")
        out.add_row(
            "  " * depth + item.name + marker,
            f"[{style}]{item.status}[/]" if style else item.status,
            f"{item.seconds:.1f}",
            metrics,
            note.strip(),
        )
        for child in item.children:
            add(child, depth + 1)

    add(record, 0)
    return out


def _walk(record: RunRecord) -> list[RunRecord]:
    return [record, *(r for child in record.children for r in _walk(child))]


def print_report(record: RunRecord, console: Console) -> None:
    console.print(table(record))
    for name, path in record.outputs.items():
        try:
            empty = Path(path).is_dir() and not any(Path(path).iterdir())
            missing = not Path(path).exists()  # a uri_file output its command did not write
        except OSError:  # unreadable: say nothing about it rather than fail the report
            empty = missing = False
        note = (
            " (empty: the job wrote nothing there)"
            if empty
            else " (not written: the job made no such file)"
            if missing
            else ""
        )
        console.print(f"output {name}: {path}{note}", highlight=False, soft_wrap=True)
    if record.folder and Path(record.folder).exists():  # none if stopped before anything ran
        console.print(f"run folder: {record.folder}", highlight=False, soft_wrap=True)
    if (runs_dir() / "mlflow.db").exists():
        console.print(f"see every run: {ui_command()}", highlight=False, soft_wrap=True)


def json_result(record: RunRecord) -> dict[str, Any]:
    """What `workshop run --json` reports as its result: the record, its experiment, the UI."""
    data: dict[str, Any] = {"job_type": record.kind, "experiment": record.experiment}
    data.update(record.to_dict())
    data["mlflow_ui"] = ui_command()
    return data
