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

Both do nothing when `enabled` is false (`purgeOnDestroy`). They talk to ARM through
`workshop_common.arm.ArmClient` (azure-mgmt-core's pipeline and `ARMPolling`): throttling (429),
server errors (5xx), dropped connections and 409 (a child still deleting) are retried with
azure-core's exponential backoff, honouring Retry-After; retries, polls and waits run under one
deadline (`max_wait_seconds`, 30 minutes), so a purge that keeps failing fails the destroy with
the last ARM answer instead of hanging. Tests point `arm_url` at a local server and replace
`_credential`.

Key vault purge rights (`Microsoft.KeyVault/locations/deletedVaults/read` and `.../purge/action`,
https://learn.microsoft.com/azure/key-vault/general/key-vault-recovery) can only come from the
subscription: a deleted vault's path is `/subscriptions/{id}/providers/Microsoft.KeyVault/
locations/{region}/deletedVaults/{name}`, under no resource group (inferred from the path; Key
Vault Contributor even excludes the purge action). A deployer with rights on one resource group
gets 403 there; that is a warning naming the missing permission, the purge is skipped and
`pulumi up`/`destroy` go on (the vault then stays soft-deleted for its 7 days).

The bearer token goes only to the ARM endpoint's own origin (scheme, host and port): a
long-running operation's Azure-AsyncOperation or Location URL on any other origin is polled
without it, so a redirecting answer cannot collect the deployer's token (see
`workshop_common.arm.ArmOriginBearerPolicy`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any, cast

import pulumi
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpResponse
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from workshop_common.arm import ARM_URL, ArmClient, ArmTimeout, describe
from workshop_common.errors import first_line

WORKSPACE_API = "2024-10-01"
KEY_VAULT_API = "2023-07-01"
RETRIES = 100
"""azure-core's retry counts for a purge: high, so that the deadline is what ends one that keeps
failing (a bound still, for a server that keeps answering Retry-After: 0)."""
STILL_DELETING = frozenset({409})  # a compute or another child is still being deleted
FAILED = frozenset({"failed", "canceled", "cancelled"})


class PurgeError(RuntimeError):
    """A purge that ARM refused or that did not finish within its deadline."""


def _credential() -> Any:
    """The identity running Pulumi (`az login`, AZURE_* variables, OIDC); tests replace this."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def follow(arm: ArmClient, accepted: HttpResponse, what: str) -> None:
    """Wait for the long-running operation `accepted` started; its failure is a PurgeError."""
    try:
        arm.wait_for(accepted)
    except HttpResponseError as exc:
        polled = cast(HttpResponse | None, exc.response)
        if polled is None:
            raise PurgeError(f"{what}: polling the operation: {first_line(exc)}") from exc
        if polled.status_code == 404 and "Azure-AsyncOperation" not in accepted.headers:
            return  # a Location that is gone: the operation is over (the caller checks the result)
        status = _operation_status(polled)
        if status in FAILED:
            raise PurgeError(f"{what}: the operation {status}: {describe(polled)}") from exc
        raise PurgeError(f"{what}: polling the operation: {describe(polled)}") from exc


def _operation_status(response: HttpResponse) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("status", "")).lower() if isinstance(body, dict) else ""


def wait_until_gone(
    arm: ArmClient, path: str, api_version: str, what: str, *, forbidden_ok: bool = False
) -> HttpResponse | None:
    """Poll until 404; with `forbidden_ok`, a 403 ends the wait and is returned."""
    while True:
        response = arm.send("GET", path, {"api-version": api_version})
        if response.status_code == 404:
            return None
        if response.status_code == 403 and forbidden_ok:
            return response
        if response.status_code >= 400:
            raise PurgeError(f"{what}: checking it is gone: {describe(response)}")
        arm.deadline.sleep(arm.poll_every)


class _PurgeProvider(ResourceProvider):
    """Shared by both purges: timing (tests shorten it), diff, update and the ARM client."""

    max_wait_seconds: float = 1800.0
    poll_seconds: float = 10.0
    max_backoff_seconds: float = 60.0
    identity_keys: tuple[str, ...] = ()

    @contextlib.contextmanager
    def arm(self, props: dict[str, Any], what: str) -> Iterator[ArmClient]:
        """One purge's ARM client; its deadline and transport failures become PurgeError."""
        with ArmClient(
            _credential(),
            arm_url=props.get("arm_url") or ARM_URL,
            max_wait=self.max_wait_seconds,
            poll_every=self.poll_seconds,
            retry_total=RETRIES,
            retry_connect=RETRIES,
            retry_read=RETRIES,
            retry_status=RETRIES,
            retry_backoff_factor=self.poll_seconds,
            retry_backoff_max=self.max_backoff_seconds,
        ) as arm:
            try:
                yield arm
            except ArmTimeout as exc:
                raise PurgeError(
                    f"{what}: {exc}. Check it in the portal, finish it with the az command in the "
                    "README's cleanup section, then run `pulumi destroy` again (or set "
                    "purgeOnDestroy false)."
                ) from exc
            except AzureError as exc:
                raise PurgeError(f"{what}: {first_line(exc)}") from exc

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
            what = f"workspace {props['workspace_name']}"
            with self.arm(props, what) as arm:
                response = arm.send("GET", path, {"api-version": WORKSPACE_API})
            if response.status_code != 200:
                raise PurgeError(
                    f"{what}: cannot read it ({describe(response)}), so it could not be purged on "
                    "destroy; the identity running Pulumi needs read and delete rights on it"
                )
        return CreateResult(path, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        if not _props.get("enabled"):
            return
        path = workspace_path(_props)
        what = f"purging workspace {_props['workspace_name']}"
        with self.arm(_props, what) as arm:
            response = arm.send(
                "DELETE",
                path,
                {"api-version": WORKSPACE_API, "forceToPurge": "true"},
                also_retry_on=STILL_DELETING,
            )
            if response.status_code == 404:
                return
            if response.status_code not in (200, 201, 202, 204):
                raise PurgeError(f"{what}: {describe(response)}")
            if response.status_code in (201, 202):
                follow(arm, response, what)
            wait_until_gone(arm, path, WORKSPACE_API, what)


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
    response: HttpResponse,
    outcome: str = "purge skipped; it stays soft-deleted for its retention days and blocks its "
    "name until then",
) -> str:
    """The warning for a 403 on deletedVaults: which permission, where, and what it means."""
    return (
        f"key vault {vault}: {describe(response)}: the identity running Pulumi lacks "
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
            with self.arm(props, f"purging the soft-deleted key vault {vault}") as arm:
                found = arm.send("GET", deleted_vault_path(props), {"api-version": KEY_VAULT_API})
                if found.status_code == 200:
                    outs["purge_skipped"] = self._purge(arm, props, grace=0.0)
            if found.status_code == 403:
                outs["purge_skipped"] = _warn(
                    skipped_for_lack_of_rights(vault, READ_DELETED_VAULTS, found)
                )
            elif found.status_code not in (200, 404):
                raise PurgeError(
                    f"key vault {vault}: cannot look up deleted vaults ({describe(found)}); "
                    f"the identity running Pulumi needs {READ_DELETED_VAULTS} and "
                    f"{PURGE_DELETED_VAULTS} on the subscription"
                )
        return CreateResult(deleted_vault_path(props), outs=outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        if _props.get("enabled"):
            with self.arm(_props, f"purging key vault {_props['vault_name']}") as arm:
                self._purge(arm, _props, grace=self.not_found_grace_seconds)

    def _purge(self, arm: ArmClient, props: dict[str, Any], grace: float) -> str | None:
        """Purge the soft-deleted vault; the warning given when rights are missing, else None."""
        vault = props["vault_name"]
        what = f"purging key vault {vault}"
        path = deleted_vault_path(props)
        grace_ends = time.monotonic() + grace
        while True:
            response = arm.send(
                "POST",
                f"{path}/purge",
                {"api-version": KEY_VAULT_API},
                also_retry_on=STILL_DELETING,
                idempotent=True,  # a repeated purge finds nothing left to purge
            )
            if response.status_code != 404:
                break
            if time.monotonic() >= grace_ends:
                pulumi.log.info(f"key vault {vault}: not soft-deleted, nothing to purge")
                return None
            arm.deadline.sleep(arm.poll_every)
        if response.status_code == 403:
            return _warn(skipped_for_lack_of_rights(vault, PURGE_DELETED_VAULTS, response))
        if response.status_code not in (200, 202, 204):
            raise PurgeError(f"{what}: {describe(response)}")
        if response.status_code == 202:
            follow(arm, response, what)
        refused = wait_until_gone(arm, path, KEY_VAULT_API, what, forbidden_ok=True)
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
