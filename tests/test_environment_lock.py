"""The cloud environment builds, is fully pinned, and is versioned by its content.

Checked against the real resolver (uv, for Linux x86_64 and the conda file's Python, the way Azure
ML's image build runs pip) and azure-ai-ml's own loader, not against a list we keep by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from azure.ai.ml import load_environment
from mnist_trainer.common import MODEL_REQUIREMENTS
from packaging.markers import Marker
from packaging.requirements import Requirement

from workshop.jobspec import envlock
from workshop.jobspec.conda import (
    LINUX,
    ResolveError,
    compile_requirements,
    normalise,
    read_conda_file,
    resolve_conda_file,
)
from workshop.paths import JOBS_DIR, ROOT

ENV = yaml.safe_load((JOBS_DIR / "environment.yml").read_text())
CONDA = read_conda_file(JOBS_DIR / ENV["conda_file"])
LINUX_311 = {"sys_platform": "linux", "platform_system": "Linux", "python_full_version": "3.11.7"}


def lock_pins() -> dict[str, dict[str, str]]:
    """`name -> {marker or '': version}` from requirements/lock.txt."""
    pins: dict[str, dict[str, str]] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)\s*(?:;\s*(.*))?$", line)
        if match:
            pins.setdefault(normalise(match[1]), {})[match[3] or ""] = match[2]
    return pins


def test_the_conda_file_was_generated_from_the_current_requirements() -> None:
    header = CONDA.path.read_text().splitlines()[0]
    assert header == envlock.GENERATED.format(digest=envlock.requirements_digest()), (
        "jobs/environment/requirements.in changed since conda.yml was generated: run `make lock`"
    )


def test_every_pip_entry_is_pinned_and_satisfies_the_direct_requirements() -> None:
    pins = CONDA.pins()
    assert len(pins) == len(CONDA.pip), [e for e in CONDA.pip if "==" not in e]
    for line in envlock.direct_requirements():
        req = Requirement(line)
        name = normalise(req.name)
        assert name in pins, f"conda.yml does not pin {name} (requirements.in asks for it)"
        assert req.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_the_pinned_environment_resolves_to_itself_for_azure_linux() -> None:
    """The real resolver, as Azure's image build: nothing missing, nothing conflicting."""
    resolved = compile_requirements(CONDA.pip, python=CONDA.python or "", source="conda.yml")
    pairs = (line.split("==", 1) for line in resolved)
    assert {normalise(name): version for name, version in pairs} == CONDA.pins()


def test_the_conflict_the_first_build_shipped_is_refused_by_the_resolver(tmp_path: Path) -> None:
    conda = tmp_path / "conda.yml"
    conda.write_text(
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
        "      - mlflow==3.17.2\n      - azureml-mlflow==1.62.0.post6\n"
    )
    with pytest.raises(ResolveError) as raised:
        resolve_conda_file(read_conda_file(conda))
    assert str(conda) in str(raised.value)
    assert "mlflow-skinny" in raised.value.detail


def test_the_conda_file_names_the_projects_python() -> None:
    assert CONDA.python == "3.11"
    assert LINUX.startswith("x86_64-manylinux")


def test_a_saved_models_packages_have_the_same_version_locally_on_every_platform() -> None:
    lock, conda = lock_pins(), CONDA.pins()
    for name in MODEL_REQUIREMENTS:
        assert lock[normalise(name)] == {"": conda[normalise(name)]}, (
            f"requirements/lock.txt and jobs/environment/conda.yml disagree on {name}: `make lock`"
        )


def test_the_environments_direct_requirements_have_its_versions_in_the_tool() -> None:
    lock, conda = lock_pins(), CONDA.pins()
    direct = {normalise(Requirement(line).name) for line in envlock.direct_requirements()}
    shared = direct & set(lock)
    assert {"numpy", "scikit-learn", "mlflow", "skops", "azureml-inference-server-http"} <= shared
    for name in shared:
        assert lock[name] == {"": conda[name]}, (name, lock[name], conda[name])


def test_the_tool_lock_installs_on_linux_with_one_version_of_each_package() -> None:
    for name, versions in lock_pins().items():
        linux = {m: v for m, v in versions.items() if not m or Marker(m).evaluate(LINUX_311)}
        assert len(set(linux.values())) <= 1, (name, versions)


def test_the_image_is_a_dated_tag() -> None:
    image = ENV["image"]
    assert not image.endswith(":latest") and re.search(r":\d{8}\.v\d+$", image), image


def test_the_environment_version_is_its_content_digest_and_every_reference_uses_it() -> None:
    assert ENV["version"] == envlock.content_version()
    loaded = load_environment(JOBS_DIR / "environment.yml")  # the SDK accepts the version form
    assert loaded.version == ENV["version"]
    refs = envlock.environment_references(ENV["name"])
    seen = 0
    for root in envlock.REFERENCE_ROOTS:
        for path in root.rglob("*.yml"):
            for match in refs.finditer(path.read_text()):
                seen += 1
                assert match[2] == ENV["version"], f"{path}: {match[0]} (`make lock` rewrites it)"
    assert seen >= 10


def test_a_changed_definition_gets_a_new_version(tmp_path: Path) -> None:
    (tmp_path / "env").mkdir()
    conda = tmp_path / "env" / "conda.yml"
    conda.write_text("dependencies: [python=3.11]\n")
    spec = tmp_path / "environment.yml"
    spec.write_text("name: e\nversion: '1'\nimage: i:1\nconda_file: env/conda.yml\n")
    first = envlock.content_version(spec)
    spec.write_text("name: e\nversion: 'other'\nimage: i:1\nconda_file: env/conda.yml\n")
    assert envlock.content_version(spec) == first, "the version itself is not content"
    conda.write_text("dependencies: [python=3.12]\n")
    assert envlock.content_version(spec) != first
