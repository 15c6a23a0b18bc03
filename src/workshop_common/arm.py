"""Azure Resource Manager through azure-mgmt-core's pipeline and polling, under one deadline.

Both `workshop preflight` (reads) and the purge providers of the Pulumi program (deletes that
run for minutes) talk to ARM through `ArmClient`:

- an `ARMPipelineClient` whose policies are azure-core's `RequestIdPolicy` (polling re-sends the
  id), `UserAgentPolicy`, `RetryPolicy` (throttling, 5xx, dropped connections; it honours
  Retry-After, retry-after-ms and x-ms-retry-after-ms) bounded by the client's deadline, the ARM
  bearer token (`ARMChallengeAuthenticationPolicy`, which also answers CAE claims challenges)
  restricted to the ARM endpoint's own origin, and a recorder of the last answer for messages;
- `LROPoller` with `ARMPolling` for long-running operations (Azure-AsyncOperation, else Location,
  https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations), whose
  waits end at the same deadline.

Left out on purpose: `RedirectPolicy` (ARM does not redirect, and a redirect would carry the
request elsewhere; azure-core's requests transport never follows one itself) and
`ARMAutoResourceProviderRegistrationPolicy` (it registers a missing resource provider on the
subscription as a side effect: preflight reports an unregistered provider instead, and the purges
only touch resources whose provider is registered already).

azure-core's `BearerTokenCredentialPolicy` adds the token to every request the pipeline sends,
and the poller sends its GETs through the same pipeline to whatever URL the operation names, so
`ArmOriginBearerPolicy` sends the token only when the scheme, host and port are ARM's own.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestTimeoutError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    RequestIdPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.polling import LROPoller
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from azure.mgmt.core.polling.arm_polling import ARMPolling

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

ARM_URL = "https://management.azure.com"
ARM_SCOPE = f"{ARM_URL}/.default"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class Arm(Protocol):
    """The ARM reads preflight makes (tests give preflight a fake with the same `get`)."""

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET `path` (starting with /subscriptions/...); None when ARM answers 404."""
        ...


class ArmTimeout(Exception):
    """The client's deadline passed while retrying, polling or waiting."""

    def __init__(self, waited: float, last: str) -> None:
        self.waited = waited
        self.last = last
        super().__init__(f"not done after {waited:.0f} s; last answer: {last}")


def origin(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) in lower case: what must match for the token to be sent."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def describe(response: HttpResponse) -> str:
    """`HTTP 403 (AuthorizationFailed: message)`: the status and ARM's error code and message."""
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else {}
        detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except ValueError:
        detail = response.text()[:200]
    return f"HTTP {response.status_code}" + (f" ({detail})" if detail else "")


class Deadline:
    """One bound on everything a client does, and ARM's last answer for the message."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.last = "no answer yet"

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep `seconds`, but not past the deadline; raise ArmTimeout once it has passed."""
        remaining = self.remaining()
        if remaining <= 0:
            raise ArmTimeout(self.seconds, self.last)
        if seconds > 0:
            time.sleep(min(seconds, remaining))

    def expired(self) -> ArmTimeout | None:
        return ArmTimeout(self.seconds, self.last) if self.remaining() <= 0 else None


class DeadlineRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy whose waits end at the deadline, plus per-request statuses.

    A request may pass `also_retry_on` (e.g. 409 while a child resource is still deleting) and
    `idempotent=True`, which lets a POST or PATCH be retried like the methods azure-core retries
    by default (after a dropped connection, 429 or 502 too).
    """

    def __init__(self, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["timeout"] = min(settings["timeout"], self.deadline.remaining())
        settings["also_retry_on"] = frozenset(options.pop("also_retry_on", ()))
        if options.pop("idempotent", False):
            settings["methods"] = frozenset(settings["methods"]) | {"POST", "PATCH"}
        return settings

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse) -> bool:
        if settings["total"] and response.http_response.status_code in settings["also_retry_on"]:
            return True
        return super().is_retry(settings, response)

    def sleep(
        self, settings: dict[str, Any], transport: Any, response: PipelineResponse | None = None
    ) -> None:
        """Retry-After when ARM sent one, else azure-core's backoff; never past the deadline."""
        after = self.get_retry_after(response) if response is not None else None
        self.deadline.sleep(after or self.get_backoff_time(settings))


