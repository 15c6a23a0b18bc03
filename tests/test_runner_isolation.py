"""A local job is as isolated as on Azure: its own environment, its own copy of the code.

Each test would fail on the runner before issue 11: jobs ran with the tool's `.venv` first on PATH
(`pip install` rewrote it), inside the source folder (files landed in the repository, trials
collided), and a job without `code:` or with an image environment did not run at all.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import zipfile
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.paths import env_cache
from workshop.runner import RunOptions, run_job
from workshop.runner.command import THREAD_VARIABLES
from workshop.runner.venv import site_packages

FIXTURES = Path(__file__).parent / "fixtures" / "runner"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def tiny_wheel(folder: Path) -> Path:
    """A pure-Python wheel pip can install offline (no build step, no index)."""
    path = folder / "tinypkg-0.1-py3-none-any.whl"
    info = "tinypkg-0.1.dist-info"
    files = {
        "tinypkg/__init__.py": "VALUE = 1\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


def source_files() -> dict[str, bytes]:
    folder = FIXTURES / "code"
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("environment", ["azureml:small:1", "azureml:imageonly:1"])
def test_pip_install_in_a_job_changes_neither_the_tool_nor_the_source(
    home: Path, tmp_path: Path, environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = source_files()
    overrides = {"inputs.wheel.path": str(tiny_wheel(tmp_path)), "environment": environment}
    record = run_job(FIXTURES / "install.yml", RunOptions(overrides=overrides))
    log = (Path(record.folder or "") / "user_logs" / "std_log.txt").read_text()
    assert record.status == "FINISHED", log
    assert "imported" in log  # the job could import what it installed...
    # ...but the tool's environment (this test's interpreter) has no trace of it
    assert importlib.util.find_spec("tinypkg") is None
    assert not (Path(sys.prefix) / "written-by-job").exists()
    layer = Path(record.folder or "") / "environment"
    assert (layer / "written-by-job").is_file()  # sys.prefix in the job was its own layer
    assert any((p / "tinypkg").is_dir() for p in site_packages(layer))
    # the cached environment stays as built, for the next job
    for built in env_cache().iterdir():
        assert not any((p / "tinypkg").exists() for p in site_packages(built))
        assert not (built / "written-by-job").exists()
    # the job wrote into its working directory: a copy, not the repository's folder
    assert (Path(record.folder or "") / "code" / "made-here.txt").read_text() == "made\n"
    assert source_files() == before
    notes = [line for line in capsys.readouterr().err.splitlines() if "scratch environment" in line]
    if environment == "azureml:imageonly:1":
        assert len(notes) == 1, notes  # one line says what was substituted
        assert "python:3.11-slim" in notes[0] and "{" not in notes[0]
    else:
        assert notes == []


@pytest.mark.timeout(300)
def test_a_job_without_code_runs_in_an_empty_folder(home: Path) -> None:
    record = run_job(FIXTURES / "hello.yml")
    log = (Path(record.folder or "") / "user_logs" / "std_log.txt").read_text()
    assert record.status == "FINISHED", log
    assert log.splitlines() == ["hello world", "0"]


WRITES_INTO_ITS_INPUT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
experiment_name: runner-tests
command: echo changed >> ${{{{inputs.data}}}}/a.txt; touch ${{{{inputs.data}}}}/new.txt; true
inputs:
  data:
    type: uri_folder
    path: ./data{mode}
environment:
  image: python:3.11-slim
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("mode", "reaches_source"),
    [("", False), ("ro_mount", False), ("download", False), ("direct", True)],
    ids=["default", "ro_mount", "download", "direct"],
)
def test_a_job_writing_into_its_input_changes_the_source_only_in_direct_mode(
    home: Path,
    tmp_path: Path,
    mode: str,
    reaches_source: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Azure mounts an input read-only (ro_mount, the default) or downloads it; here the job gets
    a copy with its write permission cleared, so even a job run as root changes only the copy.
    A `download` copy is the job's own, writable, as a node's downloaded files; `direct` hands
    the job the location itself, on Azure as here."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("original\n")
    job = tmp_path / "job.yml"
    job.write_text(WRITES_INTO_ITS_INPUT.format(mode=f"\n    mode: {mode}" if mode else ""))
    record = run_job(job)
    assert record.status == "FINISHED", record.error
    changed = (data / "a.txt").read_text() != "original\n" or (data / "new.txt").exists()
    assert changed is reaches_source
    assert not (Path(record.folder or "") / "inputs").exists()  # the copies go with the run
    said = capsys.readouterr().err.replace("\n", "")
    warned = mode in ("", "ro_mount") and os.geteuid() == 0  # otherwise the write fails
    assert ("wrote into inputs.data" in said) is warned
    assert ("-> copy " in said) is (mode == "download")
    assert ("-> read-only copy " in said) is (mode in ("", "ro_mount"))


WRITES_INTO_UPSTREAM_OUTPUT = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
jobs:
  make:
    type: command
    command: echo original > ${{{{outputs.out}}}}/a.txt
    environment:
      image: python:3.11-slim
    outputs:
      out:
        type: uri_folder
  change:
    type: command
    command: >-
      echo changed >> ${{{{inputs.data}}}}/a.txt; touch ${{{{inputs.data}}}}/new.txt;
      touch ${{{{outputs.done}}}}/done
    environment:
      image: python:3.11-slim
    inputs:
      data:
        type: uri_folder
        path: ${{{{parent.jobs.make.outputs.out}}}}{mode}
    outputs:
      done:
        type: uri_folder
  read:
    type: command
    command: >-
      ls ${{{{inputs.data}}}} > ${{{{outputs.seen}}}}/seen.txt;
      cat ${{{{inputs.data}}}}/a.txt >> ${{{{outputs.seen}}}}/seen.txt
    environment:
      image: python:3.11-slim
    inputs:
      data: ${{{{parent.jobs.make.outputs.out}}}}
      after: ${{{{parent.jobs.change.outputs.done}}}}
    outputs:
      seen:
        type: uri_folder
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("mode", "reaches_source"), [("", False), ("direct", True)])
def test_a_step_writing_into_another_steps_output_changes_it_only_in_direct_mode(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    reaches_source: bool,
) -> None:
    """A step's output read by a later step is an input like any other: mounted read-only on
    Azure unless `direct`, so each step that reads it gets a copy of its own: what one writes
    there reaches neither the output nor the next step that reads it."""
    job = tmp_path / "pipeline.yml"
    given_mode = f"\n        mode: {mode}" if mode else ""
    job.write_text(WRITES_INTO_UPSTREAM_OUTPUT.format(mode=given_mode))
    record = run_job(job)
    assert record.status == "FINISHED", [(c.name, c.error) for c in record.children]
    steps = {c.name: c for c in record.children}
    made = Path(steps["make"].outputs["out"])
    changed = (made / "a.txt").read_text() != "original\n" or (made / "new.txt").exists()
    assert changed is reaches_source
    seen = (Path(steps["read"].outputs["seen"]) / "seen.txt").read_text()
    expected = "a.txt\nnew.txt\noriginal\nchanged\n" if reaches_source else "a.txt\noriginal\n"
    assert seen == expected
    said = capsys.readouterr().err.replace("\n", "")
    wrote_its_copy = not reaches_source and os.geteuid() == 0  # otherwise the write fails
    assert ("change wrote into inputs.data" in said) is wrote_its_copy
    assert not (Path(record.folder or "") / "inputs").exists()


def test_each_reader_gets_a_read_only_copy_made_at_its_start_and_removed_at_its_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import stat

    from workshop.runner.mounts import Mounts

    source = tmp_path / "data"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a")
    mounts = Mounts(tmp_path / "run")
    first, second = mounts.view(source, None), mounts.view(source, "ro_mount")
    assert first != second  # one per step or trial, as Azure mounts the input on each node
    assert mounts.view(source, "direct") == source
    assert not first.exists()  # made when its reader starts
    assert mounts.attach([str(first), "3", str(source)], "trial-00") == [str(first)]
    said = capsys.readouterr().err.replace("\n", "")  # one line, maybe wrapped by the console
    assert said.count("read-only copy") == 1 and str(source) in said and str(first) in said
    assert "trial-00" in said
    for path in [first, first / "sub", first / "sub" / "a.txt"]:
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    assert (first / "sub" / "a.txt").read_text() == "a"
    assert not second.exists()

    mounts.detach([str(first)], "trial-00", {str(first): "inputs.data"})
    assert not first.exists() and "wrote" not in capsys.readouterr().err
    mounts.attach([str(second)], "trial-01")
    os.chmod(second / "sub", stat.S_IRWXU)  # what a job run as root can do without asking
    (second / "sub" / "b.txt").write_text("b")
    mounts.detach([str(second)], "trial-01", {str(second): "inputs.data"})
    warned = capsys.readouterr().err.replace("\n", "")
    assert "trial-01 wrote into inputs.data" in warned and str(source) in warned
    assert not second.exists()
    assert sorted(p.name for p in source.rglob("*")) == ["a.txt", "sub"]  # the source untouched
    mounts.attach([str(mounts.view(source, None))], "trial-02")
    mounts.remove()  # what an interrupted run leaves
    assert not (tmp_path / "run" / "inputs").exists()
    assert (source / "sub" / "a.txt").stat().st_mode & stat.S_IWUSR  # the source keeps its mode


@pytest.mark.timeout(300)
def test_what_a_job_leaves_running_goes_with_it(home: Path, tmp_path: Path) -> None:
    """On Azure the container goes with the job's main process; here its process group does."""
    from tests.test_runner_interrupt import alive

    pid_file = tmp_path / "background.pid"
    record = run_job(
        FIXTURES / "background.yml", RunOptions(overrides={"inputs.pid_file": str(pid_file)})
    )
    assert record.status == "FINISHED", record.error
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10  # SIGKILL is sent before run_job returns; reaping is async
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid), "the job's background process outlived it"


