"""Warm `workshop run`s read azure-ai-ml's load from a content-keyed cache, never a stale one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.paths import JOBS_DIR
from workshop.runner import binding, loadcache
from workshop.runner.snapshot import snapshot_files

FIXTURES = Path(__file__).parent / "fixtures" / "runner"
JOB_YAMLS = sorted(
    [*(JOBS_DIR.glob("*.yml")), *(FIXTURES.glob("*.yml"))],
    key=lambda p: (p.parent.name, p.name),
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("WORKSHOP_HOME", str(home))
    return home


def _entries(home: Path) -> list[Path]:
    return sorted((home / "cache" / "jobs").glob("*.json"))


@pytest.mark.parametrize("path", JOB_YAMLS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_cached_load_equals_the_sdk_load(
    path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        first = binding.load(path, {})  # a miss: the SDK's load, stored
    except WorkshopError:  # not a job, or one the SDK refuses: never stored
        assert _entries(home) == []
        return
    assert len(_entries(home)) == 1
    fresh = binding.load_with_sdk(path, {})

    def no_sdk(*args: object) -> None:
        raise AssertionError("a warm load called the SDK")

    monkeypatch.setattr(binding, "_load_job", no_sdk)
    cached = binding.load(path, {})  # a hit
    for job in (first, cached):
        assert job.spec == fresh.spec
        assert job.experiment == fresh.experiment
        assert job.conda_paths == fresh.conda_paths
        assert job.path == fresh.path


def test_overrides_are_part_of_the_key(home: Path) -> None:
    four = binding.load(FIXTURES / "sweep.yml", {"limits.max_total_trials": 4})
    two = binding.load(FIXTURES / "sweep.yml", {"limits.max_total_trials": 2})
    assert (four.spec["limits"]["max_total_trials"], two.spec["limits"]["max_total_trials"]) == (
        4,
        2,
    )
    assert binding.load(FIXTURES / "sweep.yml", {"limits.max_total_trials": 4}).spec == four.spec
    assert len(_entries(home)) == 2


def _inline_job(folder: Path) -> Path:
    (folder / "components").mkdir(parents=True)
    (folder / "components" / "step.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\n"
        "type: command\nname: step\ninputs:\n  x:\n    type: integer\n    default: 1\n"
        "command: echo ${{inputs.x}}\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\n"
        "  conda_file: ../conda.yml\n"
    )
    (folder / "conda.yml").write_text("dependencies:\n  - python=3.11\n  - pip\n  - pip: []\n")
    job = folder / "pipeline.yml"
    job.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        "type: pipeline\nexperiment_name: cache-tests\n"
        "jobs:\n  only:\n    type: command\n    component: ./components/step.yml\n"
    )
    return job


def test_editing_a_referenced_component_or_conda_file_invalidates(tmp_path: Path) -> None:
    job = _inline_job(tmp_path / "job")
    first = binding.load(job, {})
    component = first.spec["jobs"]["only"]["component"]
    assert component["inputs"]["x"]["default"] == "1"
    assert list(first.conda_paths.values()) == [tmp_path / "job" / "conda.yml"]

    step = tmp_path / "job" / "components" / "step.yml"
    step.write_text(step.read_text().replace("default: 1", "default: 2"))
    second = binding.load(job, {})
    assert second.spec["jobs"]["only"]["component"]["inputs"]["x"]["default"] == "2"
    assert second.spec == binding.load_with_sdk(job, {}).spec

    conda = tmp_path / "job" / "conda.yml"
    conda.write_text(conda.read_text().replace("pip: []", "pip: [six]"))
    third = binding.load(job, {})
    environment = third.spec["jobs"]["only"]["component"]["environment"]
    assert environment["conda_file"]["dependencies"][-1] == {"pip": ["six"]}
    assert third.spec == binding.load_with_sdk(job, {}).spec


def test_a_corrupt_cache_entry_is_ignored_and_replaced(home: Path) -> None:
    fresh = binding.load(FIXTURES / "command.yml", {})
    [entry] = _entries(home)
    for garbage in ("{not json", json.dumps({"format": loadcache.FORMAT, "spec": []}), ""):
        entry.write_text(garbage)
        assert binding.load(FIXTURES / "command.yml", {}).spec == fresh.spec
        assert json.loads(entry.read_text())["spec"] == fresh.spec  # written again
    entry.unlink()
    entry.mkdir()  # unreadable as a file
    assert binding.load(FIXTURES / "command.yml", {}).spec == fresh.spec


def test_a_code_folder_file_list_follows_new_files_and_ignore_rules(tmp_path: Path) -> None:
    from workshop.jobspec.upload import upload_files

    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "a.py").write_text("")
    assert snapshot_files(code) == ["pkg/a.py"]
    (code / "pkg" / "b.py").write_text("")
    (code / "notes.txt").write_text("")
    assert snapshot_files(code) == ["notes.txt", "pkg/a.py", "pkg/b.py"]
    (code / ".amlignore").write_text("*.txt\n")
    assert snapshot_files(code) == [rel for _, rel in upload_files(code)]
    assert "notes.txt" not in snapshot_files(code)
    (code / ".amlignore").write_text("pkg/b.py\n")
    assert snapshot_files(code) == [".amlignore", "notes.txt", "pkg/a.py"]


_PROBE = """
import json, sys
from pathlib import Path
from workshop.runner import run_job
record = run_job(Path(sys.argv[1]))
heavy = sorted({m.split(".")[0] + "." + m.split(".")[1] if m.startswith("azure.") else m
                for m in sys.modules if m.startswith(("azure.ai.ml", "mlflow", "sqlalchemy"))})
print(json.dumps({"status": record.status, "heavy": heavy[:5], "metrics": record.metrics}))
"""


def test_a_warm_run_imports_neither_azure_ai_ml_nor_mlflow(home: Path) -> None:
    env = {**os.environ, "WORKSHOP_HOME": str(home)}

    def run() -> dict:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(FIXTURES / "command.yml")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    cold = run()
    assert cold["status"] == "FINISHED" and cold["heavy"]  # the first run loads both
    warm = run()
    assert warm["status"] == "FINISHED"
    assert warm["heavy"] == []
    assert warm["metrics"] == cold["metrics"] == {"accuracy": pytest.approx(0.9)}


def test_a_big_file_a_yaml_names_counts_by_size_and_time(tmp_path: Path) -> None:
    """Data an input names is not read whole on every run; replacing it still changes the key."""
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (loadcache.MAX_HASHED + 1))
    job = tmp_path / "job.yml"
    job.write_text(
        "type: command\ncommand: ls\ninputs:\n  data:\n    type: uri_file\n    path: big.bin\n"
    )
    first = loadcache.key(job, {})
    assert first is not None and loadcache.key(job, {}) == first
    big.write_bytes(b"\1" * (loadcache.MAX_HASHED + 2))
    assert loadcache.key(job, {}) != first
