"""`workshop notebooks upload`: the real ShareClient against a fake HTTP transport (no Azure)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from azure.ai.ml.entities import AzureBlobDatastore, AzureFileDatastore
from azure.core.credentials import AccessToken
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.transport import HttpRequest, HttpResponse, HttpTransport
from azure.storage.fileshare import ShareClient
from typer.testing import CliRunner

from workshop import notebook_upload
from workshop.errors import ExitCode, WorkshopError
from workshop.notebook_upload import ShareTarget, bundle_files, find_share, upload
from workshop.paths import ROOT

TOKEN = "token-must-not-be-printed"


class Credential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


class Response(HttpResponse):
    def __init__(self, request: HttpRequest, status: int, error_code: str | None = None) -> None:
        super().__init__(request, None)
        self.status_code = status
        self.reason = "fake"
        self.content_type = "application/xml"
        self.headers = {"ETag": '"0x1"', "x-ms-request-id": "fake", "x-ms-version": "2025-05-05"}
        if error_code:
            self.headers["x-ms-error-code"] = error_code

    def body(self) -> bytes:
        return b""


class FakeFileService(HttpTransport):
    """Answers Azure Files REST calls like the service: directories, files, ranges."""

    def __init__(self, answer: Callable[[HttpRequest], tuple[int, str | None]] | None = None):
        self.requests: list[HttpRequest] = []
        self.directories: set[str] = {"Users"}
        self.files: dict[str, bytes] = {}
        self.answer = answer

    def __enter__(self) -> FakeFileService:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        self.requests.append(request)
        if self.answer is not None:
            status, code = self.answer(request)
            if status >= 400:
                return Response(request, status, code)
        url = urlsplit(request.url)
        path = unquote(url.path).split("/", 2)[2]  # drop the share name
        if "restype=directory" in url.query:
            if path in self.directories:
                return Response(request, 409, "ResourceAlreadyExists")
            self.directories.add(path)
        elif "comp=range" in url.query:
            assert isinstance(request.data, bytes), type(request.data)
            self.files[path] += request.data
        else:
            assert path.rsplit("/", 1)[0] in self.directories, f"no parent folder for {path}"
            self.files[path] = b""
        return Response(request, 201)


def client(service: FakeFileService) -> ShareClient:
    return ShareClient(
        "https://acct.file.core.windows.net",
        "code-0123",
        credential=Credential(),
        token_intent="backup",
        transport=service,
    )


def test_the_bundle_holds_what_the_notebooks_need_and_nothing_else() -> None:
    files = dict((relative, local) for local, relative in bundle_files())
    for needed in (
        "notebooks/01-explore-and-train-locally.ipynb",
        "notebooks/02-run-on-the-cluster.ipynb",
        "notebooks/03-deploy-and-score.ipynb",
        "notebooks/workshop-kernel.sh",  # a trainee builds the kernel with it (README)
        "requirements/lock.txt",
        "jobs/train-knn.yml",
        "jobs/sweep-knn.yml",
        "jobs/deployment.yml",
        "jobs/environment/conda.yml",
        "src/training/mnist_trainer/score.py",
        "src/workshop/notebook_support.py",
        "pyproject.toml",
    ):
        assert needed in files, needed
    for relative in files:
        assert not relative.startswith(("tests/", "infra/", "data/", ".workshop/", "notebooks/b"))
        assert "__pycache__" not in relative and not relative.endswith(".pyc")
    assert sum(p.stat().st_size for p in files.values()) < 5_000_000


def test_upload_creates_each_folder_once_parents_first_and_copies_the_bytes(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_bytes(b"alpha")
    (tmp_path / "b.bin").write_bytes(bytes(range(256)) * 10)
    service = FakeFileService()
    service.directories.add("Users/shared")  # already there: a 409 the upload must accept
    written = upload(
        client(service),
        [(tmp_path / "a.txt", "notebooks/a.txt"), (tmp_path / "b.bin", "notebooks/sub/b.bin")],
        "/Users/shared/aml-workshop/",
    )
    assert written == [
        "Users/shared/aml-workshop/notebooks/a.txt",
        "Users/shared/aml-workshop/notebooks/sub/b.bin",
    ]
    assert service.files == {
        written[0]: b"alpha",
        written[1]: bytes(range(256)) * 10,
    }
    made = [
        unquote(urlsplit(r.url).path)
        for r in service.requests
        if "restype=directory" in (urlsplit(r.url).query)
    ]
    assert made == [
        "/code-0123/Users",
        "/code-0123/Users/shared",
        "/code-0123/Users/shared/aml-workshop",
        "/code-0123/Users/shared/aml-workshop/notebooks",
        "/code-0123/Users/shared/aml-workshop/notebooks/sub",
    ]
    # Entra ID on Azure Files: a bearer token, and only with the backup intent header.
    for request in service.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["x-ms-file-request-intent"] == "backup"


def test_a_refused_upload_names_the_role_to_grant(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"x")
    service = FakeFileService(lambda r: (403, "AuthorizationPermissionMismatch"))
    with pytest.raises(WorkshopError) as caught:
        upload(client(service), [(tmp_path / "a.txt", "a.txt")], "Users/shared/aml-workshop")
    assert "403" in str(caught.value)
    assert "Storage File Data Privileged Contributor" in str(caught.value.hint)


@pytest.mark.parametrize("folder", ["", "/", "../up", "Users/../../x", "a\\b"])
def test_folder_must_be_a_plain_relative_path(folder: str) -> None:
    with pytest.raises(WorkshopError, match="relative folder"):
        upload(client(FakeFileService()), [], folder)


def test_the_share_comes_from_the_workspaceworkingdirectory_datastore() -> None:
    store = AzureFileDatastore(
        name="workspaceworkingdirectory", account_name="wsstore", file_share_name="code-42"
    )
    ml: Any = SimpleNamespace(datastores=SimpleNamespace(get=lambda name: store))
    assert find_share(ml) == ShareTarget("https://wsstore.file.core.windows.net", "code-42")

    def missing(name: str) -> Any:
        raise ResourceNotFoundError("not found")

    ml.datastores.get = missing
    with pytest.raises(WorkshopError, match="no workspaceworkingdirectory datastore"):
        find_share(ml)
    blob = AzureBlobDatastore(name="x", account_name="a", container_name="c")
    ml.datastores.get = lambda name: blob
    with pytest.raises(WorkshopError, match="not an Azure Files datastore"):
        find_share(ml)


def test_cli_uploads_the_bundle_and_never_prints_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workshop.cli import app
    from workshop.commands import cloud

    store = AzureFileDatastore(
        name="workspaceworkingdirectory", account_name="wsstore", file_share_name="code-42"
    )
    ml = SimpleNamespace(datastores=SimpleNamespace(get=lambda name: store))
    session = SimpleNamespace(ml=ml, credential=Credential())
    monkeypatch.setattr(cloud, "_session", lambda *args: session)
    service = FakeFileService()
    monkeypatch.setattr(
        notebook_upload,
        "share_client",
        lambda target, credential: ShareClient(
            target.account_url,
            target.share_name,
            credential=credential,
            token_intent="backup",
            transport=service,
        ),
    )
    result = CliRunner().invoke(app, ["notebooks", "upload", "--config", "config.json"])
    assert result.exit_code == 0, result.output
    assert "code-42" in result.output and TOKEN not in result.output
    expected = {f"Users/shared/aml-workshop/{relative}" for _, relative in bundle_files(ROOT)}
    assert set(service.files) == expected
    notebook = "Users/shared/aml-workshop/notebooks/03-deploy-and-score.ipynb"
    assert service.files[notebook] == (ROOT / "notebooks/03-deploy-and-score.ipynb").read_bytes()

    as_json = CliRunner().invoke(app, ["notebooks", "upload", "--config", "x.json", "--json"])
    document = json.loads(as_json.stdout)  # one document on stdout; the progress on stderr
    assert document["ok"] is True and document["command"] == "notebooks upload"
    assert set(document["result"]["files"]) == expected and notebook in as_json.stderr
    assert document["result"]["share"] == "code-42" and TOKEN not in as_json.output

    refused = CliRunner().invoke(app, ["notebooks", "upload", "--folder", "../up", "--json"])
    document = json.loads(refused.stdout)
    assert (
        document["exit_code"] == ExitCode.BAD_INPUT and "--folder" in document["error"]["message"]
    )


# -------------------------------------------- what may go up to a share every user can read


def _tree(root: Path, outside: Path) -> None:
    """A checkout-shaped tree with the things that must never be uploaded next to the real ones."""
    for relative in (
        "notebooks/01.ipynb",
        "jobs/train.yml",
        "src/training/mnist_trainer/train.py",
        "src/workshop/cli.py",
        "pyproject.toml",
        "README.md",
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("ok")
    (outside / "secret.txt").write_text("private key")
    (outside / "dir").mkdir()
    (outside / "dir" / "inside.py").write_text("private")
    (root / "src/workshop/.env").write_text("TOKEN=secret")  # a dotfile
    (root / "src/workshop/.cache").mkdir()
    (root / "src/workshop/.cache/notes.py").write_text("private")  # under a dot folder
    (root / "src/workshop/link.py").symlink_to(outside / "secret.txt")  # a linked file
    (root / "jobs/linked").symlink_to(outside / "dir", target_is_directory=True)  # linked folder


def _git(root: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, timeout=60)


def test_in_a_git_checkout_only_tracked_plain_files_go_up(tmp_path: Path) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    _tree(root, outside)
    _git(root, "init", "-q")
    _git(root, "add", "-f", ".")  # even tracked dotfiles and tracked symlinks stay behind
    (root / "src/workshop/scratch.py").write_text("untracked")
    (root / "jobs/my-experiment.yml").write_text("untracked")
    uploaded = [relative for _, relative in bundle_files(root)]
    assert uploaded == [
        "README.md",
        "jobs/train.yml",
        "notebooks/01.ipynb",
        "pyproject.toml",
        "src/training/mnist_trainer/train.py",
        "src/workshop/cli.py",
    ]


def test_outside_git_only_allowed_file_types_and_never_links_or_dotfiles(tmp_path: Path) -> None:
    root, outside = tmp_path / "copy", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    _tree(root, outside)
    (root / "src/workshop/dump.sqlite").write_bytes(b"\0")
    (root / "src/workshop/extra.py").write_text("not tracked, but code")
    uploaded = [relative for _, relative in bundle_files(root)]
    assert "src/workshop/extra.py" in uploaded
    for never in (".env", ".cache", "link.py", "linked", "dump.sqlite", "secret", "inside"):
        assert not [r for r in uploaded if never in r], never


def test_a_file_swapped_for_a_link_after_listing_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("private")
    listed = tmp_path / "a.py"
    listed.symlink_to(tmp_path / "secret.txt")
    service = FakeFileService()
    with pytest.raises(OSError):
        upload(client(service), [(listed, "src/a.py")], "Users/shared/aml-workshop")
    assert service.files == {}
