"""Destroy that leaves nothing soft-deleted: purge the workspace and the key vault.

pulumi-azure-native deletes a workspace and a key vault the ordinary way, which only soft-deletes
them (14 and 7 days) and blocks their names. Two dynamic resources fix that on `pulumi destroy`:

- `WorkspacePurge` deletes the workspace with `forceToPurge=true` while it still exists, and waits
  until ARM answers 404. Pulumi deletes in reverse dependency order, so the graph is
  `storage, key vault, app insights, registry -> workspace -> WorkspacePurge -> compute, datastore,
  data and environment versions, compute instances, trainee grants on the workspace`: everything
  inside the workspace takes the workspace name from `WorkspacePurge`, so it is deleted first;
  the purge then runs while the workspace's own dependencies still exist (they depend on nothing
  that is gone yet); finally azure-native's delete of the workspace finds it gone (404 counts as
  deleted) and the storage account, vault and monitoring go after it.
- `KeyVaultPurge` is the other way round: the vault takes its name from it, so the vault is
  deleted (soft) first and the purge of `deletedVaults/{name}` runs after. Its create also purges a
  soft-deleted vault of the same name left by an earlier stack, so a redeploy is never blocked.

Both do nothing when `enabled` is false (`purgeOnDestroy`). Throttling (429), server errors (5xx),
dropped connections and 409 (a child still deleting) are retried with exponential backoff that
honours Retry-After; everything runs under one deadline, so a purge that keeps failing fails the
destroy with the last ARM answer instead of hanging. Tests point `arm_url` at a local server and
replace `_credential`.

Key vault purge rights (`Microsoft.KeyVault/locations/deletedVaults/read` and `.../purge/action`,
https://learn.microsoft.com/azure/key-vault/general/key-vault-recovery) can only come from the
subscription: a deleted vault's path is `/subscriptions/{id}/providers/Microsoft.KeyVault/
locations/{region}/deletedVaults/{name}`, under no resource group (inferred from the path; Key
Vault Contributor even excludes the purge action). A deployer with rights on one resource group
gets 403 there; that is a warning naming the missing permission, the purge is skipped and
`pulumi up`/`destroy` go on (the vault then stays soft-deleted for its 7 days).

The bearer token goes only to the ARM endpoint's own origin (scheme, host and port): a
long-running operation's Azure-AsyncOperation or Location URL on any other origin is polled
without it, so a redirecting answer cannot collect the deployer's token.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any
from urllib.parse import urlsplit

import pulumi
import requests
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

ARM_URL = "https://management.azure.com"
WORKSPACE_API = "2024-10-01"
KEY_VAULT_API = "2023-07-01"
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class PurgeError(RuntimeError):
    """A purge that ARM refused or that did not finish within its deadline."""


def _origin(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) in lower case: what must match for the token to be sent."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _credential() -> Any:
    """The identity running Pulumi (`az login`, AZURE_* variables, OIDC); tests replace this."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _describe(response: requests.Response) -> str:
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else {}
        detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except ValueError:
        detail = response.text[:200]
    return f"HTTP {response.status_code}" + (f" ({detail})" if detail else "")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    parsed = email.utils.parsedate_to_datetime(value) if value else None
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class Arm:
    """One purge's conversation with ARM: bearer token, retries, and a single deadline."""

    def __init__(
        self,
        base_url: str,
        what: str,
        *,
        max_wait: float,
        poll_every: float,
        max_backoff: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.max_wait = max_wait
        self.poll_every = poll_every
        self.max_backoff = max_backoff
        self.deadline = time.monotonic() + max_wait
        self.credential = _credential()
        self.last = "no answer yet"

    def request(
        self,
        method: str,
        path_or_url: str,
        params: dict[str, str] | None = None,
        *,
        also_retry: frozenset[int] = frozenset(),
    ) -> requests.Response:
        """Send until the answer is not transient (or the deadline passes)."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        to_arm = _origin(url) == _origin(self.base_url)
        attempt = 0
        while True:
            headers = {}
            if to_arm:
                token = self.credential.get_token(f"{ARM_URL}/.default").token
                headers["Authorization"] = f"Bearer {token}"
            remaining = self.deadline - time.monotonic()
            try:
                response = requests.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    # A redirect would carry the request elsewhere; ARM does not redirect.
                    allow_redirects=False,
                    timeout=max(1.0, min(60.0, remaining)),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                self.last = f"{method} {url}: {type(exc).__name__}"
                self.pause(self._backoff(attempt))
                attempt += 1
                continue
            self.last = f"{method} {url.split('?')[0]}: {_describe(response)}"
            if response.status_code in TRANSIENT or response.status_code in also_retry:
                self.pause(_retry_after(response) or self._backoff(attempt))
                attempt += 1
                continue
            return response

    def pause(self, seconds: float) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise PurgeError(
                f"{self.what}: not done after {self.max_wait:.0f} s; last answer: {self.last}. "
                "Check it in the portal, finish it with the az command in the README's cleanup "
                "section, then run `pulumi destroy` again (or set purgeOnDestroy false)."
            )
        time.sleep(min(seconds, remaining))

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.poll_every * 2**attempt)

    def follow(self, accepted: requests.Response) -> None:
        """Wait for a long-running operation (Azure-AsyncOperation, else Location) to finish."""
        status_url = accepted.headers.get("Azure-AsyncOperation")
        location = accepted.headers.get("Location")
        wait = _retry_after(accepted) or self.poll_every
        if status_url:
            while True:
                self.pause(wait)
                response = self.request("GET", status_url)
                if response.status_code >= 400:
                    raise PurgeError(f"{self.what}: polling the operation: {_describe(response)}")
                status = str(response.json().get("status", "")).lower()
                if status == "succeeded":
                    return
                if status in ("failed", "canceled", "cancelled"):
                    raise PurgeError(f"{self.what}: the operation {status}: {_describe(response)}")
                wait = _retry_after(response) or self.poll_every
        elif location:
            while True:
                self.pause(wait)
                response = self.request("GET", location)
                if response.status_code != 202:
                    if response.status_code >= 400 and response.status_code != 404:
                        raise PurgeError(
                            f"{self.what}: polling the operation: {_describe(response)}"
                        )
                    return
                wait = _retry_after(response) or self.poll_every

    def wait_until_gone(
        self, path: str, api_version: str, *, forbidden_ok: bool = False
    ) -> requests.Response | None:
        """Poll until 404; with `forbidden_ok`, a 403 ends the wait and is returned."""
        while True:
            response = self.request("GET", path, {"api-version": api_version})
            if response.status_code == 404:
                return None
            if response.status_code == 403 and forbidden_ok:
                return response
            if response.status_code >= 400:
                raise PurgeError(f"{self.what}: checking it is gone: {_describe(response)}")
            self.pause(self.poll_every)


class _PurgeProvider(ResourceProvider):
    """Shared by both purges: timing (tests shorten it), diff, update and the ARM session."""

    max_wait_seconds: float = 1800.0
    poll_seconds: float = 10.0
    max_backoff_seconds: float = 60.0
    identity_keys: tuple[str, ...] = ()

    def arm(self, props: dict[str, Any], what: str) -> Arm:
        return Arm(
            props.get("arm_url") or ARM_URL,
            what,
            max_wait=self.max_wait_seconds,
            poll_every=self.poll_seconds,
            max_backoff=self.max_backoff_seconds,
        )

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        keys = (*self.identity_keys, "enabled", "arm_url")
        replaces = [k for k in self.identity_keys if _olds.get(k) != _news.get(k)]
        changes = any(_olds.get(k) != _news.get(k) for k in keys)
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_news)


def workspace_path(props: dict[str, Any]) -> str:
    return (
        f"/subscriptions/{props['subscription_id']}/resourceGroups/{props['resource_group_name']}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{props['workspace_name']}"
    )


class WorkspacePurgeProvider(_PurgeProvider):
    """Create checks the workspace is reachable (so a purge cannot fail on access at destroy
    time); delete force-purges it and waits until it is gone."""

    identity_keys = ("subscription_id", "resource_group_name", "workspace_name")

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = workspace_path(props)
        if props.get("enabled"):
            arm = self.arm(props, f"workspace {props['workspace_name']}")
            response = arm.request("GET", path, {"api-version": WORKSPACE_API})
            if response.status_code != 200:
                raise PurgeError(
                    f"workspace {props['workspace_name']}: cannot read it ({_describe(response)}), "
                    "so it could not be purged on destroy; the identity running Pulumi needs "
                    "read and delete rights on it"
                )
        return CreateResult(path, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        if not _props.get("enabled"):
            return
        path = workspace_path(_props)
        arm = self.arm(_props, f"purging workspace {_props['workspace_name']}")
        response = arm.request(
            "DELETE",
            path,
            {"api-version": WORKSPACE_API, "forceToPurge": "true"},
            also_retry=frozenset({409}),  # a compute or another child is still being deleted
        )
        if response.status_code == 404:
            return
        if response.status_code not in (200, 201, 202, 204):
            raise PurgeError(f"purging workspace {_props['workspace_name']}: {_describe(response)}")
        if response.status_code in (201, 202):
            arm.follow(response)
        arm.wait_until_gone(path, WORKSPACE_API)


def deleted_vault_path(props: dict[str, Any]) -> str:
    return (
        f"/subscriptions/{props['subscription_id']}/providers/Microsoft.KeyVault/locations/"
        f"{props['location']}/deletedVaults/{props['vault_name']}"
    )


READ_DELETED_VAULTS = "Microsoft.KeyVault/locations/deletedVaults/read"
PURGE_DELETED_VAULTS = "Microsoft.KeyVault/locations/deletedVaults/purge/action"


def skipped_for_lack_of_rights(
    vault: str,
    permission: str,
    response: requests.Response,
    outcome: str = "purge skipped; it stays soft-deleted for its retention days and blocks its "
    "name until then",
) -> str:
    """The warning for a 403 on deletedVaults: which permission, where, and what it means."""
    return (
        f"key vault {vault}: {_describe(response)}: the identity running Pulumi lacks "
        f"{permission}, which only a role on the subscription can grant (e.g. Contributor; Key "
        f"Vault Contributor excludes purging); {outcome}. An administrator can run "
        f"`az keyvault purge --name {vault}`."
    )


class KeyVaultPurgeProvider(_PurgeProvider):
    """Create purges a leftover soft-deleted vault of the same name; delete purges ours.

    A 403 on deletedVaults never fails `pulumi up` or `pulumi destroy`: it is a warning (see the
    module docstring) and the outputs record it in `purge_skipped`.
    """

    identity_keys = ("subscription_id", "location", "vault_name")
    not_found_grace_seconds: float = 60.0
    """How long a 404 from deletedVaults is retried right after the delete (ARM lags)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = {**props, "purge_skipped": None}
        if props.get("enabled"):
            vault = props["vault_name"]
            arm = self.arm(props, f"purging the soft-deleted key vault {vault}")
            found = arm.request("GET", deleted_vault_path(props), {"api-version": KEY_VAULT_API})
            if found.status_code == 200:
                outs["purge_skipped"] = self._purge(arm, props, grace=0.0)
            elif found.status_code == 403:
                outs["purge_skipped"] = _warn(
                    skipped_for_lack_of_rights(vault, READ_DELETED_VAULTS, found)
                )
            elif found.status_code != 404:
                raise PurgeError(
                    f"key vault {vault}: cannot look up deleted vaults ({_describe(found)}); "
                    f"the identity running Pulumi needs {READ_DELETED_VAULTS} and "
                    f"{PURGE_DELETED_VAULTS} on the subscription"
                )
        return CreateResult(deleted_vault_path(props), outs=outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        if _props.get("enabled"):
            arm = self.arm(_props, f"purging key vault {_props['vault_name']}")
            self._purge(arm, _props, grace=self.not_found_grace_seconds)

    def _purge(self, arm: Arm, props: dict[str, Any], grace: float) -> str | None:
        """Purge the soft-deleted vault; the warning given when rights are missing, else None."""
        vault = props["vault_name"]
        path = deleted_vault_path(props)
        grace_ends = time.monotonic() + grace
        while True:
            response = arm.request(
                "POST", f"{path}/purge", {"api-version": KEY_VAULT_API}, also_retry=frozenset({409})
            )
            if response.status_code != 404:
                break
            if time.monotonic() >= grace_ends:
                pulumi.log.info(f"key vault {vault}: not soft-deleted, nothing to purge")
                return None
            arm.pause(arm.poll_every)
        if response.status_code == 403:
            return _warn(skipped_for_lack_of_rights(vault, PURGE_DELETED_VAULTS, response))
        if response.status_code not in (200, 202, 204):
            raise PurgeError(f"purging key vault {vault}: {_describe(response)}")
        if response.status_code == 202:
            arm.follow(response)
        refused = arm.wait_until_gone(path, KEY_VAULT_API, forbidden_ok=True)
        if refused is not None:  # the purge was accepted; only checking that it is done was not
            return _warn(
                skipped_for_lack_of_rights(
                    vault, READ_DELETED_VAULTS, refused, "purge requested but not confirmed"
                )
            )
        return None


def _warn(message: str) -> str:
    """Show `message` as a Pulumi warning and return it.

    A dynamic provider has no engine connection (pulumi/pulumi#6065), so `pulumi.log.warn`
    prints "warning: ..." to the provider's stderr, which the CLI shows with the resource
    (pulumi/pulumi#4009 shows the same path for log.debug).
    """
    pulumi.log.warn(message)
    return message


class WorkspacePurge(pulumi.dynamic.Resource):
    """Purges the workspace on destroy; children take `workspace_name` from here (see above)."""

    workspace_name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        subscription_id: pulumi.Input[str],
        resource_group_name: pulumi.Input[str],
        workspace_name: pulumi.Input[str],
        enabled: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subscription_id": subscription_id,
            "resource_group_name": resource_group_name,
            "workspace_name": workspace_name,
            "enabled": enabled,
            "arm_url": ARM_URL,
        }
        super().__init__(WorkspacePurgeProvider(), resource_name, props, opts)


class KeyVaultPurge(pulumi.dynamic.Resource):
    """Purges the key vault after its delete; the vault takes `vault_name` from here."""

    vault_name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        subscription_id: pulumi.Input[str],
        location: str,
        vault_name: pulumi.Input[str],
        enabled: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "subscription_id": subscription_id,
            "location": location,
            "vault_name": vault_name,
            "enabled": enabled,
            "arm_url": ARM_URL,
        }
        super().__init__(KeyVaultPurgeProvider(), resource_name, props, opts)
