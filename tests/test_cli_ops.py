"""The CLI for operators and CI: `--json` documents, exit codes, `--version`, `--debug`.

The cloud commands' documents are checked beside their other tests (tests/test_cloud_*.py);
here: the local commands, the exit-code table's one owner, and the global options.
"""

from __future__ import annotations

import http.server
import importlib.metadata
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Sized
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli_json import run_json
from tests.fakes.cloud import OUTPUTS, connect_to, fake_ml, run_cli, use_fake_pulumi
from tests.mnist_fixtures import make_mnist_dir
from tests.test_readme import block
from workshop import mnist
from workshop.cli import app
from workshop.errors import ExitCode, exit_code_table
from workshop.paths import JOBS_DIR, ROOT

RUNNER_FIXTURES = ROOT / "tests" / "fixtures" / "runner"
HANDOUT_OUTPUTS = ROOT / "tests" / "fixtures" / "handout" / "outputs.json"


@pytest.fixture(autouse=True)
def _wide_plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")


# ------------------------------------------------------------------ one owner: ExitCode


def test_readme_exit_code_table_is_the_enum() -> None:
    assert block("exit-codes") == exit_code_table(), (
        "README.md's exit-code table differs from workshop.errors.ExitCode; paste the output of "
        "`python -c 'from workshop.errors import exit_code_table; print(exit_code_table())'`"
    )


def test_help_shows_every_exit_code() -> None:
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    for code in ExitCode:
        assert re.search(rf"\b{code.value}\s+{code.name}\b", shown.output), code


def test_readme_lists_the_result_of_every_command_with_json() -> None:
    from typer.core import TyperGroup
    from typer.main import get_command

    def with_json(command: object, prefix: str) -> set[str]:
        if isinstance(command, TyperGroup):
            return set().union(
                *(
                    with_json(sub, f"{prefix} {name}".strip())
                    for name, sub in command.commands.items()
                )
            )
        options = {opt for param in getattr(command, "params", []) for opt in param.opts}
        return {prefix} if "--json" in options else set()

    documented = set(re.findall(r"^\| `([a-z ]+)` \|", block("json-results"), re.M))
    assert with_json(get_command(app), "") == documented
    reporting = {"preflight", "submit", "deploy", "warmup", "smoke", "handout", "validate", "run"}
    assert reporting <= documented


# ------------------------------------------------------------------ --version and --debug


def test_version_is_the_package_metadata() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workshop", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"workshop {importlib.metadata.version('aml-workshop')}\n"


SDK_ERROR = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    "Attempted credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication "
    "unavailable."
)


def test_debug_shows_the_sdks_whole_error_and_the_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    use_fake_pulumi(monkeypatch, tmp_path, {"dev": OUTPUTS})
    ml = fake_ml()
    connect_to(monkeypatch, ml)
    ml.jobs.create_or_update.side_effect = ClientAuthenticationError(SDK_ERROR)
    job = str(JOBS_DIR / "train-logreg.yml")

    code, _, err = run_cli(capsys, "submit", job, "--stack", "dev")
    assert code == ExitCode.SERVICE_FAILED
    assert "included credentials." in err and "Attempted credentials" not in err
    assert "Traceback" not in err

    code, _, err = run_cli(capsys, "--debug", "submit", job, "--stack", "dev")
    assert code == ExitCode.SERVICE_FAILED
    assert "Traceback (most recent call last)" in err and "ClientAuthenticationError" in err
    assert "EnvironmentCredential authentication unavailable" in err  # the SDK's whole message

    monkeypatch.setenv("WORKSHOP_DEBUG", "1")
    code, _, err = run_cli(capsys, "submit", job, "--stack", "dev")
    assert "Traceback (most recent call last)" in err


def test_an_unexpected_error_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(_directory: Path) -> None:
        raise RuntimeError("boom\nsecond line of the error")

    monkeypatch.setattr(mnist, "check_mnist", broken)
    code, _, err = run_cli(capsys, "data", "check", str(tmp_path))
    assert code == ExitCode.ERROR
    assert "error: unexpected RuntimeError: boom" in err and "--debug" in err
    assert "second line" not in err and "Traceback" not in err

    code, _, err = run_cli(capsys, "--debug", "data", "check", str(tmp_path))
    assert code == ExitCode.ERROR
    assert "Traceback (most recent call last)" in err and "second line of the error" in err


# ------------------------------------------------------------------ --json of the local commands


def test_data_check_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = make_mnist_dir(tmp_path / "mnist", n_train=30, n_test=10)
    keys = {"directory", "published", "train", "test"}
    code, doc, err = run_json(capsys, "data", "check", str(data), result_keys=keys)
    assert code == ExitCode.OK and doc["command"] == "data check"
    assert doc["result"]["train"]["images"] == [30, 784] and doc["result"]["published"] is False
    assert "MNIST in" in err  # the table, for people

    code, doc, _ = run_json(capsys, "data", "check", str(tmp_path / "empty"))
    assert code == ExitCode.BAD_INPUT and "lacks 4 of the 4 MNIST files" in doc["error"]["message"]
    assert doc["error"]["fix"] == f"run `workshop data fetch --dest {tmp_path / 'empty'}`"


def test_data_fetch_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, real_mnist_dir: Path
) -> None:
    dest = tmp_path / "dest"
    code, doc, _ = run_json(
        capsys,
        "data",
        "fetch",
        "--dest",
        str(dest),
        "--mirror",
        str(real_mnist_dir),
        result_keys={"dest", "files"},
    )
    assert code == ExitCode.OK
    assert {f["status"] for f in doc["result"]["files"]} == {"downloaded"}
    assert len(doc["result"]["files"]) == 4

    synthetic = make_mnist_dir(tmp_path / "synthetic")
    code, doc, err = run_json(
        capsys, "data", "fetch", "--dest", str(tmp_path / "d2"), "--mirror", str(synthetic)
    )
    assert code == ExitCode.SERVICE_FAILED and doc["result"]["dest"] == str(tmp_path / "d2")
    assert doc["error"]["message"].startswith("could not fetch 4 of 4 MNIST files")
    assert "error: could not fetch" in err


