"""Every step that writes an output folder writes in place, as Azure's mounted outputs need.

On Azure a job's outputs are blob-backed mounts that exist before the step starts: removing the
output folder itself, or renaming a file into or out of it, can fail there
(../shared/notes/azure-facts.md, "Mounted outputs"; Microsoft Learn only describes the mounts,
https://learn.microsoft.com/en-us/azure/machine-learning/how-to-read-write-data-v2, so the rule
is inferred). Locally nothing fails, so each step runs here with its output folders pre-created
(as Azure creates them) while every rmtree, rmdir, rename and replace in the process is recorded:
a call that targets an output folder itself, or a rename whose two ends lie on different sides of
an output folder's boundary, is a violation. A rename inside one output folder (prepare's
`x.partial` -> `x`) stays within the mount and is allowed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mnist_trainer import compare, logreg, prepare, register

from tests.training_support import mlflow_store

pytestmark = pytest.mark.filterwarnings("ignore")


class MountedOutputs:
    """Records every removal or rename that would break a mounted output folder."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.roots: list[Path] = []
        self.violations: list[str] = []
        for module, name in ((os, "rename"), (os, "replace"), (os, "renames")):
            monkeypatch.setattr(module, name, self._rename(getattr(module, name), name))
        for module, name in ((os, "rmdir"), (os, "removedirs"), (shutil, "rmtree")):
            monkeypatch.setattr(module, name, self._remove(getattr(module, name), name))

    def folder(self, path: Path) -> Path:
        """An output folder, created empty as Azure ML creates it before the step starts."""
        path.mkdir(parents=True)
        self.roots.append(path.resolve())
        return path

    def _root_of(self, path: Any, dir_fd: int | None = None) -> Path | None:
        if dir_fd is not None:  # rmtree's fd-relative calls on entries below the top folder
            path = Path(f"/proc/self/fd/{dir_fd}").resolve() / path
        resolved = Path(os.path.abspath(os.fspath(path)))
        return next((r for r in self.roots if resolved == r or r in resolved.parents), None)

    def _is_root(self, path: Any, dir_fd: int | None = None) -> bool:
        root = self._root_of(path, dir_fd)
        return root is not None and Path(os.path.abspath(os.fspath(path))) == root

    def _rename(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            if self._is_root(src) or self._is_root(dst):
                self.violations.append(f"{name}({src}, {dst}) moves an output folder itself")
            elif self._root_of(src) != self._root_of(dst):
                self.violations.append(f"{name}({src}, {dst}) crosses an output folder's boundary")
            return original(src, dst, *args, **kwargs)

        return wrapper

    def _remove(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(path: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("dir_fd") is None and self._is_root(path):
                self.violations.append(f"{name}({path}) removes an output folder itself")
            return original(path, *args, **kwargs)

        return wrapper


@pytest.fixture
def outputs(monkeypatch: pytest.MonkeyPatch) -> Iterator[MountedOutputs]:
    recorder = MountedOutputs(monkeypatch)
    yield recorder
    assert not recorder.violations, "\n".join(recorder.violations)


def test_the_recorder_catches_what_a_mount_refuses(tmp_path: Path) -> None:
    """The checks below prove something only if the recorder sees these three mistakes."""
    with pytest.MonkeyPatch.context() as patch:
        recorder = MountedOutputs(patch)
        out = recorder.folder(tmp_path / "out")
        (tmp_path / "staged").write_text("x")
        os.replace(tmp_path / "staged", out / "file")  # renamed into the mount
        (out / "a").write_text("x")
        os.replace(out / "a", out / "b")  # inside one folder: allowed
        shutil.rmtree(out)  # the output folder itself
        out.mkdir()
        Path(out / "c").write_text("x")
        shutil.move(str(out / "c"), str(tmp_path / "c"))  # renamed out of the mount
    kinds = [v.split("(")[0] + (" crosses" if "crosses" in v else "") for v in recorder.violations]
    # rmtree removes the top folder with os.rmdir: both calls are seen
    assert kinds == ["replace crosses", "rmtree", "rmdir", "rename crosses"], recorder.violations


def test_prepare_writes_in_place(
    synthetic_mnist: Path, tmp_path: Path, outputs: MountedOutputs
) -> None:
    out = outputs.folder(tmp_path / "outputs" / "prepared")
    with mlflow_store(tmp_path):
        assert prepare.main(["--data", str(synthetic_mnist), "--out", str(out)]) == 0
    assert len(list(out.iterdir())) == 4


def test_training_compare_and_register_write_in_place(
    synthetic_mnist: Path, tmp_path: Path, outputs: MountedOutputs
) -> None:
    mounted = tmp_path / "outputs"
    logreg_dir, knn_dir = outputs.folder(mounted / "logreg"), tmp_path / "knn"
    best, report = outputs.folder(mounted / "best"), outputs.folder(mounted / "report")
    registered = outputs.folder(mounted / "registered")
    (best / "stale.txt").write_text("a rerun's old model")  # emptied, the folder kept
    with mlflow_store(tmp_path):
        logreg.main(["--data", str(synthetic_mnist), "--model-dir", str(logreg_dir)])
        logreg.main(
            ["--data", str(synthetic_mnist), "--model-dir", str(knn_dir), "--max-iter", "3"]
        )
        argv = ["--data", str(synthetic_mnist), "--logreg-model", str(logreg_dir)]
        argv += ["--knn-model", str(knn_dir), "--best-model", str(best), "--report", str(report)]
        assert compare.main(argv) == 0
        argv = ["--model", str(best), "--name", "mnist-mounted", "--report", str(report)]
        assert register.main([*argv, "--out", str(registered)]) == 0
    assert (logreg_dir / "MLmodel").is_file() and (best / "MLmodel").is_file()
    assert not (best / "stale.txt").exists()
    assert (report / "comparison.json").is_file() and (registered / "registered.json").is_file()
    assert not list(mounted.glob(".*")), "no staging folder left beside the outputs"