@pytest.mark.timeout(300)
def test_the_callers_python_settings_do_not_reach_the_job(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's MPLBACKEND named matplotlib-inline, which the job's environment lacks."""
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", str(home))
    record = run_job(FIXTURES / "caller-env.yml")
    log = (Path(record.folder or "") / "user_logs" / "std_log.txt").read_text()
    assert record.status == "FINISHED", log
    assert log.splitlines() == ["[|]"]


@pytest.mark.timeout(300)
def test_two_trials_writing_the_same_relative_path_both_succeed(home: Path) -> None:
    record = run_job(FIXTURES / "same-path.yml")
    assert [trial.status for trial in record.children] == ["FINISHED", "FINISHED"], [
        trial.error for trial in record.children
    ]
    values = sorted((Path(t.outputs["out"]) / "x").read_text() for t in record.children)
    assert values == ["1\n", "2\n"]
    assert not (FIXTURES / "code" / "model").exists()
    # Two at a time: each its half of the machine's cores for BLAS/OpenMP (on one core, BLAS's
    # own default of one thread, so nothing is set), unless the caller's shell says otherwise.
    cores = os.cpu_count() or 1
    expected = "unset" if cores < 2 else str(cores // 2)
    if any(name in os.environ for name in THREAD_VARIABLES):  # the shell's choice stands whole
        expected = os.environ.get("OMP_NUM_THREADS", "unset")
    threads = {(Path(t.outputs["out"]) / "threads").read_text().strip() for t in record.children}
    assert threads == {expected}


@pytest.mark.timeout(300)
def test_a_job_that_sets_its_own_thread_count_gets_none_of_the_runners(home: Path) -> None:
    """OpenBLAS reads OPENBLAS_NUM_THREADS before OMP_NUM_THREADS: adding ours would override."""
    record = run_job(FIXTURES / "own-threads.yml")
    assert [trial.status for trial in record.children] == ["FINISHED", "FINISHED"]
    for trial in record.children:
        out = Path(trial.outputs["out"])
        assert (out / "openblas").read_text().strip() == "3"
        assert (out / "omp").read_text().strip() == os.environ.get("OMP_NUM_THREADS", "unset")


@pytest.mark.timeout(300)
def test_an_environment_whose_pins_conflict_fails_before_the_job(home: Path) -> None:
    with pytest.raises(WorkshopError) as info:
        run_job(
            FIXTURES / "install.yml", RunOptions(overrides={"environment": "azureml:conflict:1"})
        )
    message = str(info.value)
    assert str(FIXTURES / "environments" / "conflict.yml") in message  # the file to fix
    assert "No solution found" in message and "numpy==1.19.0" in message  # uv's own words
    assert "make lock" not in message  # this repository's lock is not the fix for a foreign file
    assert not (home / "runs").exists()  # no job started
    assert not [p for p in env_cache().iterdir() if p.name.startswith(".building")]


def test_a_conda_file_asking_for_a_python_this_machine_lacks_says_so(tmp_path: Path) -> None:
    from workshop.jobspec.conda import read_conda_file
    from workshop.runner.venv import find_interpreter

    (tmp_path / "conda.yml").write_text("dependencies:\n  - python=3.4\n  - pip\n")
    with pytest.raises(WorkshopError, match=r"asks for Python 3\.4, and this machine has no"):
        find_interpreter(read_conda_file(tmp_path / "conda.yml").python, tmp_path / "conda.yml")


@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        ("azureml://registries/azureml/environments/sklearn-1.5/labels/latest", "registry"),
        ("azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest", "defined in the workspace"),
        ({"image": "python:3.11-slim", "name": "CliV2AnonymousEnvironment"}, "image alone"),
    ],
)
def test_environments_that_cannot_be_built_here_are_substituted(environment, reason) -> None:
    from workshop.runner.binding import Assets
    from workshop.runner.environment import describe, plan

    found = plan(environment, Assets(FIXTURES), {}, "job.yml")
    assert found.conda is None and reason in (found.reason or "")
    assert "{" not in describe(environment)


def test_output_names_that_would_leave_the_run_folder_are_refused(
    home: Path, tmp_path: Path
) -> None:
    job = tmp_path / "escape.yml"
    job.write_text(
        (FIXTURES / "hello.yml").read_text()
        + 'outputs:\n  "../../../escaped":\n    type: uri_folder\n'
    )
    (tmp_path / "env-image.yml").write_text((FIXTURES / "env-image.yml").read_text())
    with pytest.raises(WorkshopError, match=r"output name '\.\./\.\./\.\./escaped' is not an"):
        run_job(job)
    assert not (tmp_path / "escaped").exists() and not (home / "runs").exists()


def test_a_binding_to_a_step_that_does_not_exist_is_one_message_not_a_traceback(home: Path) -> None:
    with pytest.raises(WorkshopError) as info:
        run_job(FIXTURES / "pipeline-typo.yml")
    assert "parent.jobs.prepx.outputs.prepped" in str(info.value)
    assert "workshop validate" in str(info.value)
    assert not (home / "runs").exists()
