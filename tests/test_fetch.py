"""The fetcher against a real HTTP server on 127.0.0.1, and against local mirrors.

Synthetic files stand in for MNIST: their names, sizes and MD5s are passed as `files=`, exactly
as the published ones are by default. Every failure case also checks that nothing that looks like
a complete file, and no temporary file, is left in the destination.
"""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from tests.mnist_fixtures import describe_files, make_mnist_dir
from workshop.errors import WorkshopError
from workshop.mnist import (
    PUBLISHED,
    DownloadRetry,
    FetchResult,
    MnistFile,
    Pace,
    check_mnist,
    fetch_files,
    fetch_mnist,
)
from workshop.mnist import fetch as fetch_module
from workshop.mnist.sources import DEFAULT_MIRRORS, parse_mirror, resolve_mirrors

Response = Callable[[BaseHTTPRequestHandler], None]


def serve(body: bytes) -> Response:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def status(code: int) -> Response:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return respond


def truncated(body: bytes, keep: int) -> Response:
    """Announce the whole body, send only `keep` bytes, then close the connection."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:keep])

    return respond


def drop(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection without any response."""
    handler.close_connection = True


def stall(seconds: float) -> Response:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        status(200)(handler)

    return respond


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and left is part of the script, not a server bug


class MirrorServer:
    """An HTTP server whose paths answer with scripted responses (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Response]] = {}
        self.hits: list[str] = []
        self.accept_encodings: list[str | None] = []
        routes, hits, encodings = self.routes, self.hits, self.accept_encodings

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                encodings.append(self.headers.get("Accept-Encoding"))
                script = routes.get(self.path) or [status(404)]
                (script.pop(0) if len(script) > 1 else script[0])(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}/"

    def route(self, prefix: str, name: str, *responses: Response) -> None:
        self.routes[f"/{prefix}/{name}"] = list(responses)

    def hits_for(self, prefix: str) -> list[str]:
        return [hit for hit in self.hits if hit.startswith(f"/{prefix}/")]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MirrorServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy in the environment must not intercept
    mirror = MirrorServer()
    mirror.thread.start()
    yield mirror
    mirror.httpd.shutdown()
    mirror.httpd.server_close()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Synthetic MNIST .gz files to serve (small: the four files are ~40 kB in all)."""
    return make_mnist_dir(tmp_path / "source", n_train=40, n_test=10)


@pytest.fixture
def files(source: Path) -> tuple[MnistFile, ...]:
    return describe_files(source)


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retry(sleeps: Sleeps) -> DownloadRetry:
    return DownloadRetry(attempts=3, base_delay=0.25, sleep=sleeps)


def serve_all(
    server: MirrorServer, prefix: str, source: Path, files: tuple[MnistFile, ...]
) -> None:
    for file in files:
        server.route(prefix, file.name, serve((source / file.name).read_bytes()))


def assert_identical(dest: Path, source: Path, files: tuple[MnistFile, ...]) -> None:
    assert sorted(p.name for p in dest.iterdir()) == sorted(f.name for f in files)
    for file in files:
        assert (dest / file.name).read_bytes() == (source / file.name).read_bytes()


def assert_nothing_left(dest: Path) -> None:
    """No file that looks complete and no temporary file."""
    assert not dest.exists() or list(dest.iterdir()) == []


def test_default_mirrors_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKSHOP_MNIST_MIRROR", raising=False)
    assert [m.spec for m in resolve_mirrors()] == list(DEFAULT_MIRRORS)
    assert DEFAULT_MIRRORS[0].startswith("https://azureopendatastorage.blob.core.windows.net/")
    assert DEFAULT_MIRRORS[-1] == "http://yann.lecun.com/exdb/mnist/"
    assert [f.name for f in PUBLISHED] == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]


