"""The stack's settings: declared once (`SETTINGS`), read into one typed object, checked up front.

`Pulumi.yaml` declares the same keys, types, defaults and descriptions (a test keeps the two in
step). Every value is validated before a resource is declared, so a bad stack fails `pulumi preview`
at once with a message naming the key, the value and the rule.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from workshop_infra.errors import ConfigError
from workshop_infra.naming import MAX_PREFIX_LENGTH, RULES, check_prefix

PROJECT = "aml-workshop"
LOCATION_KEY = "azure-native:location"


@dataclass(frozen=True)
class Setting:
    """One project setting as Pulumi.yaml declares it."""

    key: str
    type: str  # Pulumi.yaml config type: string | integer | boolean
    default: str | int | bool
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "prefix",
        "string",
        "mnistws",
        f"Start of every resource name: 2-{MAX_PREFIX_LENGTH} lowercase letters, digits and "
        "single hyphens, starting with a letter.",
    ),
    Setting(
        "nameSuffixSeed",
        "string",
        "1",
        "Change it to give every globally unique name a fresh random suffix (forces replacement).",
    ),
    Setting(
        "existingResourceGroup",
        "string",
        "",
        "Deploy into this existing resource group instead of creating one (empty: create one).",
    ),
    Setting(
        "workspaceFriendlyName",
        "string",
        "MNIST hands-on",
        "Workspace display name trainees see in Azure ML Studio.",
    ),
    Setting(
        "workspaceDescription",
        "string",
        "Azure ML hands-on: logistic regression and k-NN on MNIST, then deploy the model.",
        "Workspace description trainees see in Azure ML Studio.",
    ),
    Setting(
        "publicNetworkAccess",
        "boolean",
        True,
        "Reach the workspace from the internet (false: private endpoints only, which you add).",
    ),
    Setting(
        "managedNetwork",
        "string",
        "Disabled",
        "Managed network isolation: Disabled, AllowInternetOutbound or AllowOnlyApprovedOutbound "
        "(cannot be switched off again once on).",
    ),
    Setting(
        "containerRegistry",
        "boolean",
        False,
        "Create a Basic container registry (admin user off); false: the workspace creates one "
        "on demand at the first image build.",
    ),
    Setting(
        "keyVaultPurgeProtection",
        "boolean",
        False,
        "Purge protection on the key vault; irreversible, and blocks the vault name for the "
        "retention period after a destroy. Off for workshop stacks.",
    ),
    Setting(
        "computeVmSize",
        "string",
        "Standard_DS3_v2",
        "VM size of the cpu-cluster nodes (Standard_<family>...).",
    ),
    Setting(
        "computeMinNodes", "integer", 0, "Nodes kept running when idle (0: no cost when idle)."
    ),
    Setting("computeMaxNodes", "integer", 3, "Most nodes the cluster scales out to (>= 1)."),
    Setting(
        "computeIdleSeconds",
        "integer",
        120,
        "Idle seconds before a node is released (60-86400).",
    ),
    Setting(
        "computePriority",
        "string",
        "Dedicated",
        "Dedicated, or LowPriority (cheaper, may be pre-empted).",
    ),
    Setting(
        "deployerPrincipalType",
        "string",
        "User",
        "What runs `pulumi up`: User (az login), ServicePrincipal (CI, OIDC) or Group; it is "
        "granted blob write access to upload MNIST.",
    ),
)

MANAGED_NETWORK_MODES = ("Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound")
PRIORITIES = ("Dedicated", "LowPriority")
PRINCIPAL_TYPES = ("User", "ServicePrincipal", "Group")
MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = 60, 86_400
MAX_NODES_LIMIT = 100

# Regions with Azure ML; an unlisted but well-formed region only draws a warning (new ones appear).
_REGIONS = """
    australiaeast brazilsouth canadacentral canadaeast centralindia centralus eastasia eastus
    eastus2 francecentral germanywestcentral italynorth japaneast japanwest koreacentral
    northcentralus northeurope norwayeast polandcentral qatarcentral southafricanorth
    southcentralus southeastasia southindia spaincentral swedencentral switzerlandnorth
    uaenorth uksouth ukwest westcentralus westeurope westus westus2 westus3
