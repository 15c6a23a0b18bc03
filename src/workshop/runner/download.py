"""Inputs that live elsewhere: `https://` files downloaded once, cloud storage named as such.

A public `http(s)://` input is downloaded into `paths.download_cache()` (to a temporary name,
renamed when complete, so an interrupted download never looks finished) with a progress bar.
Datastore and storage URIs (`azureml://datastores/...`, `wasbs://`, `abfss://`...) need the
workspace's credentials; a local run ends with one message that says how to pass a local copy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from workshop.errors import ExitCode, WorkshopError
from workshop.paths import download_cache
from workshop_common.errors import first_line

WEB = ("http://", "https://")


def set_key(where: str) -> str:
    """`inputs.data` from `train.yml: inputs.data` (the key `--set` takes)."""
    return where.split(": ", 1)[-1]


def cloud_only(uri: str, where: str) -> WorkshopError:
    scheme = uri.split("://", 1)[0]
    return WorkshopError(
        f"{where}: {uri} lives in the cloud ({scheme} storage, read with the workspace's "
        "credentials), so a local run cannot read it",
        hint=f"download a copy and pass it: --set {set_key(where)}.path=/path/to/local/copy",
    )


def fetch(url: str, where: str, kind: str | None) -> Path:
    """The downloaded file (uri_file) or the folder that holds it (other types)."""
    folder = download_cache() / hashlib.sha256(url.encode()).hexdigest()[:16]
    name = Path(unquote(urlsplit(url).path)).name
    name = name if name not in {"", ".", ".."} else "download"  # never a path out of `folder`
    target = folder / name
    if not target.is_file():
        _download(url, target, where)
    return target if kind == "uri_file" else folder


def _download(url: str, target: Path, where: str) -> None:
    import requests
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        with requests.get(url, stream=True, timeout=(10, 60)) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0) or None
            columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
            with (
                Progress(*columns, console=Console(stderr=True), transient=True) as progress,
                part.open("wb") as out,
            ):
                task = progress.add_task(f"downloading {target.name}", total=total)
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
        os.replace(part, target)
    except requests.RequestException as exc:
        raise WorkshopError(
            f"{where}: cannot download {url}: {_reason(exc)}",
            hint="check the address and the network (a proxy needs HTTPS_PROXY), or pass a "
            f"local copy: --set {set_key(where)}.path=PATH",
            exit_code=ExitCode.SERVICE_FAILED,
        ) from exc  # `workshop --debug` shows urllib3's whole story
    finally:
        part.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    """What went wrong in a few words, instead of urllib3's "HTTPSConnectionPool(...): Max
    retries exceeded ... (Caused by NameResolutionError(...))"."""
    import socket

    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"the server answered {exc.response.status_code} {exc.response.reason}".rstrip()
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        host = urlsplit(str(exc.request.url if exc.request else "")).hostname or "the host"
        seen: BaseException | None = exc
        while seen is not None:  # the chain and urllib3's `reason` attributes
            if isinstance(seen, socket.gaierror) or "NameResolution" in type(seen).__name__:
                return f"the host name {host} does not resolve"
            if isinstance(seen, ConnectionRefusedError):
                return f"{host} refused the connection"
            nxt = getattr(seen, "reason", None)
            seen = nxt if isinstance(nxt, BaseException) else (seen.__cause__ or seen.__context__)
        return f"could not connect to {host}"
    return first_line(exc)