def test_forbidden_mirror_moves_on_at_once(
    server: MirrorServer,
    source: Path,
    files: tuple[MnistFile, ...],
    retry: DownloadRetry,
    sleeps: Sleeps,
    tmp_path: Path,
) -> None:
    for file in files:
        server.route("forbidden", file.name, status(403))
    serve_all(server, "good", source, files)
    dest = tmp_path / "dest"

    results = fetch_files(
        dest, [server.url("forbidden"), server.url("good")], files=files, retry=retry
    )

    assert [r.source for r in results] == [server.url("good")] * 4
    assert len(server.hits_for("forbidden")) == 4  # one request per file: no retry on a 403
    assert set(server.accept_encodings) == {"identity"}  # the published bytes, not re-encoded
    assert sleeps == []
    assert_identical(dest, source, files)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (lambda body: truncated(body, len(body) // 2), "connection dropped"),
        (lambda body: drop, "connection failed"),
        (lambda body: status(503), "HTTP 503"),
        (lambda body: status(429), "HTTP 429"),
    ],
    ids=["truncated-body", "dropped-connection", "503", "429"],
)
def test_transient_failures_are_retried_then_fall_through(
    server: MirrorServer,
    source: Path,
    files: tuple[MnistFile, ...],
    retry: DownloadRetry,
    sleeps: Sleeps,
    tmp_path: Path,
    bad: Callable[[bytes], Response],
    reason: str,
) -> None:
    first = files[0]
    server.route("flaky", first.name, bad((source / first.name).read_bytes()))
    serve_all(server, "good", source, files)
    dest = tmp_path / "dest"

    results = fetch_files(
        dest, [server.url("flaky"), server.url("good")], files=files[:1], retry=retry
    )

    assert results[0].source == server.url("good")
    assert len(server.hits_for("flaky")) == 3
    assert sleeps == [0.25, 0.5]  # exponential backoff between the three attempts
    assert_identical(dest, source, files[:1])


def test_503_then_success_on_the_same_mirror(
    server: MirrorServer,
    source: Path,
    files: tuple[MnistFile, ...],
    retry: DownloadRetry,
    sleeps: Sleeps,
    tmp_path: Path,
) -> None:
    first = files[0]
    server.route("only", first.name, status(503), serve((source / first.name).read_bytes()))
    dest = tmp_path / "dest"

    fetch_mnist(dest, [server.url("only")], files=files[:1], retry=retry)

    assert len(server.hits_for("only")) == 2 and sleeps == [0.25]
    assert_identical(dest, source, files[:1])


def test_wrong_checksum_is_not_retried(
    server: MirrorServer,
    source: Path,
    files: tuple[MnistFile, ...],
    retry: DownloadRetry,
    tmp_path: Path,
) -> None:
    first = files[0]
    body = (source / first.name).read_bytes()
    server.route("corrupt", first.name, serve(bytes(len(body))))  # same size, other bytes
    serve_all(server, "good", source, files)
    dest = tmp_path / "dest"

    results = fetch_files(
        dest, [server.url("corrupt"), server.url("good")], files=files[:1], retry=retry
    )

    assert results[0].source == server.url("good")
    assert len(server.hits_for("corrupt")) == 1
    assert_identical(dest, source, files[:1])


def test_every_mirror_failing_gives_one_message_and_leaves_nothing(
    server: MirrorServer,
    source: Path,
    files: tuple[MnistFile, ...],
    retry: DownloadRetry,
    tmp_path: Path,
) -> None:
    first, second = files[0], files[1]
    first_body = (source / first.name).read_bytes()
    server.route("a", first.name, status(403))
    server.route("b", first.name, truncated(first_body, 100))
    server.route("c", first.name, serve(b"x" * len(first_body)))
    server.route("a", second.name, serve((source / second.name).read_bytes()))
    dest = tmp_path / "dest"
    mirrors = [server.url("a"), server.url("b"), server.url("c")]

    with pytest.raises(WorkshopError) as caught:
        fetch_mnist(dest, mirrors, files=files[:2], retry=retry)

    message = str(caught.value)
    assert message.startswith(f"could not fetch 1 of 2 MNIST files into {dest}:")
    assert f"  {first.name}\n" in message
    assert f"- {server.url('a')}: HTTP 403" in message
    assert f"- {server.url('b')}: connection dropped" in message
    assert "(gave up after 3 attempts)" in message
    assert f"- {server.url('c')}: MD5 " in message and f"expected {first.md5}" in message
    assert second.name not in message  # it was fetched
    hint = caught.value.hint or ""
    assert "WORKSHOP_MNIST_MIRROR=/path/to/dir" in hint and "--mirror /path/to/dir" in hint
    assert [p.name for p in dest.iterdir()] == [second.name]  # no partial or temporary file


def test_content_length_other_than_published_is_rejected(
    server: MirrorServer, files: tuple[MnistFile, ...], retry: DownloadRetry, tmp_path: Path
) -> None:
    first = files[0]
    server.route("html", first.name, serve(b"<html>moved</html>"))
    dest = tmp_path / "dest"
    with pytest.raises(
        WorkshopError, match=f"serves 18 bytes, expected the published {first.size}"
    ):
        fetch_mnist(dest, [server.url("html")], files=files[:1], retry=retry)
    assert len(server.hits) == 1
    assert_nothing_left(dest)