"""
KNOWN_REGIONS = frozenset(_REGIONS.split())


@dataclass(frozen=True)
class Settings:
    """The validated settings for one stack."""

    location: str
    prefix: str
    name_suffix_seed: str
    existing_resource_group: str | None
    workspace_friendly_name: str
    workspace_description: str
    public_network_access: bool
    managed_network: str
    container_registry: bool
    key_vault_purge_protection: bool
    compute_vm_size: str
    compute_min_nodes: int
    compute_max_nodes: int
    compute_idle_seconds: int
    compute_priority: str
    deployer_principal_type: str
    region_is_known: bool = True

    @property
    def idle_time_iso(self) -> str:
        """The idle time as the ISO 8601 duration AmlCompute takes (PT120S)."""
        return f"PT{self.compute_idle_seconds}S"


def _key(name: str) -> str:
    return f"{PROJECT}:{name}"


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ConfigError(_key(name), raw, "must be true or false")


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(_key(name), raw, "must be a whole number") from None


def _choice(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    for option in allowed:
        if raw.strip().lower() == option.lower():
            return option
    raise ConfigError(_key(name), raw, f"must be one of {', '.join(allowed)}")


def _check_location(raw: str | None) -> tuple[str, bool]:
    if not raw:
        raise ConfigError(
            LOCATION_KEY,
            raw,
            "is required (the Azure region for every resource)",
            fix="pulumi config set azure-native:location westeurope",
        )
    if not re.fullmatch(r"[a-z][a-z0-9]{3,29}", raw):
        compact = re.sub(r"[^a-z0-9]", "", raw.lower())
        raise ConfigError(
            LOCATION_KEY,
            raw,
            "must be a region name as `az account list-locations -o table` shows it "
            "(lowercase, no spaces)",
            fix=f"pulumi config set azure-native:location {compact or 'westeurope'}",
        )
    return raw, raw in KNOWN_REGIONS


def _check_vm_size(name: str, raw: str) -> str:
    if not re.fullmatch(r"(?i)standard_[a-z][a-z0-9]*(?:_[a-z0-9]+)*", raw):
        raise ConfigError(
            _key(name),
            raw,
            "must be an Azure VM size such as Standard_DS3_v2 or Standard_D2as_v4",
            fix="see `az ml compute list-sizes` for the sizes your region offers",
        )
    return raw


def _check_text(name: str, raw: str, limit: int) -> str:
    if not raw.strip() or len(raw) > limit or any(ord(c) < 32 for c in raw):
        raise ConfigError(
            _key(name), raw, f"must be 1-{limit} printable characters (no control characters)"
        )
    return raw


def load_settings(values: Mapping[str, str], location: str | None) -> Settings:
    """Validate raw config strings (keys without the project namespace) into `Settings`.

    `values` holds only the keys the stack sets; unknown keys are rejected, with the closest
    declared key as the fix, because a misspelt setting would otherwise be silently ignored.
    """
    declared = {s.key: s for s in SETTINGS}
    for name in values:
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            raise ConfigError(
                _key(name),
                values[name],
                "is not a setting of this project",
                fix=f"did you mean {_key(close[0])}?"
                if close
                else "see the config section of Pulumi.yaml",
            )

    def raw(name: str) -> str:
        return str(values.get(name, declared[name].default)).strip()

    region, known = _check_location(location)
    prefix = raw("prefix")
    check_prefix(prefix, _key("prefix"))

    seed = raw("nameSuffixSeed")
    if not re.fullmatch(r"[\w.-]{1,64}", seed):
        raise ConfigError(
            _key("nameSuffixSeed"), seed, "must be 1-64 letters, digits, '.', '_' or '-'"
        )

    existing_rg = raw("existingResourceGroup") or None
    if existing_rg is not None and not RULES["resource_group"].accepts(existing_rg):
        raise ConfigError(
            _key("existingResourceGroup"),
            existing_rg,
            f"is not a resource group name ({RULES['resource_group'].text})",
        )

    min_nodes = _parse_int("computeMinNodes", raw("computeMinNodes"))
    max_nodes = _parse_int("computeMaxNodes", raw("computeMaxNodes"))
    if not 1 <= max_nodes <= MAX_NODES_LIMIT:
        raise ConfigError(
            _key("computeMaxNodes"), max_nodes, f"must be between 1 and {MAX_NODES_LIMIT}"
        )
    if not 0 <= min_nodes <= max_nodes:
        raise ConfigError(
            _key("computeMinNodes"),
            min_nodes,
            f"must be between 0 and computeMaxNodes ({max_nodes})",
            fix="0 keeps the cluster free when idle",
        )
    idle = _parse_int("computeIdleSeconds", raw("computeIdleSeconds"))
    if not MIN_IDLE_SECONDS <= idle <= MAX_IDLE_SECONDS:
        raise ConfigError(
            _key("computeIdleSeconds"),
            idle,
            f"must be between {MIN_IDLE_SECONDS} and {MAX_IDLE_SECONDS} seconds",
        )

    return Settings(
        location=region,
        region_is_known=known,
        prefix=prefix,
        name_suffix_seed=seed,
        existing_resource_group=existing_rg,
        workspace_friendly_name=_check_text(
            "workspaceFriendlyName", raw("workspaceFriendlyName"), 128
        ),
        workspace_description=_check_text(
            "workspaceDescription", raw("workspaceDescription"), 1024
        ),
        public_network_access=_parse_bool("publicNetworkAccess", raw("publicNetworkAccess")),
        managed_network=_choice("managedNetwork", raw("managedNetwork"), MANAGED_NETWORK_MODES),
        container_registry=_parse_bool("containerRegistry", raw("containerRegistry")),
        key_vault_purge_protection=_parse_bool(
            "keyVaultPurgeProtection", raw("keyVaultPurgeProtection")
        ),
        compute_vm_size=_check_vm_size("computeVmSize", raw("computeVmSize")),
        compute_min_nodes=min_nodes,
        compute_max_nodes=max_nodes,
        compute_idle_seconds=idle,
        compute_priority=_choice("computePriority", raw("computePriority"), PRIORITIES),
        deployer_principal_type=_choice(
            "deployerPrincipalType", raw("deployerPrincipalType"), PRINCIPAL_TYPES
        ),
    )


def settings_from_stack() -> Settings:
    """Read the running stack's config (set by the CLI, or PULUMI_CONFIG) and validate it."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    namespace = f"{PROJECT}:"
    # Every key the stack sets, so a misspelt one is reported rather than ignored (the SDK's
    # Config only answers for keys one asks about).
    keys = {k for k in (*CONFIG.get(), *get_config_env()) if k.startswith(namespace)}
    config = pulumi.Config(PROJECT)
    values: dict[str, str] = {}
    for key in sorted(keys):
        value = config.get(key[len(namespace) :])
        if value is not None:
            values[key[len(namespace) :]] = value
    location = pulumi.Config("azure-native").get("location")
    return load_settings(values, location)
