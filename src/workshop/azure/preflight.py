"""Will `pulumi up` work in this subscription? Checks that need no workspace, each with its fix.

- the resource providers the stack uses are registered (ARM);
- the cluster's VM size is offered for AmlCompute in the region, and the subscription has vCPU
  quota for at least one node of its family (AmlCompute creation fails without it, even with
  min 0 nodes), ideally for max nodes (azure-ai-ml `compute.list_sizes` / `list_usage`);
- the whole workshop fits the regional quota of each VM family it uses: the cluster at max nodes,
  every trainee's compute instance and one online deployment per trainee (ceil(1.2 x instances)
  x cores each); when not every trainee fits, how many do;
- no soft-deleted key vault holds the stack's vault name (ARM `deletedVaults`), and the
  workspace, when its name is known (after a first `pulumi up`), is not in a soft-deleted state.
  Azure publishes no API that lists soft-deleted ML workspaces; the names carry a per-stack random
  suffix, so only re-creating the very same stack can collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workshop_common import contract
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
    "Microsoft.ManagedIdentity",  # the cluster's user-assigned identity
    "Microsoft.Consumption",  # the budget
)
"""Resource providers the program's resources need registered (tests/infra/test_infra_graph.py
fails when the program uses one that is missing here)."""
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
    trainees: int = 0
    """Listed trainees: each gets one online deployment of their own (jobs/deployment.yml)."""
    instances: int = 0
    """Personal compute instances the stack creates (trainees of principal type User)."""
    instance_vm_size: str | None = None
    deployment_vm_size: str | None = None
    deployment_instances: int = 0


@dataclass(frozen=True)
class Check:
    name: str
    outcome: str  # pass | warn | fail | skip
    detail: str
    fix: str = ""


def run_checks(target: Target, ml: MLClient, arm: Arm) -> list[Check]:
    """Every check, in the order the table shows them; none stops the others."""
    checks = [check_provider(target, arm, namespace) for namespace in PROVIDERS]
    offered = list(ml.compute.list_sizes(location=target.location, compute_type="AmlCompute"))
    size = _find_size(target.vm_size, offered)
    checks.append(check_vm_size(target, size))
    extra = {role: vm for role, vm in _workshop_sizes(target).items() if vm}
    sizes = {role: _find_size(vm, offered) for role, vm in extra.items()}
    checks += [check_other_size(target, role, extra[role], sizes[role]) for role in extra]
    checks += check_quota(target, ml, size, sizes)
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


def _find_size(vm_size: str, offered: list[Any]) -> Any | None:
    wanted = vm_size.lower()
    return next((s for s in offered if str(_field(s, "name")).lower() == wanted), None)


def _cpus(size: Any) -> int:
    return int(_field(size, "v_cp_us", "vCPUs") or 0)


def check_vm_size(target: Target, size: Any | None) -> Check:
    name = f"VM size {target.vm_size}"
    if size is not None:
        return Check(
            name, PASS, f"offered in {target.location} ({_cpus(size)} vCPUs, {_family(size)})"
        )
    return Check(
        name,
        FAIL,
        f"not offered for AmlCompute in {target.location}",
        "pick one `az ml compute list-sizes --location "
        f"{target.location} --type AmlCompute` lists, then "
        "`pulumi config set computeVmSize <size>` (or choose another azure-native:location)",
    )


INSTANCES, DEPLOYMENTS = "compute instances", "deployments"


def _workshop_sizes(target: Target) -> dict[str, str | None]:
    """The VM sizes besides the cluster's that the workshop uses, by role."""
    return {
        INSTANCES: target.instance_vm_size if target.instances else None,
        DEPLOYMENTS: target.deployment_vm_size if target.deployment_instances else None,
    }


def check_other_size(target: Target, role: str, vm_size: str, size: Any | None) -> Check:
    """The trainees' instance and deployment sizes: unknown ones leave their quota uncounted."""
    name = f"VM size {vm_size} ({role})"
    if size is not None:
        return Check(name, PASS, f"{_cpus(size)} vCPUs, {_family(size)}")
    fix = (
        f"pulumi config set {contract.CONFIG_INSTANCE_VM_SIZE} <size>"
        if role == INSTANCES
        else "set instance_type in jobs/deployment.yml to a size of the managed online "
        "endpoints SKU list (https://learn.microsoft.com/en-us/azure/machine-learning/"
        "reference-managed-online-endpoints-vm-sku-list)"
    )
    return Check(
        name,
        WARN,
        f"not in the AmlCompute size list of {target.location}: its vCPU quota is not counted",
        fix,
    )