def test_an_interrupted_command_still_prints_its_document(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_directory: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist, "check_mnist", interrupted)
    code, doc, err = run_json(capsys, "data", "check", str(tmp_path))
    assert code == ExitCode.INTERRUPTED and doc["error"]["message"] == "interrupted"
    assert "interrupted" in err


def test_handout_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "handouts"
    code, doc, _ = run_json(
        capsys,
        "handout",
        "--outputs",
        str(HANDOUT_OUTPUTS),
        "--out",
        str(out),
        result_keys={"source", "out", "folders"},
    )
    assert code == ExitCode.OK and doc["result"]["folders"]
    assert all(Path(folder).parent == out for folder in doc["result"]["folders"])

    code, doc, _ = run_json(capsys, "handout", "--out", str(tmp_path / "x"))
    assert code == ExitCode.BAD_INPUT and "exactly one of --stack" in doc["error"]["message"]


def test_validate_json_of_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    keys = {"ok", "files", "errors", "findings"}
    code, doc, err = run_json(
        capsys, "validate", "--offline", str(JOBS_DIR / "train-logreg.yml"), result_keys=keys
    )
    assert code == ExitCode.OK and doc["result"]["errors"] == 0
    assert doc["result"]["files"] == ["jobs/train-logreg.yml"] and "ok: 1 file(s)" in err


def test_score_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workshop import local_endpoint

    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(make_mnist_dir(tmp_path / "mnist")))

    def answer(_url: str, pixels: Sized, key: str | None = None) -> dict[str, object]:
        rows = len(pixels)
        return {
            "predictions": [7] * rows,
            "probabilities": [[0.1] * 10] * rows,
            "classes": list(range(10)),
        }

    monkeypatch.setattr(
        local_endpoint, "score", answer
    )  # the endpoint; tests/test_serve.py runs it
    keys = {"url", "digits", "accuracy"}
    url = "http://127.0.0.1:5001"
    code, doc, _ = run_json(capsys, "score", "--url", url, "--sample", "3", result_keys=keys)
    assert code == ExitCode.OK and [d["predicted"] for d in doc["result"]["digits"]] == [7] * 3

    code, doc, _ = run_json(capsys, "score", "--url", url)
    assert code == ExitCode.BAD_INPUT and "--sample N or --image PNG" in doc["error"]["message"]


# ------------------------------------------------------------------ `workshop run`: a job's outcome


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_run_json_of_a_job_that_succeeds(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `command` is a key of the file; the SDK's loaded form moves it (the run must still take it)
    set_command = "command=echo said-by-the-set-command"
    keys = {"status", "name", "folder"}
    code, doc, err = run_json(
        capsys, "run", str(RUNNER_FIXTURES / "hello.yml"), "--set", set_command, result_keys=keys
    )
    assert code == ExitCode.OK and doc["result"]["status"] == "FINISHED", err
    assert "said-by-the-set-command" in err  # the job's own output, for people


def test_run_of_a_job_that_fails_exits_job_failed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(RUNNER_FIXTURES / "env-image.yml", home / "env-image.yml")
    job = home / "fails.yml"
    job.write_text(
        (RUNNER_FIXTURES / "hello.yml")
        .read_text()
        .replace('echo "hello world" && ls -A | wc -l', "echo said-before-failing && exit 3")
    )
    code, doc, err = run_json(capsys, "run", str(job), result_keys={"status"})
    assert code == ExitCode.JOB_FAILED and doc["result"]["status"] == "FAILED"
    assert "said-before-failing" in err and doc["error"]["message"].endswith("ended FAILED")

    code, doc, _ = run_json(capsys, "run", str(job), "--set", "inputs.nope=1")
    assert code == ExitCode.BAD_INPUT and "--set inputs.nope" in doc["error"]["message"]
    # the keys the user can see in the file, not the SDK's loaded form (component, ...)
    assert doc["error"]["message"].endswith(
        "(keys there: $schema, command, environment, experiment_name, type)"
    )


# ------------------------------------------------------------------ an https input out of reach


def _answering_404() -> tuple[str, http.server.HTTPServer]:

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/mnist.csv", server


def test_an_unreachable_input_is_one_line_naming_the_url_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    from workshop.errors import WorkshopError
    from workshop.runner.download import fetch

    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    where = "job.yml: inputs.data"
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/mnist.csv"
    url_404, server = _answering_404()

    def no_dns(*_args: object, **_kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    cases = [
        (closed, "127.0.0.1 refused the connection"),
        (url_404, "the server answered 404 Not Found"),
    ]
    try:
        for url, reason in cases:
            with pytest.raises(WorkshopError) as caught:
                fetch(url, where, "uri_file")
            assert caught.value.message == f"{where}: cannot download {url}: {reason}"
            assert caught.value.exit_code == ExitCode.SERVICE_FAILED
            assert "--set inputs.data.path=PATH" in (caught.value.hint or "")
            assert "HTTPConnectionPool" not in str(caught.value)
    finally:
        server.shutdown()
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(WorkshopError) as caught:
        fetch("https://data.example.org/mnist.csv", where, "uri_file")
    assert caught.value.message.endswith("the host name data.example.org does not resolve")
    assert not list(tmp_path.rglob("*.part-*"))  # no partial file left behind
