"""Fill a local MNIST cache from the mirrors, verifying every byte.

A file reaches its final name only by an atomic rename after its size and MD5 matched the
published values, so an interrupted, truncated or wrong download never leaves a file that looks
complete, and its temporary file is removed (on Ctrl-C, SIGTERM and SIGHUP too). Each download
has a deadline from a minimum average rate (`Pace`), so a mirror that trickles bytes is left for
the next one; a local mirror's file must be a regular file (a FIFO would block the read forever).
Transient failures (connection errors, timeouts, HTTP 5xx and 429) are retried with exponential
backoff; anything else (403, 404, a wrong checksum, a missing local file, too slow) moves on to
the next mirror at once. When every mirror fails, one error lists each mirror's reason per file
and says how to use a local copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests
import urllib3.exceptions
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from workshop.errors import ExitCode, WorkshopError
from workshop.mnist.sources import (
    LOCAL_COPY_HINT,
    PUBLISHED,
    Mirror,
    MnistFile,
    matches,
    resolve_mirrors,
)
from workshop.stopping import stop_signals_interrupt

CHUNK = 1 << 16
# (connect, read) seconds; the read timeout applies to each socket read, not the whole file.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 30.0)


_SKIPPED = "skipped:"


@dataclass(frozen=True)
class DownloadRetry:
    """How often, and how patiently, one mirror is retried after a transient failure."""

    attempts: int = 3
    base_delay: float = 0.5  # seconds before the 2nd attempt, doubled for each further one
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, failed_attempts: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (failed_attempts - 1))


@dataclass(frozen=True)
class Pace:
    """The slowest a download may be: `grace` seconds plus the file at `min_rate` bytes/s.

    The read timeout only bounds each socket read; a mirror sending a byte every few seconds
    never trips it. 20 kB/s is slow hotel Wi-Fi: the 9.9 MB training images get 9 minutes.
    """

    min_rate: float = 20_000.0
    grace: float = 60.0

    def seconds_for(self, size: int) -> float:
        return self.grace + size / self.min_rate


@dataclass(frozen=True)
class FetchResult:
    """What happened to one file."""

    file: MnistFile
    path: Path
    source: str | None  # the mirror it came from; None when a valid copy was already there
    replaced: bool = False  # an existing file with other content was overwritten


class _Transient(Exception):
    """Worth another attempt on the same mirror."""

    def __init__(self, reason: str, *, could_not_connect: bool = False) -> None:
        super().__init__(reason)
        self.could_not_connect = could_not_connect


class _Failed(Exception):
    """This mirror cannot provide this file; try the next one."""


class _Unreachable(_Failed):
    """This mirror cannot be reached at all; skip it for the remaining files too."""


class _AllFailed(Exception):
    def __init__(self, reasons: list[tuple[str, str]]) -> None:
        super().__init__("every mirror failed")
        self.reasons = reasons


def fetch_mnist(
    dest: Path,
    mirrors: list[str] | None = None,
    *,
    progress: bool = True,
    files: Sequence[MnistFile] = PUBLISHED,
    retry: DownloadRetry | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    pace: Pace = Pace(),
    console: Console | None = None,
) -> Path:
    """Make sure `dest` holds the verified MNIST files and return `dest`.

    `mirrors` replaces $WORKSHOP_MNIST_MIRROR and the defaults. `progress` shows a byte progress
    bar when the console (stderr unless given) is a terminal. `files` (names, sizes, MD5s) is the
    published set; tests pass their own. Raises WorkshopError when a file cannot be had.
    """
    fetch_files(
        dest,
        mirrors,
        progress=progress,
        files=files,
        retry=retry,
        timeout=timeout,
        pace=pace,
        console=console,
    )
    return Path(dest)


def fetch_files(
    dest: Path,
    mirrors: list[str] | None = None,
    *,
    progress: bool = True,
    files: Sequence[MnistFile] = PUBLISHED,
    retry: DownloadRetry | None = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    pace: Pace = Pace(),
    console: Console | None = None,
) -> list[FetchResult]:
    """`fetch_mnist`, reporting per file where it came from (for `workshop data fetch`)."""
    dest = Path(dest)
    resolved = resolve_mirrors(mirrors)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkshopError(
            f"cannot create the MNIST directory {dest}: {exc.strerror or exc}",
            hint="choose a writable directory with --dest (or WORKSHOP_DATA_DIR)",
        ) from None
    console = console or Console(stderr=True)
    results: list[FetchResult] = []
    failures: dict[str, list[tuple[str, str]]] = {}
    with (
        stop_signals_interrupt(),  # SIGTERM/SIGHUP unwind like Ctrl-C: no .part file is left
        requests.Session() as session,
        _progress_bar(console, enabled=progress) as bar,
    ):
        # The .gz bytes exactly as published: no transfer compression to undo or get wrong.
        session.headers.update({"Accept-Encoding": "identity", "User-Agent": "aml-workshop"})
        downloader = _Downloader(session, retry or DownloadRetry(), timeout, pace, bar)
        for file in files:
            target = dest / file.name
            existed = target.exists()
            if existed and matches(target, file):
                results.append(FetchResult(file, target, None))
                continue
            try:
                source = downloader.fetch(file, target, resolved)
            except _AllFailed as exc:
                failures[file.name] = exc.reasons
                if existed:
                    failures[file.name].append(
                        (str(target), "exists but is not the published file; left as it is")
                    )
                continue
            results.append(FetchResult(file, target, source, replaced=existed))
    if failures:
        raise WorkshopError(
            _failure_message(dest, len(files), failures),
            hint=LOCAL_COPY_HINT,
            exit_code=ExitCode.SERVICE_FAILED,
        )
    return results


def _failure_message(dest: Path, total: int, failures: dict[str, list[tuple[str, str]]]) -> str:
    lines = [f"could not fetch {len(failures)} of {total} MNIST files into {dest}:"]
    for name, reasons in failures.items():
        if all(why.startswith(_SKIPPED) for _, why in reasons):
            lines.append(f"  {name}: not tried, every mirror was unreachable (see above)")
            continue
        lines.append(f"  {name}")
        lines.extend(f"    - {where}: {why}" for where, why in reasons)
    return "\n".join(lines)


@dataclass
class _Downloader:
    """One fetch run: a shared HTTP session, the retry policy, and what is known unreachable."""

    session: requests.Session
    retry: DownloadRetry
    timeout: tuple[float, float]
    pace: Pace
    bar: Progress
    unreachable: dict[str, str] = field(default_factory=dict)  # mirror spec -> first file's name

    def fetch(self, file: MnistFile, target: Path, mirrors: Sequence[Mirror]) -> str:
        """Put `file` at `target` from the first mirror that has it; return that mirror's spec."""
        task = self.bar.add_task(file.name, total=file.size)
        reasons: list[tuple[str, str]] = []
        for mirror in mirrors:
            if mirror.spec in self.unreachable:
                first = self.unreachable[mirror.spec]
                reasons.append((mirror.spec, f"{_SKIPPED} unreachable when fetching {first}"))
                continue
            try:
                self._from_mirror(mirror, file, target, task)
            except _Failed as exc:
                reasons.append((mirror.spec, str(exc)))
                if isinstance(exc, _Unreachable):
                    self.unreachable[mirror.spec] = file.name
                continue
            self.bar.update(task, completed=file.size)
            return mirror.spec
        raise _AllFailed(reasons)

    def _from_mirror(self, mirror: Mirror, file: MnistFile, target: Path, task: TaskID) -> None:
        """Try one mirror, retrying transient failures with exponential backoff."""
        for attempt in range(1, self.retry.attempts + 1):
            self.bar.reset(task)
            try:
                self._attempt(mirror, file, target, task)
                return
            except _Transient as exc:
                if attempt == self.retry.attempts:
                    reason = f"{exc} (gave up after {attempt} attempts)"
                    raise (_Unreachable if exc.could_not_connect else _Failed)(reason) from None
                self.retry.sleep(self.retry.delay(attempt))

    def _attempt(self, mirror: Mirror, file: MnistFile, target: Path, task: TaskID) -> None:
        """Download into a temporary file next to `target`; rename only once verified."""
        # A hidden, unique name in the same directory (so the rename is atomic); opened with
        # "x" rather than mkstemp so the file gets the usual permissions, not 0600.
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        allowed = self.pace.seconds_for(file.size)
        deadline = time.monotonic() + allowed
        try:
            digest = hashlib.md5(usedforsecurity=False)
            received = 0
            with (
                temp.open("xb") as out,
                contextlib.closing(self._chunks(mirror, file)) as chunks,
            ):
                for chunk in chunks:
                    received += len(chunk)
                    if received > file.size:
                        raise _Failed(f"more than the published {file.size} bytes")
                    if time.monotonic() > deadline and received < file.size:
                        raise _Failed(
                            f"too slow: {received} of {file.size} bytes after {allowed:.3g} s "
                            f"(needs {self.pace.min_rate / 1000:g} kB/s on average)"
                        )
                    out.write(chunk)
                    digest.update(chunk)
                    self.bar.advance(task, len(chunk))
                if received < file.size:
                    short = f"only {received} of the published {file.size} bytes"
                    # Over HTTP a short body is a dropped connection; a short local file is wrong.
                    raise _Transient(short) if mirror.url else _Failed(short)
                if digest.hexdigest() != file.md5:
                    raise _Failed(f"MD5 {digest.hexdigest()}, expected {file.md5}")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def _chunks(self, mirror: Mirror, file: MnistFile) -> Generator[bytes, None, None]:
        if mirror.url is not None:
            return self._http_chunks(mirror.locate(file.name), file)
        assert mirror.directory is not None
        return _local_chunks(mirror.directory, file.name)

    def _http_chunks(self, url: str, file: MnistFile) -> Generator[bytes, None, None]:
        try:
            response = self.session.get(url, stream=True, timeout=self.timeout)
        except requests.RequestException as exc:
            raise _classify(exc) from None
        with response:
            status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(status)
            if response.status_code != 200:
                raise _Failed(status)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) != file.size:
                raise _Failed(f"serves {length} bytes, expected the published {file.size}")
            try:
                # The raw bytes exactly as published: no transparent gzip decoding. read1
                # returns what one socket read brings, so the caller sees a trickle as it comes
                # (stream() would wait for a whole chunk) and can hold it to its deadline.
                while chunk := response.raw.read1(CHUNK, decode_content=False):
                    yield chunk
            except urllib3.exceptions.ReadTimeoutError:
                raise _Transient("timed out while reading") from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise _Transient(f"connection dropped ({_innermost(exc)})") from None


