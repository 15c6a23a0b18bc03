"""A scripted ARM on 127.0.0.1 (real HTTP) and a credential that hands out a fixed token."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken


class FakeCredential:
    """azure-core's TokenCredential protocol (as DefaultAzureCredential): the ARM scope only."""

    def get_token(self, *scopes: str, **_options: Any) -> AccessToken:
        assert scopes == ("https://management.azure.com/.default",)
        return AccessToken("fake-token", int(time.time()) + 3600)


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str


class FakeArm:
    """Answers each (method, path) from its own script; the last answer repeats."""

    def __init__(self) -> None:
        self.scripts: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []
        self.url = ""

    def script(self, method: str, path: str, *answers: Answer) -> None:
        self.scripts[(method, path)] = list(answers)

    def answer(self, method: str, raw_path: str, auth: str) -> Answer:
        parts = urlsplit(raw_path)
        self.seen.append(Seen(method, parts.path, parse_qs(parts.query), auth))
        queue = self.scripts.get((method, parts.path))
        if not queue:
            return Answer(599, {"error": {"code": "Unscripted", "message": raw_path}})
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def calls(self) -> list[tuple[str, str]]:
        return [(s.method, s.path) for s in self.seen]


@contextlib.contextmanager
def serving(fake: FakeArm) -> Iterator[FakeArm]:
    """Serve `fake` on 127.0.0.1 (a port of its own) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            answer = fake.answer(self.command, self.path, self.headers.get("Authorization", ""))
            payload = json.dumps(answer.body).encode() if answer.body is not None else b""
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                self.send_header(key, value.replace("{base}", fake.url))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _reply

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
