"""Hostile input stays bounded: an alias bomb and `code: /` end in a clear error, no traceback.

Each case runs the real command in a subprocess whose address space is capped with
`resource.setrlimit(RLIMIT_AS)`: before the guard, the 1 KB bomb drove `validate` to 5.7 GB and
`run` to a MemoryError traceback, and `code: ../..` walked 5 GB.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from tests.memory_cap import run_capped
from workshop.errors import ExitCode
from workshop.jobspec.yamlread import MAX_NODES, SpecReadError, expanded_size, read_mapping

CAP = 1536 * 2**20  # bytes of address space: azure-ai-ml imported needs well under this
JOB = (
    "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
    "command: python train.py\n"
    "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
)


def bomb(levels: int = 9) -> str:
    """Nine levels of `&x [*w, *w, ...]`: 9**9 (387 million) strings once expanded."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * 9)}]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def capped(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_capped([sys.executable, "-m", "workshop", *args], CAP, cwd=cwd, timeout=600)


def test_the_bomb_is_small_and_would_expand() -> None:
    assert len(bomb().encode()) < 1024
    import yaml

    node = yaml.compose(bomb())
    assert node is not None and expanded_size(node) > MAX_NODES


@pytest.mark.parametrize("command", [["validate", "--offline"], ["run"]])
def test_alias_bomb_is_refused_under_a_memory_cap(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(JOB + bomb())
    done = capped(*command, str(path), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.BAD_INPUT, output
    assert "alias bomb" in output and "bomb.yml" in output
    assert "Traceback" not in output and "MemoryError" not in output


def test_recursive_alias_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "self.yml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(SpecReadError, match="alias"):
        read_mapping(path)
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecReadError):
        read_mapping(path)


def test_a_plain_anchor_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yml"
    path.write_text("base: &b {type: string, default: x}\ninputs: {a: *b, c: *b}\n")
    assert read_mapping(path)["inputs"]["c"] == {"type": "string", "default": "x"}


def test_code_root_and_far_parent_stop_at_the_limit(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "root.yml").write_text(JOB + "code: /\n")
    (deep / "up.yml").write_text(JOB + "code: ../../../..\n")
    done = capped("validate", "--offline", "root.yml", "up.yml", cwd=deep)
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.BAD_INPUT, output
    assert "root.yml: code: `/` is over" in output
    assert "Traceback" not in output and "PermissionError" not in output


def test_unreadable_path_in_a_code_folder_is_a_finding(tmp_path: Path) -> None:
    from workshop.validate import validate

    code = tmp_path / "src"
    code.mkdir()
    (code / "train.py").write_text("print('hi')\n")
    (code / "gone.csv").symlink_to(tmp_path / "nowhere.csv")  # listed, cannot be read
    (tmp_path / "job.yml").write_text(JOB + "code: ./src\n")
    report = validate([tmp_path / "job.yml"], offline=True)
    [finding] = report.errors
    assert finding.check == "code-folder" and "gone.csv" in finding.message
