"""Will `pulumi up` work in this subscription? Checks that need no workspace, each with its fix.

- the resource providers the stack uses are registered (ARM);
- the cluster's VM size is offered for AmlCompute in the region, and the subscription has vCPU
  quota for at least one node of its family (AmlCompute creation fails without it, even with
  min 0 nodes), ideally for max nodes (azure-ai-ml `compute.list_sizes` / `list_usage`);
- no soft-deleted key vault holds the stack's vault name (ARM `deletedVaults`), and the
  workspace, when its name is known (after a first `pulumi up`), is not in a soft-deleted state.
  Azure publishes no API that lists soft-deleted ML workspaces; the names carry a per-stack random
  suffix, so only re-creating the very same stack can collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workshop.azure import contract
from workshop_common.arm import Arm

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

PROVIDERS = (
    "Microsoft.MachineLearningServices",
    "Microsoft.Storage",
    "Microsoft.KeyVault",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.ContainerRegistry",
)
PROVIDERS_API = "2021-04-01"
KEY_VAULT_API = "2022-07-01"
WORKSPACE_API = "2024-10-01"

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"


@dataclass(frozen=True)
class Target:
    """What the stack will create, from its config (and its outputs once it exists)."""

    subscription_id: str
    location: str
    vm_size: str
    max_nodes: int
    low_priority: bool
    prefix: str
    resource_group: str | None = None
    workspace_name: str | None = None
    key_vault_name: str | None = None


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str  # pass | warn | fail | skip
    detail: str
    fix: str = ""


def run_checks(target: Target, ml: MLClient, arm: Arm) -> list[Check]:
    """Every check, in the order the table shows them; none stops the others."""
    checks = [check_provider(target, arm, namespace) for namespace in PROVIDERS]
    size = _find_size(target, ml)
    checks.append(check_vm_size(target, ml, size))
    checks.append(check_quota(target, ml, size))
    checks.append(check_deleted_vaults(target, arm))
    checks.append(check_workspace_name(target, arm))
    return checks


def check_provider(target: Target, arm: Arm, namespace: str) -> Check:
    found = arm.get(f"/subscriptions/{target.subscription_id}/providers/{namespace}", PROVIDERS_API)
    state = (found or {}).get("registrationState", "NotRegistered")
    name = f"provider {namespace}"
    if state == "Registered":
        return Check(name, PASS, "registered")
    return Check(
        name,
        FAIL,
        f"{state} in subscription {target.subscription_id}",
        f"az provider register --namespace {namespace} --subscription {target.subscription_id} "
        "(takes a few minutes; needs Contributor on the subscription)",
    )


def _field(obj: Any, *keys: str) -> Any:
    """The first of `keys` that is set. azure-ai-ml 1.35's Usage/VmSize copy the REST model's
    `as_dict()` over their attributes, so values arrive under the camelCase REST names
    (`currentValue`, `vCPUs`) while the documented snake_case ones stay None; nested values
    (`name`) are dicts."""
    for key in keys:
        value = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
        if value is not None:
            return value
    return None


def _find_size(target: Target, ml: MLClient) -> Any | None:
    sizes = ml.compute.list_sizes(location=target.location, compute_type="AmlCompute")
    wanted = target.vm_size.lower()
    return next((s for s in sizes if str(_field(s, "name")).lower() == wanted), None)


def check_vm_size(target: Target, ml: MLClient, size: Any | None) -> Check:
    name = f"VM size {target.vm_size}"
    if size is not None:
        cpus = _field(size, "v_cp_us", "vCPUs")
        return Check(name, PASS, f"offered in {target.location} ({cpus} vCPUs, {_family(size)})")
    return Check(
        name,
        FAIL,
        f"not offered for AmlCompute in {target.location}",
        "pick one `az ml compute list-sizes --location "
        f"{target.location} --type AmlCompute` lists, then "
        "`pulumi config set computeVmSize <size>` (or choose another azure-native:location)",
    )


def _family(size: Any) -> str:
    return str(_field(size, "family") or "unknown family")


def _usage_name(usage: Any) -> str:
    name = _field(usage, "name")
    return str(_field(name, "value") if name is not None else "")


def check_quota(target: Target, ml: MLClient, size: Any | None) -> Check:
    kind = "low-priority" if target.low_priority else "dedicated"
    name = f"vCPU quota ({kind})"
    if size is None:
        return Check(name, SKIP, "unknown VM size, so unknown family")
    cpus = int(_field(size, "v_cp_us", "vCPUs") or 0)
    family = _family(size)
    usages = list(ml.compute.list_usage(location=target.location))
    if target.low_priority:  # low priority draws on one regional pool, not per family
        usage = next((u for u in usages if "lowpriority" in _usage_name(u).lower()), None)
        pool = "regional low-priority vCPUs"
    else:
        usage = next((u for u in usages if _usage_name(u).lower() == family.lower()), None)
        pool = f"{family} vCPUs"
    if usage is None:
        return Check(
            name,
            WARN,
            f"no quota entry for {pool} in {target.location}",
            "check Quotas in the Azure ML studio or portal before the workshop",
        )
    limit = int(_field(usage, "limit") or 0)
    used = int(_field(usage, "current_value", "currentValue") or 0)
    free = limit - used
    one, full = cpus, cpus * target.max_nodes
    detail = f"{free} of {limit} {pool} free; one node needs {one}, {target.max_nodes} need {full}"
    request = (
        f"request a {pool} limit of at least {used + full} in {target.location} "
        "(portal: Quotas > Machine learning), or lower computeMaxNodes"
    )
    if free < one:
        return Check(name, FAIL, detail, request)
    if free < full:
        return Check(name, WARN, detail + f": the cluster can reach {free // cpus} nodes", request)
    return Check(name, PASS, detail)


def check_deleted_vaults(target: Target, arm: Arm) -> Check:
    name = "no soft-deleted key vault"
    found = arm.get(
        f"/subscriptions/{target.subscription_id}/providers/Microsoft.KeyVault/deletedVaults",
        KEY_VAULT_API,
    )
    start = contract.KEY_VAULT_NAME_START.format(prefix=target.prefix).lower()
    deleted = [
        (str(v.get("name", "")), str((v.get("properties") or {}).get("location", "")))
        for v in (found or {}).get("value", [])
    ]

    def purge(vault: str, location: str) -> str:
        return f"az keyvault purge --name {vault} --location {location or target.location}"

    if target.key_vault_name:
        exact = [(n, loc) for n, loc in deleted if n.lower() == target.key_vault_name.lower()]
        if exact:
            vault, location = exact[0]
            return Check(
                name,
                FAIL,
                f"{vault} is soft-deleted and blocks the name",
                purge(vault, location) + " (or `pulumi config set nameSuffixSeed <new>`)",
            )
    ours = [(n, loc) for n, loc in deleted if n.lower().startswith(start)]
    if ours:
        names = ", ".join(n for n, _ in ours)
        return Check(
            name,
            WARN,
            f"soft-deleted vaults from earlier '{target.prefix}' stacks: {names} (they only "
            "collide if a stack reuses its suffix)",
            "; ".join(purge(n, loc) for n, loc in ours),
        )
    return Check(name, PASS, f"none named {start}* in the subscription")


def check_workspace_name(target: Target, arm: Arm) -> Check:
    name = "workspace not soft-deleted"
    if not (target.workspace_name and target.resource_group):
        return Check(name, SKIP, "no workspace yet: its name gets a fresh random suffix at up")
    found = arm.get(
        f"/subscriptions/{target.subscription_id}/resourceGroups/{target.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{target.workspace_name}",
        WORKSPACE_API,
    )
    if found is None:
        return Check(name, PASS, f"{target.workspace_name} does not exist; up will create it")
    state = str((found.get("properties") or {}).get("provisioningState", ""))
    if "deleted" in state.lower():
        return Check(
            name,
            FAIL,
            f"{target.workspace_name} is {state}",
            "recover or permanently delete it under Azure Machine Learning > Recently deleted "
            "in the portal, or `pulumi config set nameSuffixSeed <new>` for fresh names",
        )
    return Check(name, PASS, f"{target.workspace_name} exists ({state or 'ok'}); up updates it")
