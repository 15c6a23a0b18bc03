"""The ARM bearer token for the workspace's MLflow server: in each request, never in os.environ.

A token in `MLFLOW_TRACKING_TOKEN` is inherited by every child process (a notebook's `!` commands,
`workshop run`'s trials, ...). Here the requests go to a fake MLflow REST server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken

from workshop.azure import jobs
from workshop.azure.jobs import AzureTracking, MlflowMetrics, workspace_tracking
from workshop.notebook_support import accuracy_by_k
from workshop_common.arm import ARM_SCOPE


class Credential:
    """Hands out a new token on every call, as azure-identity does once one nears expiry."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        assert scopes == (ARM_SCOPE,)
        self.calls += 1
        return AccessToken(f"token-{self.calls}", int(time.time()) + 3600)


RUN = {
    "info": {
        "run_id": "job-1",
        "run_uuid": "job-1",
        "experiment_id": "7",
        "status": "FINISHED",
        "lifecycle_stage": "active",
    },
    "data": {
        "metrics": [{"key": "accuracy", "value": 0.97, "timestamp": 1, "step": 0}],
        "params": [{"key": "k", "value": "3"}],
    },
}
HISTORY = [
    {"key": "accuracy_k", "value": v, "timestamp": 1, "step": k} for k, v in ((1, 0.96), (3, 0.97))
]


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            seen.append({"path": url.path, "auth": self.headers.get("Authorization", "")})
            query = parse_qs(url.query)
            if url.path.endswith("/runs/get") and query.get("run_id") == ["job-1"]:
                body: dict[str, Any] = {"run": RUN}
            elif url.path.endswith("/metrics/get-history"):
                body = {"metrics": HISTORY}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_each_request_carries_a_token_fetched_for_it(
    server: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, seen = server
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    credential = Credential()
    tracking = AzureTracking(uri, credential)
    reader = MlflowMetrics(tracking)
    assert reader.run("job-1").metrics == {"accuracy": 0.97}
    assert accuracy_by_k(tracking, "job-1") == {1: 0.96, 3: 0.97}
    assert [s["auth"] for s in seen] == ["Bearer token-1", "Bearer token-2"]
    assert "MLFLOW_TRACKING_TOKEN" not in os.environ


def test_the_workspace_tracking_never_puts_the_token_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    credential = Credential()
    workspace = SimpleNamespace(
        mlflow_tracking_uri="azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s"
    )
    session: Any = SimpleNamespace(
        workspace=SimpleNamespace(name="ws"),
        credential=credential,
        ml=SimpleNamespace(workspaces=SimpleNamespace(get=lambda name: workspace)),
    )
    tracking = workspace_tracking(session)
    jobs.metrics_reader(session)
    assert tracking.uri == "https://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s"
    assert tracking.credential is credential
    assert credential.calls == 0  # no token taken until a request needs one
    assert "MLFLOW_TRACKING_TOKEN" not in os.environ
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('MLFLOW_TRACKING_TOKEN'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.strip() == "None"