def _family(size: Any) -> str:
    return str(_field(size, "family") or "unknown family")


def _usage_name(usage: Any) -> str:
    name = _field(usage, "name")
    return str(_field(name, "value") if name is not None else "")


def deployment_reserve(instances: int) -> int:
    """Instances' worth of quota a managed online deployment holds: ceil(1.2 x instances).

    Azure ML keeps 20% extra for upgrades and recovery ("you must have a quota for
    ceil(1.2 * number of instances requested for deployment) * number of cores for the VM SKU"),
    https://learn.microsoft.com/en-us/azure/machine-learning/how-to-manage-quotas#virtual-machine-quota-allocation-for-deployment
    Some SKUs are exempt; counting every one is the safe side. Integer arithmetic: in floats
    1.2 * 10 is 12.000000000000002, whose ceiling would be 13.
    """
    return -(-instances * 6 // 5)


@dataclass(frozen=True)
class Pool:
    """One regional vCPU quota and what the workshop takes from it."""

    key: str  # the usage name: a VM family, or "lowpriority" for the regional low-priority pool
    label: str
    cluster_cpus: int = 0  # per cluster node, if the cluster draws from this pool
    instance_cpus: int = 0  # per compute instance
    deployment_cpus: int = 0  # per trainee deployment (reserve included)

    def need(self, target: Target, nodes: int, trainees: int) -> int:
        """vCPUs for `nodes` cluster nodes and `trainees` trainees' instances and deployments."""
        return (
            nodes * self.cluster_cpus
            + _instances(target, trainees) * self.instance_cpus
            + _deployments(target, trainees) * self.deployment_cpus
        )

    def parts(self, target: Target, nodes: int) -> str:
        instances = _instances(target, target.trainees)
        deployments = _deployments(target, target.trainees)
        pieces = []
        if self.cluster_cpus:
            pieces.append(f"cluster {nodes} x {self.cluster_cpus}")
        if self.instance_cpus and instances:
            pieces.append(f"{instances} compute instances x {self.instance_cpus}")
        if self.deployment_cpus and deployments:
            reserve = deployment_reserve(target.deployment_instances)
            pieces.append(
                f"{deployments} deployments x {reserve} instances "
                f"(ceil 1.2 x {target.deployment_instances}) x {self.deployment_cpus // reserve}"
            )
        return " + ".join(pieces)


def _instances(target: Target, trainees: int) -> int:
    return min(trainees, target.instances)


def _deployments(target: Target, trainees: int) -> int:
    """One deployment per trainee; with none listed, the instructor's one."""
    return max(trainees, 1) if target.deployment_instances else 0


def _pools(target: Target, size: Any, sizes: dict[str, Any | None]) -> dict[str, Pool]:
    """The quota pools the workshop draws on, keyed by usage name (lowercase)."""
    pools: dict[str, Pool] = {}

    def add(key: str, label: str, **cpus: int) -> None:
        current = pools.get(key.lower(), Pool(key, label))
        pools[key.lower()] = Pool(
            current.key,
            current.label,
            **{f: getattr(current, f) + cpus.get(f, 0) for f in _CPU_FIELDS},
        )

    if target.low_priority:  # low priority draws on one regional pool, not per family
        add("lowpriority", "regional low-priority vCPUs", cluster_cpus=_cpus(size))
    else:
        add(_family(size), f"{_family(size)} vCPUs", cluster_cpus=_cpus(size))
    instance, deployment = sizes.get(INSTANCES), sizes.get(DEPLOYMENTS)
    if instance is not None:  # compute instances and deployments are always dedicated
        add(_family(instance), f"{_family(instance)} vCPUs", instance_cpus=_cpus(instance))
    if deployment is not None:
        reserve = deployment_reserve(target.deployment_instances)
        add(
            _family(deployment),
            f"{_family(deployment)} vCPUs",
            deployment_cpus=reserve * _cpus(deployment),
        )
    return pools


_CPU_FIELDS = ("cluster_cpus", "instance_cpus", "deployment_cpus")


def _find_usage(usages: list[Any], pool: Pool) -> Any | None:
    if pool.key == "lowpriority":
        return next((u for u in usages if "lowpriority" in _usage_name(u).lower()), None)
    return next((u for u in usages if _usage_name(u).lower() == pool.key.lower()), None)


def trainees_that_fit(target: Target, pool: Pool, free: int) -> int:
    """The most trainees (up to all) whose instances and deployments fit beside one node."""
    nodes = 1 if pool.cluster_cpus else 0
    fit = -1
    for trainees in range(target.trainees + 1):
        if pool.need(target, nodes, trainees) > free:
            break
        fit = trainees
    return fit


def check_quota(
    target: Target, ml: MLClient, size: Any | None, sizes: dict[str, Any | None] | None = None
) -> list[Check]:
    """Per quota pool: the cluster at max nodes, every trainee's compute instance and one
    deployment per trainee, against the regional quota (list_usage). Clusters, compute
    instances and managed online deployments of one VM family share that family's quota
    (https://learn.microsoft.com/en-us/azure/machine-learning/how-to-manage-quotas)."""
    if size is None:
        return [Check("vCPU quota", SKIP, "unknown VM size, so unknown family")]
    usages = list(ml.compute.list_usage(location=target.location))
    pools = _pools(target, size, sizes or {})
    checks: list[Check] = []
    fits: list[tuple[int, str]] = []
    for pool in pools.values():
        name = f"vCPU quota: {pool.label.removesuffix(' vCPUs')}"
        usage = _find_usage(usages, pool)
        if usage is None:
            checks.append(
                Check(
                    name,
                    WARN,
                    f"no quota entry for {pool.label} in {target.location}",
                    "check Quotas in the Azure ML studio or portal before the workshop",
                )
            )
            continue
        checks.append(_pool_check(target, pool, usage, name, fits))
    if target.trainees:
        checks.append(_trainees_check(target, fits))
    return checks


def _pool_check(
    target: Target, pool: Pool, usage: Any, name: str, fits: list[tuple[int, str]]
) -> Check:
    limit = int(_field(usage, "limit") or 0)
    used = int(_field(usage, "current_value", "currentValue") or 0)
    free = limit - used
    nodes = target.max_nodes if pool.cluster_cpus else 0
    full = pool.need(target, nodes, target.trainees)
    least = pool.need(target, 1 if pool.cluster_cpus else 0, target.trainees)
    fits.append((trainees_that_fit(target, pool, free), pool.label))
    detail = f"{free} of {limit} {pool.label} free; needs {full}: {pool.parts(target, nodes)}"
    request = (
        f"request a {pool.label} limit of at least {used + full} in {target.location} "
        "(portal: Quotas > Machine learning), or lower computeMaxNodes"
        + (" or the number of trainees" if target.trainees else "")
    )
    if free < least:
        if pool.cluster_cpus and free < pool.cluster_cpus:
            detail += f"; not even one cluster node ({pool.cluster_cpus})"
        return Check(name, FAIL, detail, request)
    if free < full:
        reach = (free - pool.need(target, 0, target.trainees)) // pool.cluster_cpus
        return Check(name, WARN, detail + f": the cluster can reach {reach} nodes", request)
    return Check(name, PASS, detail)


def _trainees_check(target: Target, fits: list[tuple[int, str]]) -> Check:
    name = "trainees the quota holds"
    each = (
        f"each trainee: {'a compute instance and ' if target.instances else ''}"
        f"a deployment of {target.deployment_instances} x {target.deployment_vm_size}"
    )
    if not fits:
        return Check(name, WARN, f"unknown (no quota entries); {each}")
    fit, pool = min(fits)
    if fit >= target.trainees:
        return Check(name, PASS, f"all {target.trainees} trainees ({each})")
    return Check(
        name,
        FAIL,
        f"{max(fit, 0)} of {target.trainees} trainees fit ({each}), limited by {pool}",
        f"raise the {pool} quota (see its row), or run the workshop with at most "
        f"{max(fit, 0)} trainees",
    )


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
