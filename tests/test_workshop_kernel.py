"""The compute instance creation script builds a kernel that runs the notebooks.

The script is run here exactly as the stack hands it to Azure
(workshop_common.kernel.creation_script, inline), in a scratch HOME, with the local Python 3.11
(WORKSHOP_PYTHON: no interpreter download) and uv with the shared package cache. What it builds is
then used as Jupyter would use it: the kernel spec's interpreter runs the notebooks' own first cells
and imports what they import.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from workshop.notebook_upload import bundle_files
from workshop.paths import ROOT
from workshop_common import kernel

NOTEBOOK = ROOT / "notebooks" / "01-explore-and-train-locally.ipynb"
UV = Path(sys.executable).with_name("uv")


def _first_cells(count: int) -> str:
    """The first `count` code cells of notebook 01 (kernel check, mode, set-up), as one script."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    return "\n\n".join(c.source for c in cells[:count])


def _clean_env(home: Path) -> dict[str, str]:
    """This process's environment without what would leak into the build: another venv, a
    Jupyter path, the compute instance's user (which would make the script switch users)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    keep.pop("CI_LOCAL_UBUNTU_USER", None)
    keep.pop("PYTHONPATH", None)
    return {**keep, "HOME": str(home)}


def test_the_script_defaults_match_the_stack_and_the_makefile() -> None:
    script = kernel.SCRIPT.read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    # both take uv's version from the lock, with the same sed expression's effect
    assert "sed -n 's/^uv==//p' requirements/lock.txt" in makefile
    assert "UV_VERSION=$(sed -n 's/^uv==" in script
    assert f"WORKSHOP_KERNEL_NAME:-{kernel.KERNEL_NAME}}}" in script
    assert f"WORKSHOP_KERNEL_DISPLAY_NAME:-{kernel.KERNEL_DISPLAY_NAME}}}" in script
    metadata = nbformat.read(NOTEBOOK, as_version=4).metadata["kernelspec"]
    assert (metadata["name"], metadata["display_name"]) == (
        kernel.KERNEL_NAME,
        kernel.KERNEL_DISPLAY_NAME,
    )
    assert kernel.KERNEL_DISPLAY_NAME in _first_cells(1)
    uploaded = {relative for _, relative in bundle_files()}
    assert {"notebooks/workshop-kernel.sh", "requirements/lock.txt"} <= uploaded


@pytest.mark.timeout(900)
def test_the_creation_script_builds_a_kernel_that_runs_the_notebooks(tmp_path: Path) -> None:
    python = shutil.which("python3.11", path=str(Path(sys.base_prefix) / "bin"))
    if python is None or not UV.is_file():
        pytest.skip("needs a local python3.11 and the venv's uv")
    cache = subprocess.run([str(UV), "cache", "dir"], capture_output=True, text=True, check=True)
    home = tmp_path / "home"
    home.mkdir()
    inline = tmp_path / "creation.sh"
    inline.write_bytes(base64.b64decode(kernel.creation_script_data()))
    env = {
        **_clean_env(home),
        "WORKSHOP_PYTHON": python,
        "WORKSHOP_UV": str(UV),
        "UV_CACHE_DIR": cache.stdout.strip(),  # the shared cache: no downloads, hard links
        "UV_PYTHON_DOWNLOADS": "never",
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(inline)], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"kernel '{kernel.KERNEL_DISPLAY_NAME}' is ready" in done.stdout

    spec_file = home / ".local/share/jupyter/kernels" / kernel.KERNEL_NAME / "kernel.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    assert spec["display_name"] == kernel.KERNEL_DISPLAY_NAME and spec["language"] == "python"
    interpreter = Path(spec["argv"][0])
    assert interpreter.is_relative_to(home / ".venvs" / kernel.KERNEL_NAME)
    assert "ipykernel_launcher" in spec["argv"] and "{connection_file}" in spec["argv"]
    assert list(tmp_path.glob("aml-workshop-kernel.*")) == []  # the inline script cleans up

    # Exactly the lock: every pinned package at its pinned version, nothing else.
    frozen = subprocess.run(
        [str(UV), "pip", "freeze", "--python", str(interpreter)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # the lock is universal: the lines whose markers hold on this machine are what gets installed
    lines = kernel.LOCK.read_text(encoding="utf-8").splitlines()
    requirements = [Requirement(line) for line in lines if line and line[0] not in " #"]
    locked = [
        f"{r.name}{r.specifier}" for r in requirements if r.marker is None or r.marker.evaluate()
    ]
    normal = {re.sub(r"[-_.]+", "-", t.lower()) for t in locked}
    assert {re.sub(r"[-_.]+", "-", t.lower()) for t in frozen} == normal

    # The notebook's own kernel check, mode and set-up cells, then what the notebooks import.
    program = _first_cells(3) + (
        "\nimport mlflow, sklearn, workshop, mnist_trainer"
        "\nfrom workshop import notebook_support"
        "\nfrom mnist_trainer import idx"
        "\nprint('imports OK', sys.version_info[:2], workshop.__file__)"
    )
    ran = subprocess.run(
        [str(interpreter), "-c", program],
        env={**env, "HOME": str(home)},
        cwd=ROOT / "notebooks",
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "kernel OK: Python 3.11" in ran.stdout and "imports OK (3, 11)" in ran.stdout
    assert str(ROOT / "src" / "workshop") in ran.stdout


def test_the_first_cell_says_clearly_when_the_wrong_kernel_runs(tmp_path: Path) -> None:
    """A Python without the pinned packages (the system one, isolated) stops at the first cell."""
    python = shutil.which("python3.11", path=str(Path(sys.base_prefix) / "bin")) or sys.executable
    ran = subprocess.run(
        [python, "-I", "-S", "-c", _first_cells(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode != 0
    message = ran.stderr.strip().splitlines()[-1]
    assert message.startswith("RuntimeError: wrong kernel")
    assert f"Pick the kernel '{kernel.KERNEL_DISPLAY_NAME}'" in message
    assert "without numpy, scikit-learn" in message
    assert "bash notebooks/workshop-kernel.sh" in message


def test_the_set_up_cell_says_when_the_kernel_differs_from_the_lock(tmp_path: Path) -> None:
    root = tmp_path / "aml-workshop"
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "train-knn.yml").write_text("")
    (root / "requirements").mkdir()
    lock = kernel.LOCK.read_text(encoding="utf-8")
    (root / "requirements" / "lock.txt").write_text(
        re.sub(r"^scikit-learn==\S+", "scikit-learn==0.0.1", lock, flags=re.M)
    )
    ran = subprocess.run(
        [sys.executable, "-c", _first_cells(3)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode != 0
    assert "differ from requirements/lock.txt: scikit-learn" in ran.stderr
    assert "(lock: 0.0.1)" in ran.stderr and "workshop-kernel.sh" in ran.stderr
