"""Plain ARM REST reads (resource providers, deleted key vaults, a workspace by id).

azure-mgmt-resource is not a dependency; three GETs through azure-mgmt-core's pipeline (retries,
ARM bearer-token auth) are all preflight needs. Tests give preflight a fake with the same `get`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

ARM_URL = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"


class Arm(Protocol):
    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET `path` (starting with /subscriptions/...); None when ARM answers 404."""
        ...


class ArmClient:
    """ARM GETs with the caller's credential; follows `nextLink` for lists."""

    def __init__(self, credential: TokenCredential) -> None:
        from azure.core.pipeline.policies import RetryPolicy
        from azure.mgmt.core import ARMPipelineClient
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

        self._client: Any = ARMPipelineClient(
            base_url=ARM_URL,
            policies=[RetryPolicy(), ARMChallengeAuthenticationPolicy(credential, ARM_SCOPE)],
        )

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest

        url: str | None = f"{ARM_URL}{path}?api-version={api_version}"
        merged: dict[str, Any] | None = None
        while url:
            response = self._client.send_request(HttpRequest("GET", url))
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise HttpResponseError(response=response)
            page: dict[str, Any] = response.json()
            if merged is None:
                merged = page
            else:
                merged.setdefault("value", []).extend(page.get("value", []))
            url = page.get("nextLink")
        return merged
