"""Run every benchmark section on the real MNIST files, print one table, write results.json.

    python -m benchmarks [--data DIR] [--out FILE] [--skip-demo]

--data defaults to the first local directory in WORKSHOP_MNIST_MIRROR, else the data cache.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
from mnist_trainer.idx import FILES, load_mnist

from benchmarks import runs
from benchmarks.demo import demo_phases
from benchmarks.runs import bench_env, prepare_home, run_job
from benchmarks.sections import (
    Section,
    end_to_end,
    knn_sweep,
    logistic_regression,
    original_logreg,
)

RESULTS = Path(__file__).with_name("results.json")


def default_data_dir() -> Path:
    for entry in os.environ.get("WORKSHOP_MNIST_MIRROR", "").split(","):
        entry = entry.strip().removeprefix("file://")
        if entry and Path(entry).is_dir():
            return Path(entry)
    from workshop.paths import data_cache

    return data_cache()


def machine() -> dict[str, object]:
    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _load(avg: tuple[float, float, float]) -> str:
    """`uptime`'s load averages (1, 5, 15 min): other work on the machine skews every figure."""
    return ", ".join(f"{v:.2f}" for v in avg)


def print_table(sections: list[Section], about: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"2019 hands-on vs aml-workshop on {about['cpu']}, {about['cores']} cores")
    table.add_column("")
    table.add_column("original (2019)", justify="right")
    table.add_column("ours", justify="right")
    for section in sections:
        table.add_section()
        table.add_row(f"[bold]{section.title}[/bold]", "", "")
        for row in section.rows:
            table.add_row(*row)
    Console(width=160).print(table)  # one row per line in logs too (not wrapped at 80)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark the 2019 hands-on against ours on real MNIST.",
    )
    parser.add_argument("--data", type=Path, default=None, help="folder with the 4 MNIST files")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file [%(default)s]")
    parser.add_argument("--skip-demo", action="store_true", help="leave out the `make demo` phases")
    args = parser.parse_args(argv)
    data_dir = args.data or default_data_dir()
    missing = [
        name
        for name in FILES.values()
        if not any((data_dir / n).is_file() for n in (name, name.removesuffix(".gz")))
    ]
    if missing:
        print(
            f"error: {data_dir} lacks {', '.join(missing)}\n"
            "  fix: run `workshop data fetch`, or pass --data DIR / set WORKSHOP_MNIST_MIRROR "
            "to a folder with the four MNIST files",
            file=sys.stderr,
        )
        return 1
    data = load_mnist(data_dir)
    runs.LOG = args.out.with_name("runs.log")  # beside the results (ignored by git)
    runs.LOG.unlink(missing_ok=True)
    load_before = os.getloadavg()
    print("running the one-pass kNN and the 2019 per-k loop ...", flush=True)
    knn = knn_sweep(data)  # first, so its peak memory is not the float64 copies of the others
    print("fitting the 2019 LogisticRegression() ...", flush=True)
    original = original_logreg(data)
    with tempfile.TemporaryDirectory(prefix="workshop-bench-") as tmp:
        home = Path(tmp)
        env = bench_env(data_dir, home)
        print("one-time set-up (MLflow store, environment) ...", flush=True)
        setup = prepare_home(home, env)
        print("workshop run jobs/train-knn.yml ...", flush=True)
        knn_run = run_job("train-knn.yml", env)
        print("workshop run jobs/train-logreg.yml ...", flush=True)
        logreg_run = run_job("train-logreg.yml", env)
        sections = [
            knn,
            logistic_regression(original, logreg_run[1]),
            end_to_end(knn, original, knn_run, logreg_run, setup, data),
        ]
        if not args.skip_demo:
            print("running the demo (workshop demo, after the runs above) ...", flush=True)
            sections.append(demo_phases(env, home))
    about = {**machine(), "load_before": _load(load_before), "load_after": _load(os.getloadavg())}
    print_table(sections, about)
    results = {"machine": about, **{s.key: s.figures for s in sections}}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
