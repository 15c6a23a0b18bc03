"""A model trained on a laptop must load in the cloud: the conda file pins what the lock pins."""

from __future__ import annotations

import re

import yaml

from workshop.paths import JOBS_DIR, ROOT

SHARED = (
    "numpy",
    "scikit-learn",
    "mlflow",
    "skops",
    "matplotlib",
    "azureml-inference-server-http",
)


def pins_from_lock() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def pins_from_conda() -> dict[str, str]:
    conda = yaml.safe_load((JOBS_DIR / "environment" / "conda.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins: dict[str, str] = {}
    for spec in pip:
        name, sep, version = spec.partition("==")
        assert sep, f"jobs/environment/conda.yml: pip entry {spec!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def test_conda_pins_equal_the_lock() -> None:
    lock, conda = pins_from_lock(), pins_from_conda()
    for name in SHARED:
        assert name in lock, f"requirements/lock.txt does not pin {name}"
        assert conda.get(name) == lock[name], (
            f"jobs/environment/conda.yml pins {name}=={conda.get(name)}, "
            f"requirements/lock.txt pins {lock[name]}: make them equal"
        )


def test_conda_python_matches_the_project() -> None:
    conda = yaml.safe_load((JOBS_DIR / "environment" / "conda.yml").read_text())
    assert "python=3.11" in conda["dependencies"]


def test_what_a_saved_model_needs_is_pinned_alike_here_and_in_the_cloud() -> None:
    from mnist_trainer.common import MODEL_REQUIREMENTS

    assert set(MODEL_REQUIREMENTS) <= set(SHARED)
