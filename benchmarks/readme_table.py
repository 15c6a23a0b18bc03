"""The README's performance table, rendered from benchmarks/results.json.

    python -m benchmarks.readme_table

tests/test_readme.py fails when README.md shows other figures than results.json holds, so the
README always quotes the last `make bench` run and the machine it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.__main__ import RESULTS


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def render_table(results_file: Path = RESULTS) -> str:
    results = json.loads(results_file.read_text())
    m, knn, lr = results["machine"], results["knn"], results["logreg"]
    o, s = lr["original"], lr["ours"]
    rows = [
        f"Measured {m['date'][:10]} on {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"numpy {m['numpy']}, scikit-learn {m['scikit-learn']} (one `make bench` run):",
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
    rows += [
        f"| logistic regression: fit time | {o['fit_seconds']:.1f} s | {s['fit_seconds']:.1f} s |",
        f"| logistic regression: iterations | {o['n_iter']} (max_iter {o['params']['max_iter']}) "
        f"| {s['n_iter']} (tol {s['params']['tol']:g}) |",
        f"| logistic regression: converged | {_yes(o['converged'])} | {_yes(s['converged'])} |",
        f"| logistic regression: test accuracy | {o['accuracy']:.4f} | {s['accuracy']:.4f} |",
    ]
    demo = results.get("demo")
    if demo:
        phases = ", ".join(
            f"{name} {sec:.0f} s" for name, sec in demo["timings"].items() if name != "total"
        )
        rows.append(
            f"| `make demo`, full MNIST: total | | {demo['timings']['total']:.0f} s "
            f"(budget {demo['budget_seconds']} s: {_yes(demo['within_budget'])}) |"
        )
        rows.append(f"| `make demo`: phases | | {phases} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(render_table())
