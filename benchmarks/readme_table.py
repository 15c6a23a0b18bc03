"""The README's performance table, rendered from benchmarks/results.json.

    python -m benchmarks.readme_table

tests/test_readme.py fails when README.md shows other figures than results.json holds, so the
README always quotes the last `make bench` run and the machine it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import RESULTS
from workshop.commands.demo import BACKGROUND_JOB


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def render_table(results_file: Path = RESULTS) -> str:
    results = json.loads(results_file.read_text())
    m, knn, lr = results["machine"], results["knn"], results["logreg"]
    o, s = lr["original"], lr["ours"]
    load = (
        f"; load average {m['load_before']} before, {m['load_after']} after"
        if "load_before" in m
        else ""
    )
    rows = [
        f"Measured {m['date'][:10]} on {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"numpy {m['numpy']}, scikit-learn {m['scikit-learn']} (one `make bench` run{load}):",
        "",
        "| | 2019 hands-on | aml-workshop |",
        "|---|---|---|",
        f"| kNN, k = 1, 3, …, 13: wall time | {knn['original_seconds']:.1f} s "
        f"| {knn['ours_seconds']:.1f} s (**{knn['speedup']:.1f}x**) |",
        f"| kNN: every prediction identical | | {_yes(knn['identical_predictions'])} |",
        f"| kNN: peak memory (process RSS) | | {knn['ours_peak_rss_mib']} MiB |",
    ]
    for k, v in knn["per_k"].items():
        rows.append(
            f"| kNN accuracy, k={k} | {v['accuracy_original']:.4f} | {v['accuracy_ours']:.4f} |"
        )
    threads = s["params"].get("threads")
    rows += [
        f"| logistic regression: fit time | {o['fit_seconds']:.1f} s | {s['fit_seconds']:.1f} s"
        + (f" ({threads} thread) |" if threads else " |"),
        f"| logistic regression: iterations | {o['n_iter']} (max_iter {o['params']['max_iter']}) "
        f"| {s['n_iter']} (tol {s['params']['tol']:g}) |",
        f"| logistic regression: converged | {_yes(o['converged'])} | {_yes(s['converged'])} |",
        f"| logistic regression: test accuracy | {o['accuracy']:.4f} | {s['accuracy']:.4f} |",
    ]
    runs = results.get("runs")

    def runner(run: dict) -> str:
        """The part of the overhead that is the runner's own (the rest is the script's set-up)."""
        own = run.get("runner_seconds")
        return "" if own is None else f", of which the runner {own:.1f} s"

    if runs:
        rk, rl, setup = runs["knn"], runs["logreg"], runs["setup"]
        env = setup["environment_build_seconds"]
        rows += [
            f"| `workshop run jobs/train-knn.yml`, end to end | {knn['original_seconds']:.1f} s "
            f"(per-k loop) | {rk['seconds']:.1f} s (**{rk['speedup_vs_2019_loop']:.1f}x**; "
            f"search {rk['compute_seconds']:.1f} s + overhead {rk['overhead_seconds']:.1f} s"
            f"{runner(rk)}) |",
            f"| `workshop run jobs/train-knn.yml`: saved model predicts as the 2019 code "
            f"(k={rk['best_k']}) | | {_yes(rk['saved_model_mismatches_vs_2019'] == 0)}, "
            f"{rk['saved_model_mb']:.0f} MB |",
            f"| `workshop run jobs/train-logreg.yml`, end to end | {o['fit_seconds']:.1f} s "
            f"(fit alone) | {rl['seconds']:.1f} s (**{rl['ratio_to_2019_fit']:.2f}x**; "
            f"fit {rl['compute_seconds']:.1f} s + overhead {rl['overhead_seconds']:.1f} s"
            f"{runner(rl)}) |",
            f"| one-time: MLflow store, first load of each job, environment build | | "
            f"{setup['mlflow_store_seconds']:.1f} s, "
            + (f"{setup['first_load_seconds']:.1f} s, " if "first_load_seconds" in setup else "")
            + ("n/a (jobs run in the tool's virtualenv)" if env is None else f"{env:.1f} s")
            + " |",
        ]
    demo = results.get("demo")
    if demo:
        phases = ", ".join(
            f"{name} {sec:.0f} s" for name, sec in demo["timings"].items() if name != "total"
        )
        whole = demo.get("process_seconds", demo["timings"]["total"])
        rows.append(
            f"| `make demo`, full MNIST: the whole command | | {whole:.1f} s "
            f"(budget {demo['budget_seconds']} s: {_yes(demo['within_budget'])}) |"
        )
        beside = Path(BACKGROUND_JOB).stem
        rows.append(
            f"| `make demo`: phases ({beside}: its own time, beside the sweep) | | {phases}; "
            f"total {demo['timings']['total']:.0f} s (the rest: the tool's start and the summary) |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(render_table())
