"""Inputs that are not local files: web files are downloaded once, cloud storage is named."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workshop.errors import WorkshopError
from workshop.runner import binding

FIXTURES = Path(__file__).parent / "fixtures" / "runner"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 serving one file; the paths it was asked for."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "iris.csv").write_text("a,b\n1,2\n")
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def do_GET(self) -> None:
            asked.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_web_input_is_downloaded_once_into_the_cache(
    server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    url, asked = server
    assets = binding.Assets(FIXTURES)
    value = {"type": "uri_file", "path": f"azureml:{url}/iris.csv"}  # as the SDK writes it
    first = binding.resolve_input(value, FIXTURES, assets, "job.yml: inputs.iris")
    assert Path(first).read_text() == "a,b\n1,2\n"
    assert Path(first).is_relative_to(tmp_path / "home" / "downloads")
    assert binding.resolve_input(value, FIXTURES, assets, "job.yml: inputs.iris") == first
    assert asked == ["/iris.csv"]  # the second time came from the cache
    assert [p.name for p in Path(first).parent.iterdir()] == ["iris.csv"]  # no partial file
    folder = binding.resolve_input({**value, "type": "uri_folder"}, FIXTURES, assets, "x: y")
    assert Path(folder) == Path(first).parent


def test_an_unreachable_web_input_says_how_to_pass_a_local_copy(
    server: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    url, _ = server
    with pytest.raises(WorkshopError, match="404") as info:
        binding.resolve_input(
            {"type": "uri_file", "path": f"{url}/missing.csv"},
            FIXTURES,
            binding.Assets(FIXTURES),
            "job.yml: inputs.iris",
        )
    assert "--set inputs.iris.path=" in str(info.value)
    assert not list((tmp_path / "home" / "downloads").rglob("*.part-*"))


@pytest.mark.parametrize(
    "path",
    [
        "azureml:wasbs://datasets@azuremlexamples.blob.core.windows.net/iris/",
        "azureml://datastores/workspaceblobstore/paths/mnist/",
        "abfss://data@account.dfs.core.windows.net/mnist/",
    ],
)
def test_a_cloud_only_input_ends_with_one_message_naming_the_fix(path: str) -> None:
    with pytest.raises(WorkshopError) as info:
        binding.resolve_input(
            {"type": "uri_folder", "path": path},
            FIXTURES,
            binding.Assets(FIXTURES),
            "pipeline.yml: jobs.train.inputs.mnist",
        )
    message = str(info.value)
    assert "lives in the cloud" in message and "does not exist" not in message
    assert "--set jobs.train.inputs.mnist.path=" in message
    assert "azureml:wasbs" not in message  # the SDK's prefix is not the user's URI


def test_a_missing_data_cache_fails_before_the_environment_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azureml:mnist:1 without `workshop data fetch`: said at once, not after a build (the
    conflicting environment would fail with uv's message if it were built first)."""
    from workshop.runner import RunOptions, run_job

    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKSHOP_DATA_DIR", str(tmp_path / "no-data"))
    overrides = {"inputs.data.path": "azureml:mnist:1", "environment": "azureml:conflict:1"}
    with pytest.raises(WorkshopError) as info:
        run_job(FIXTURES / "command.yml", RunOptions(overrides=overrides))
    assert str(tmp_path / "no-data") in str(info.value) and "does not exist" in str(info.value)
    assert "workshop data fetch" in (info.value.hint or "")
    assert not (tmp_path / "home" / "runs").exists()
