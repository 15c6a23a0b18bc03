"""Our walk of a code folder must send exactly what azure-ai-ml's own upload would send."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.ai.ml._utils._asset_utils import get_ignore_file, get_upload_files_from_folder

from workshop.jobspec.upload import ignore_rules_file, upload_files


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _sdk(folder: Path) -> set[str]:
    sent = get_upload_files_from_folder(folder, ignore_file=get_ignore_file(folder))
    return {remote for _, remote in sent}


CASES = {
    "amlignore with a negation": {
        ".amlignore": "*.csv\n!keep.csv\n__pycache__/\n",
        "train.py": "",
        "keep.csv": "a",
        "big.csv": "b",
        "pkg/__pycache__/x.pyc": "",
        "pkg/mod.py": "",
    },
    "gitignore when there is no amlignore": {
        ".gitignore": "data/\n*.log\n",
        "train.py": "",
        "data/x.bin": "",
        "run.log": "",
    },
    "amlignore wins over gitignore": {
        ".amlignore": "*.log\n",
        ".gitignore": "*.py\n",
        "train.py": "",
        "run.log": "",
    },
    "no ignore file": {"train.py": "", "sub/a.txt": ""},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_same_files_as_the_sdk_upload(tmp_path: Path, name: str) -> None:
    folder = _tree(tmp_path / "code", CASES[name])
    ours = {rel for _, rel in upload_files(folder)}
    assert ours == _sdk(folder)
    assert ours, "every case uploads something"


def test_negation_keeps_a_file_that_a_wider_pattern_drops(tmp_path: Path) -> None:
    folder = _tree(tmp_path / "code", CASES["amlignore with a negation"])
    ours = {rel for _, rel in upload_files(folder)}
    assert "keep.csv" in ours and "big.csv" not in ours
    assert ignore_rules_file(folder) == folder.resolve() / ".amlignore"


def test_the_repositorys_training_folder_ships_no_caches() -> None:
    from workshop.paths import ROOT

    sent = {rel for _, rel in upload_files(ROOT / "src" / "training")}
    assert "mnist_trainer/knn.py" in sent
    assert not any("__pycache__" in rel for rel in sent)