def test_read_timeout_is_retried(
    server: MirrorServer, files: tuple[MnistFile, ...], sleeps: Sleeps, tmp_path: Path
) -> None:
    first = files[0]
    server.route("slow", first.name, stall(1.0))
    dest = tmp_path / "dest"
    with pytest.raises(WorkshopError, match="timed out"):
        fetch_mnist(
            dest,
            [server.url("slow")],
            files=files[:1],
            retry=DownloadRetry(attempts=2, base_delay=0.1, sleep=sleeps),
            timeout=(2.0, 0.2),
        )
    assert len(server.hits) == 2 and sleeps == [0.1]
    assert_nothing_left(dest)


def test_refused_connection_marks_the_mirror_unreachable(
    files: tuple[MnistFile, ...], retry: DownloadRetry, tmp_path: Path
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist/"
    dest = tmp_path / "dest"
    with pytest.raises(WorkshopError) as caught:
        fetch_mnist(dest, [url], files=files, retry=retry)
    message = str(caught.value)
    assert f"- {url}: connection failed (Connection refused) (gave up after 3 attempts)" in message
    for later in files[1:]:  # not retried for every file once known to be down
        assert f"  {later.name}: not tried, every mirror was unreachable" in message
    assert_nothing_left(dest)


@pytest.mark.parametrize("form", ["directory", "file-url"])
def test_local_mirrors(
    source: Path, files: tuple[MnistFile, ...], tmp_path: Path, form: str
) -> None:
    spec = str(source) if form == "directory" else source.as_uri()
    dest = tmp_path / "dest"
    results = fetch_files(dest, [spec], files=files, progress=False)
    assert [r.source for r in results] == [spec] * 4
    assert_identical(dest, source, files)


def test_local_mirror_problems_are_named(
    source: Path, files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    (source / files[1].name).unlink()
    dest = tmp_path / "dest"
    missing_dir = tmp_path / "nowhere"
    with pytest.raises(WorkshopError) as caught:
        fetch_mnist(dest, [str(missing_dir), str(source)], files=files)
    message = str(caught.value)
    assert message.startswith(f"could not fetch 1 of 4 MNIST files into {dest}:")
    assert files[0].name not in message.split(":", 1)[0]  # fetched from the second mirror
    assert f"- {missing_dir}: skipped: unreachable when fetching {files[0].name}" in message
    assert f"- {source}: no such file" in message
    assert sorted(p.name for p in dest.iterdir()) == sorted(f.name for f in files if f != files[1])


def test_valid_files_are_skipped_without_a_request(
    server: MirrorServer, source: Path, files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    fetch_mnist(dest, [str(source)], files=files)
    before = {p.name: p.stat().st_mtime_ns for p in dest.iterdir()}

    results = fetch_files(dest, [server.url("any")], files=files)

    assert results == [FetchResult(f, dest / f.name, None) for f in files]
    assert server.hits == []
    assert {p.name: p.stat().st_mtime_ns for p in dest.iterdir()} == before


def test_a_wrong_existing_file_is_replaced(
    source: Path, files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / files[0].name).write_bytes(b"an old, different file")
    results = fetch_files(dest, [str(source)], files=files)
    assert [r.replaced for r in results] == [True, False, False, False]
    assert_identical(dest, source, files)


def test_a_wrong_existing_file_is_left_and_named_when_nothing_replaces_it(
    files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    stale = dest / files[0].name
    stale.write_bytes(b"fashion-mnist, say")
    with pytest.raises(WorkshopError) as caught:
        fetch_mnist(dest, [str(tmp_path / "nowhere")], files=files[:1])
    assert f"- {stale}: exists but is not the published file; left as it is" in str(caught.value)
    assert stale.read_bytes() == b"fashion-mnist, say"


def test_interrupted_download_leaves_no_file(
    server: MirrorServer,
    source: Path,
    files: tuple[MnistFile, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_all(server, "good", source, files)

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_module.Progress, "advance", interrupt)  # after the first chunk
    dest = tmp_path / "dest"
    with pytest.raises(KeyboardInterrupt):
        fetch_mnist(dest, [server.url("good")], files=files)
    assert_nothing_left(dest)


def test_progress_bar_renders_on_a_terminal(
    source: Path, files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    fetch_mnist(tmp_path / "dest", [str(source)], files=files, console=console)
    assert files[0].name in screen.getvalue()

    quiet = io.StringIO()
    console = Console(file=quiet, force_terminal=True, width=120)
    fetch_mnist(tmp_path / "dest2", [str(source)], files=files, console=console, progress=False)
    assert quiet.getvalue() == ""


def test_backoff_doubles_up_to_a_cap() -> None:
    policy = DownloadRetry(base_delay=0.5, max_delay=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_environment_variable_replaces_the_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WORKSHOP_MNIST_MIRROR", f" {tmp_path} , https://example.org/m ,")
    assert [(m.directory, m.url) for m in resolve_mirrors()] == [
        (tmp_path, None),
        (None, "https://example.org/m/"),
    ]
    explicit = resolve_mirrors(["file:///data/My%20MNIST"])  # an explicit list wins
    assert [m.directory for m in explicit] == [Path("/data/My MNIST")]


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("ftp://example.org/mnist/", "uses the unsupported scheme 'ftp'"),
        ("file://server/share/mnist", "names host 'server'"),
        ("https:///mnist/", "has no host"),
    ],
)
def test_bad_mirror_specs_are_named(spec: str, complaint: str) -> None:
    with pytest.raises(WorkshopError) as caught:
        parse_mirror(spec, "WORKSHOP_MNIST_MIRROR")
    assert f"mirror {spec!r} (from WORKSHOP_MNIST_MIRROR) {complaint}" in str(caught.value)


def test_unwritable_destination_is_a_clear_error(source: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(WorkshopError, match=f"cannot create the MNIST directory {blocker / 'x'}"):
        fetch_mnist(blocker / "x", [str(source)])


@pytest.mark.slow
def test_fetch_the_real_files(real_mnist_dir: Path, tmp_path: Path) -> None:
    fetch_mnist(tmp_path / "mnist", [str(real_mnist_dir)], progress=False)
    check = check_mnist(tmp_path / "mnist")
    assert check.published
    assert check.train.images == (60000, 784) and check.test.images == (10000, 784)
    assert sum(check.train.label_counts) == 60000 and sum(check.test.label_counts) == 10000


def trickle(body: bytes, every: float) -> Response:
    """Announce the whole body, then send it one byte at a time, `every` seconds apart."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for i in range(len(body)):
            handler.wfile.write(body[i : i + 1])
            handler.wfile.flush()
            time.sleep(every)

    return respond


@pytest.mark.timeout(60)
def test_a_mirror_that_trickles_is_left_at_the_deadline_for_the_next(
    server: MirrorServer, source: Path, files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    first = files[0]
    body = (source / first.name).read_bytes()
    # Each byte arrives well inside the read timeout, so only a whole-file deadline stops it.
    server.route("slow", first.name, trickle(body, every=0.05))
    serve_all(server, "good", source, files[:1])
    dest = tmp_path / "dest"
    results = fetch_files(
        dest,
        [server.url("slow"), server.url("good")],
        files=files[:1],
        timeout=(2.0, 2.0),
        pace=Pace(min_rate=1e9, grace=0.5),
    )
    assert [r.source for r in results] == [server.url("good")]
    assert_identical(dest, source, files[:1])
    with pytest.raises(WorkshopError, match=r"too slow: \d+ of \d+ bytes after 0.5 s"):
        fetch_mnist(
            tmp_path / "dest2",
            [server.url("slow")],
            files=files[:1],
            timeout=(2.0, 2.0),
            pace=Pace(min_rate=1e9, grace=0.5),
        )
    assert_nothing_left(tmp_path / "dest2")


@pytest.mark.timeout(30)
def test_a_fifo_in_a_local_mirror_is_named_not_waited_on(
    source: Path, files: tuple[MnistFile, ...], tmp_path: Path
) -> None:
    import os

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    os.mkfifo(mirror / files[0].name)
    dest = tmp_path / "dest"
    with pytest.raises(WorkshopError) as caught:
        fetch_mnist(dest, [str(mirror)], files=files[:1])
    assert f"- {mirror}: not a regular file" in str(caught.value)
    assert_nothing_left(dest)


def stall_after(body: bytes, keep: int, release: threading.Event) -> Response:
    """Announce the whole body, send `keep` bytes, then wait (until the test ends)."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:keep])
        handler.wfile.flush()
        release.wait(60)

    return respond


@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_stop_signal_during_a_download_leaves_no_part_file(
    server: MirrorServer, tmp_path: Path, sig: signal.Signals
) -> None:
    first = PUBLISHED[0]  # the command fetches the published files: sizes must match them
    release = threading.Event()
    server.route("m", first.name, stall_after(b"\0" * first.size, 1000, release))
    dest = tmp_path / "dest"
    command = [sys.executable, "-m", "workshop", "data", "fetch", "--dest", str(dest)]
    fetcher = subprocess.Popen(
        [*command, "--mirror", server.url("m"), "--no-progress"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        while not any(dest.glob(".*.part")):  # bounded by the test's timeout
            assert fetcher.poll() is None, fetcher.communicate()
            time.sleep(0.05)
        while not server.hits:
            time.sleep(0.05)
        fetcher.send_signal(sig)
        _, err = fetcher.communicate(timeout=30)
        assert_nothing_left(dest)
        assert fetcher.returncode == 130, err  # as after Ctrl-C
        assert "Traceback" not in err
    finally:
        release.set()
        if fetcher.poll() is None:
            fetcher.kill()
            fetcher.wait()