class ArmOriginBearerPolicy(ARMChallengeAuthenticationPolicy):
    """The ARM token on requests to ARM's own origin only; other origins get no token.

    Plain http is allowed only when ARM itself is on a loopback address (the tests' fake ARM).
    """

    def __init__(self, credential: TokenCredential, arm_url: str) -> None:
        super().__init__(credential, ARM_SCOPE)
        self._origin = origin(arm_url)
        parts = urlsplit(arm_url)
        self._loopback_http = parts.scheme == "http" and parts.hostname in LOOPBACK

    def send(self, request: PipelineRequest) -> PipelineResponse:
        if origin(request.http_request.url) != self._origin:
            request.http_request.headers.pop("Authorization", None)
            return self.next.send(request)
        if self._loopback_http:
            request.context["enforce_https"] = False
        return super().send(request)


class _RecordLastAnswer(SansIOHTTPPolicy):
    """Keeps each attempt's answer (or failure) on the deadline, for the timeout message."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    @staticmethod
    def _what(request: PipelineRequest) -> str:
        return f"{request.http_request.method} {request.http_request.url.split('?')[0]}"

    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:
        self.deadline.last = f"{self._what(request)}: {describe(response.http_response)}"

    def on_exception(self, request: PipelineRequest) -> None:
        failure = sys.exc_info()[1]
        self.deadline.last = f"{self._what(request)}: {type(failure).__name__}"


class _DeadlinePolling(ARMPolling):
    """ARMPolling whose waits between polls end at the deadline."""

    def __init__(self, deadline: Deadline, poll_every: float) -> None:
        super().__init__(timeout=poll_every)
        self._deadline = deadline

    def _sleep(self, delay: float) -> None:
        self._deadline.sleep(delay)


class ArmClient:
    """ARM requests with the caller's credential, retries and polling under one deadline.

    `retry` takes azure-core's RetryPolicy settings (`retry_total`, `retry_status`,
    `retry_backoff_factor`, ...); `poll_every` is the wait between polls when ARM sends no
    Retry-After. Use it as a context manager to close its connections.
    """

    def __init__(
        self,
        credential: TokenCredential,
        *,
        arm_url: str = ARM_URL,
        max_wait: float = 300.0,
        poll_every: float = 30.0,
        read_timeout: float = 60.0,
        **retry: Any,
    ) -> None:
        self.arm_url = arm_url.rstrip("/")
        self.deadline = Deadline(max_wait)
        self.poll_every = poll_every
        self._client = ARMPipelineClient(
            base_url=self.arm_url,
            policies=[
                RequestIdPolicy(),
                UserAgentPolicy(sdk_moniker="aml-workshop"),
                DeadlineRetryPolicy(self.deadline, **retry),
                ArmOriginBearerPolicy(credential, self.arm_url),
                _RecordLastAnswer(self.deadline),
            ],
            transport=RequestsTransport(connection_timeout=read_timeout, read_timeout=read_timeout),
        )

    def __enter__(self) -> ArmClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.arm_url + path_or_url

    def send(
        self,
        method: str,
        path_or_url: str,
        params: Mapping[str, str] | None = None,
        *,
        also_retry_on: Collection[int] = (),
        idempotent: bool = False,
    ) -> HttpResponse:
        """One request (retried while transient); `idempotent` lets a POST be retried too."""
        options = {"also_retry_on": frozenset(also_retry_on), "idempotent": idempotent}
        request = HttpRequest(method, self.url(path_or_url), params=dict(params or {}))
        with self._deadline_as_timeout():
            return self._client.send_request(request, **options)

    def wait_for(self, accepted: HttpResponse) -> None:
        """Wait for the long-running operation that `accepted` (a 201/202) started.

        Raises HttpResponseError (with the last poll's answer) when the operation failed or was
        cancelled, or its status URL answered an error; ArmTimeout when the deadline passed.
        """
        initial = PipelineResponse(accepted.request, accepted, PipelineContext(None))
        polling = _DeadlinePolling(self.deadline, self.poll_every)
        with self._deadline_as_timeout():
            LROPoller(self._client, initial, lambda _response: None, polling).result()

    @contextlib.contextmanager
    def _deadline_as_timeout(self) -> Iterator[None]:
        """azure-core's own timeout errors are ArmTimeout once the deadline has passed (its
        retries are bounded by the deadline's remainder, see DeadlineRetryPolicy)."""
        try:
            yield
        except (ServiceRequestTimeoutError, ServiceResponseTimeoutError) as exc:
            expired = self.deadline.expired()
            if expired:
                raise expired from exc
            raise

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET `path`; None on 404; lists follow `nextLink` and come back merged."""
        url: str | None = self.url(path)
        params: dict[str, str] | None = {"api-version": api_version}
        merged: dict[str, Any] | None = None
        while url:
            response = self.send("GET", url, params)
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise HttpResponseError(response=response)
            page: dict[str, Any] = response.json()
            if merged is None:
                merged = page
            else:
                merged.setdefault("value", []).extend(page.get("value", []))
            url, params = page.get("nextLink"), None  # nextLink carries its own query
        return merged
