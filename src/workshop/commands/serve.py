"""`workshop serve` and `workshop score`: the online endpoint on this machine, and a client."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from workshop import json_report
from workshop.json_report import JsonFlag

console = Console()


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)
    app.command(name="score")(score)


def serve(
    model: Annotated[
        Path, typer.Option("--model", help="An MLflow model folder, e.g. a job's `model` output.")
    ],
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")
    ] = 5001,
) -> None:
    """Serve the scoring script with Azure ML's inference server, on 127.0.0.1 only.

    The same score.py and server as the managed deployment (jobs/deployment.yml): GET / is the
    health probe, POST /score takes {"data": [...]}. Ctrl-C, SIGTERM or SIGHUP stops it; a port
    already in use is refused; if the server stops by itself, its exit code is passed on.
    """
    from workshop import local_endpoint

    with local_endpoint.serving(model, port) as (url, server):
        console.print(
            f"[green]ready[/]: POST {url}/score (health: GET {url}/); "
            f"try `workshop score --url {url} --sample 10`; Ctrl-C stops it",
            highlight=False,
            soft_wrap=True,
        )
        returncode = server.wait()
    raise local_endpoint.ServerExited(
        returncode,
        f"the inference server stopped by itself with exit code {returncode}",
        hint="read its log above",
    )


def score(
    url: Annotated[
        str, typer.Option("--url", help="The endpoint, e.g. http://127.0.0.1:5001 (/score added).")
    ],
    sample: Annotated[
        int | None, typer.Option("--sample", help="Send N random test digits from the data cache.")
    ] = None,
    image: Annotated[
        Path | None, typer.Option("--image", help="Send a PNG of one handwritten digit.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which test digits --sample picks.")] = 0,
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="WORKSHOP_ENDPOINT_KEY", help="Endpoint key (managed)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send digits to an endpoint and print its predictions beside the true labels."""
    from workshop.errors import WorkshopError

    if (sample is None) == (image is None):
        raise WorkshopError("give exactly one of --sample N or --image PNG")
    if sample is not None:
        accuracy = score_sample(url, sample, seed=seed, key=key)
        console.print(f"accuracy on the sample: {accuracy:.1%}")
    else:
        assert image is not None
        score_image(url, image, key=key)


def score_sample(url: str, n: int, *, seed: int = 0, key: str | None = None) -> float:
    """Score n random test digits, print them as a table; returns the accuracy.

    Sent in requests of at most score.py's default batch limit, so any n up to the test set's
    size gets an answer (a server started with a lower WORKSHOP_MAX_BATCH names its limit)."""
    import numpy as np
    from mnist_trainer import score as score_script
    from mnist_trainer.idx import load_mnist

    from workshop import local_endpoint
    from workshop.errors import WorkshopError
    from workshop.mnist.check import require_files
    from workshop.paths import data_cache

    if n < 1:
        raise WorkshopError(f"--sample {n}: give at least 1")
    require_files(data_cache())
    mnist = load_mnist(data_cache())
    if n > len(mnist.y_test):
        raise WorkshopError(
            f"--sample {n}: the test set has {len(mnist.y_test)} digits",
            hint=f"give at most {len(mnist.y_test)}",
        )
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(mnist.y_test), size=n, replace=False)
    answer: dict[str, list] = {"predictions": [], "probabilities": []}
    batch = score_script.DEFAULT_MAX_BATCH
    for start in range(0, n, batch):
        part = local_endpoint.score(url, mnist.x_test[picks[start : start + batch]], key=key)
        for name, values in answer.items():
            values.extend(part[name])
    table = Table(title=f"{len(picks)} test digits scored by {local_endpoint.score_url(url)}")
    for column in ("test index", "true", "predicted", "probability", ""):
        table.add_column(column)
    right = 0
    digits: list[dict[str, int | float]] = []
    for index, predicted, probs in zip(
        picks, answer["predictions"], answer["probabilities"], strict=True
    ):
        truth = int(mnist.y_test[index])
        right += predicted == truth
        mark = "[green]✓[/]" if predicted == truth else "[red]✗[/]"
        table.add_row(str(index), str(truth), str(predicted), f"{max(probs):.3f}", mark)
        digits.append(
            {"index": int(index), "label": truth, "predicted": int(predicted), "p": max(probs)}
        )
    console.print(table)
    json_report.record(
        url=local_endpoint.score_url(url), digits=digits, accuracy=right / len(picks)
    )
    return right / len(picks)


def score_image(url: str, image: Path, *, key: str | None = None) -> int:
    """Score one PNG digit, print the prediction and the top probabilities; returns the digit."""
    from workshop import local_endpoint

    pixels = local_endpoint.png_to_pixels(image)
    answer = local_endpoint.score(url, pixels.reshape(1, 784), key=key)
    predicted = int(answer["predictions"][0])
    ranked = sorted(
        zip(answer["classes"], answer["probabilities"][0], strict=True), key=lambda cp: -cp[1]
    )
    top = ", ".join(f"{c}: {p:.3f}" for c, p in ranked[:3])
    json_report.record(
        url=local_endpoint.score_url(url),
        image=str(image),
        predicted=predicted,
        top={str(c): p for c, p in ranked[:3]},
    )
    console.print(f"{image}: predicted [bold]{predicted}[/] (top: {top})", highlight=False)
    return predicted