def _local_chunks(directory: Path, name: str) -> Generator[bytes, None, None]:
    if not directory.is_dir():
        raise _Unreachable("no such directory")
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(directory / name, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise _Failed("no such file") from None
    except OSError as exc:
        raise _Failed(f"cannot read it ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as source:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Failed("not a regular file (a FIFO, device or directory)")
        os.set_blocking(fd, True)
        try:
            while chunk := source.read(CHUNK):
                yield chunk
        except OSError as exc:
            raise _Failed(f"cannot read it ({exc.strerror or exc})") from None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from (requests wraps urllib3 wraps socket)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        current = (
            reason
            if isinstance(reason, BaseException)
            else (current.__cause__ or current.__context__)
        )


def _innermost(exc: BaseException) -> str:
    """The root cause in a few words, without connection-pool and URL noise."""
    root = list(_causes(exc))[-1]
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return str(root) or type(root).__name__


def _classify(exc: requests.RequestException) -> Exception:
    """Turn a request that got no response into a retry, or a reason to move on."""
    chain = list(_causes(exc))
    if any(isinstance(e, urllib3.exceptions.NameResolutionError | socket.gaierror) for e in chain):
        url = getattr(exc.request, "url", None)
        host = urlparse(url).hostname if isinstance(url, str) else None
        return _Unreachable(f"host not found ({host or 'unknown'})")
    if isinstance(exc, requests.Timeout):
        could_not_connect = isinstance(exc, requests.ConnectTimeout)
        return _Transient("timed out", could_not_connect=could_not_connect)
    if isinstance(exc, requests.ConnectionError):
        could_not_connect = any(isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain)
        return _Transient(
            f"connection failed ({_innermost(exc)})", could_not_connect=could_not_connect
        )
    return _Failed(f"request failed ({_innermost(exc)})")


def _progress_bar(console: Console, *, enabled: bool) -> Progress:
    """Bytes per file; silent unless asked for and the console is a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not (enabled and console.is_terminal),
    )
