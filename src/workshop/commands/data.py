"""`workshop data`: get the four MNIST files into the local cache, and check a copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workshop import json_report, paths
from workshop.json_report import JsonFlag

data_app = typer.Typer(
    help=(
        "Get the MNIST files and check them. Downloads are verified against the published MD5s "
        "and written atomically, so the cache never holds a partial or wrong file."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",  # as the main app (workshop.cli): paragraphs, not source lines
)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command()
def fetch(
    dest: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Directory to fill. Default: data/mnist in the checkout (or $WORKSHOP_DATA_DIR).",
            show_default=False,
        ),
    ] = None,
    mirror: Annotated[
        list[str] | None,
        typer.Option(
            "--mirror",
            metavar="URL|DIR",
            help=(
                "Where to download from, tried in the order given (repeatable): an http(s) URL "
                "prefix, a file:// URL or a directory. Replaces $WORKSHOP_MNIST_MIRROR "
                "(comma-separated) and the built-in mirrors (Azure Open Datasets, PyTorch CI S3, "
                "Google CVDF, yann.lecun.com)."
            ),
            show_default=False,
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar (only when stderr is a terminal).")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Download the four MNIST files, skipping those already present and valid.

    Each file is tried on every mirror in turn, and verified against its published MD5.

    Timeouts, dropped connections and HTTP 5xx/429 are retried with backoff.

    If a file cannot be had from any mirror, every mirror's reason is listed and the exit code is
    SERVICE_FAILED (exit codes: `workshop --help`).
    """
    from workshop.mnist import fetch_files

    target = dest if dest is not None else paths.data_cache()
    json_report.record(dest=str(target))
    results = fetch_files(target, mirror or None, progress=progress)
    json_report.record(
        files=[
            {
                "name": r.file.name,
                "path": str(r.path),
                "status": "present"
                if r.source is None
                else ("replaced" if r.replaced else "downloaded"),
                "source": r.source,
            }
            for r in results
        ]
    )
    console = Console()
    for result in results:
        if result.source is None:
            status = "already present, MD5 ok"
        else:
            status = f"{'replaced' if result.replaced else 'downloaded'} from {result.source}"
        console.print(f"{result.file.name}  [green]{status}[/]", highlight=False)
    console.print(f"MNIST is ready in {target}", highlight=False)


@data_app.command()
def check(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="DIR",
            help="Directory with the four files. Default: the data cache (data/mnist).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Load the four MNIST files and print their shapes and label counts.

    A truncated, corrupt or wrong-kind file is named, with what was expected and what was found.
    """
    from workshop.mnist import check_mnist

    result = check_mnist(directory if directory is not None else paths.data_cache())
    json_report.record(
        directory=str(result.directory),
        published=result.published,
        **{
            name: {
                "images": list(split.images),
                "labels": list(split.labels),
                "label_counts": list(split.label_counts),
            }
            for name, split in (("train", result.train), ("test", result.test))
        },
    )
    table = Table(title=f"MNIST in {result.directory}")
    table.add_column("")
    table.add_column("train", justify="right")
    table.add_column("test", justify="right")
    train, test = result.train, result.test
    table.add_row("images", _shape(train.images), _shape(test.images))
    table.add_row("labels", _shape(train.labels), _shape(test.labels))
    for digit, (n_train, n_test) in enumerate(
        zip(train.label_counts, test.label_counts, strict=True)
    ):
        table.add_row(f"digit {digit}", str(n_train), str(n_test))
    console = Console()
    console.print(table)
    if result.published:
        console.print("All four files are byte-identical to the published MNIST files.")
    else:
        console.print(
            "[yellow]The files load, but are not byte-identical to the published MNIST files[/] "
            "(a raw copy, another dataset or test data).",
            highlight=False,
        )


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))
