"""`workshop data fetch` and `workshop data check`: exit codes and what the user reads.

The commands run in-process through `workshop.cli.main` (the console script's entry point, which
turns errors into "error: ... fix: ..." and an ExitCode), plus one real subprocess.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mnist_trainer.idx import FILES

from tests.mnist_fixtures import make_mnist_dir
from workshop import cli
from workshop.errors import ExitCode
from workshop.mnist import PUBLISHED


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `workshop <args>` in-process; return (exit code, stdout, stderr)."""
    argv = sys.argv
    sys.argv = ["workshop", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _wide_plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps long paths at 80 columns otherwise
    monkeypatch.setenv("NO_COLOR", "1")


def test_help_lists_the_data_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "data", "--help")
    assert code == 0
    assert "fetch" in out and "check" in out


def test_check_prints_shapes_and_label_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    make_mnist_dir(tmp_path, n_train=30, n_test=20, seed=5)
    code, out, err = run(capsys, "data", "check", str(tmp_path))
    assert (code, err) == (0, "")
    assert "30 x 784" in out and "20 x 784" in out
    digit_rows = [line for line in out.splitlines() if "digit " in line]
    assert len(digit_rows) == 10
    counts = [[int(cell) for cell in row.split("│")[2:4]] for row in digit_rows]
    assert [sum(c[0] for c in counts), sum(c[1] for c in counts)] == [30, 20]
    assert "not byte-identical to the published MNIST files" in out


def test_check_defaults_to_the_data_cache(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_mnist_dir(tmp_path / "cache", n_train=12, n_test=10)
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path / "cache"))
    code, out, _ = run(capsys, "data", "check")
    assert code == 0 and "12 x 784" in out


def test_check_reports_a_corrupt_file_and_exits_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    make_mnist_dir(tmp_path, n_train=30, n_test=10)
    damaged = tmp_path / FILES["train_images"]
    damaged.write_bytes(damaged.read_bytes()[:-20])
    code, out, err = run(capsys, "data", "check", str(tmp_path))
    assert code == ExitCode.BAD_INPUT and out == ""
    assert err.startswith(f"error: {damaged}: expected a complete gzip stream, found")
    assert "Traceback" not in err


def test_check_of_an_empty_directory_says_how_to_fetch(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "data", "check", str(tmp_path))
    assert code == ExitCode.BAD_INPUT
    assert f"error: {tmp_path} lacks 4 of the 4 MNIST files" in err
    assert f"fix: run `workshop data fetch --dest {tmp_path}`" in err


def test_fetch_verifies_against_the_published_checksums(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Synthetic files are valid IDX but not MNIST: the command must refuse every one of them.
    source = make_mnist_dir(tmp_path / "source")
    dest = tmp_path / "dest"
    code, _, err = run(capsys, "data", "fetch", "--dest", str(dest), "--mirror", str(source))
    assert code == ExitCode.SERVICE_FAILED
    assert err.startswith(f"error: could not fetch 4 of 4 MNIST files into {dest}:")
    for file in PUBLISHED:
        assert f"of the published {file.size} bytes" in err  # checked before the MD5
    assert "fix: point at a local copy" in err and "WORKSHOP_MNIST_MIRROR=" in err
    assert list(dest.iterdir()) == []


def test_fetch_uses_the_environment_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("WORKSHOP_MNIST_MIRROR", str(nowhere))
    code, _, err = run(capsys, "data", "fetch", "--dest", str(tmp_path / "dest"))
    assert code == ExitCode.SERVICE_FAILED
    assert f"- {nowhere}: no such directory" in err


def test_fetch_rejects_an_unsupported_mirror(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "data", "fetch", "--dest", str(tmp_path), "--mirror", "ftp://example.org/"
    )
    assert code == ExitCode.BAD_INPUT
    assert "mirror 'ftp://example.org/' (from --mirror) uses the unsupported scheme 'ftp'" in err


def test_the_console_script_reports_errors_without_a_traceback(tmp_path: Path) -> None:
    make_mnist_dir(tmp_path, n_train=20, n_test=10)
    labels = tmp_path / FILES["test_labels"]
    labels.write_bytes(gzip.compress(b"\x00\x00\x08\x03"))  # an images magic number, no more
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "workshop", "data", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == ExitCode.BAD_INPUT
    assert "error:" in done.stderr and str(labels) in done.stderr
    assert "expected labels (magic 2049), found images (magic 2051)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_fetch_then_check_the_real_files(
    capsys: pytest.CaptureFixture[str], real_mnist_dir: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "mnist"
    code, out, _ = run(
        capsys, "data", "fetch", "--dest", str(dest), "--mirror", str(real_mnist_dir)
    )
    assert code == 0 and out.count(f"downloaded from {real_mnist_dir}") == 4

    code, out, _ = run(capsys, "data", "fetch", "--dest", str(dest), "--mirror", "/nowhere")
    assert code == 0 and out.count("already present, MD5 ok") == 4

    code, out, _ = run(capsys, "data", "check", str(dest))
    assert code == 0
    assert "60000 x 784" in out and "10000 x 784" in out
    assert "byte-identical to the published MNIST files" in out and "not byte" not in out


def test_a_corrupt_file_error_says_how_to_replace_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    make_mnist_dir(tmp_path, n_train=30, n_test=20, seed=5)
    (tmp_path / FILES["test_labels"]).write_bytes(b"not gzip")
    code, _, err = run(capsys, "data", "check", str(tmp_path))
    assert code == ExitCode.BAD_INPUT and "Traceback" not in err
    assert FILES["test_labels"] in err
    assert f"fix: run `workshop data fetch --dest {tmp_path}`" in err
