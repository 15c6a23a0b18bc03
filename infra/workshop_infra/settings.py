"""The stack's settings: declared once (`SETTINGS`), read into one typed object, checked up front.

`Pulumi.yaml` declares the same keys, types, defaults and descriptions (a test keeps the two in
step). Every value is validated before a resource is declared, so a bad stack fails `pulumi preview`
at once with a message naming the key, the value and the rule.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from workshop_infra.errors import ConfigError
from workshop_infra.naming import MAX_PREFIX_LENGTH, RULES, check_prefix
from workshop_infra.trainees import Trainee, check_object_id, parse_trainees

PROJECT = "aml-workshop"
LOCATION_KEY = "azure-native:location"


@dataclass(frozen=True)
class Setting:
    """One project setting as Pulumi.yaml declares it."""

    key: str
    type: str  # Pulumi.yaml config type: string | integer | boolean | array
    default: str | int | bool | list[str]
    description: str
    items: str | None = None  # the element type of an array (Pulumi.yaml `items.type`)


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
        True,
        "The stack owns a Basic container registry (admin account off) that the workspace builds "
        "images into and the cluster pulls from; false: Azure ML creates one at the first image "
        "build, with the admin account on and outside the stack.",
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
    Setting(
        "trainees",
        "array",
        [],
        "Trainees: a list of {name, objectId, principalType (User, default; or ServicePrincipal, "
        "Group)}; each gets AzureML Data Scientist on the workspace and read access to the data.",
        items="object",
    ),
    Setting(
        "traineeGroupObjectId",
        "string",
        "",
        "An Entra group whose members are all trainees (object id; empty: none). Granted like "
        "one trainee; members get no personal compute instance.",
    ),
    Setting(
        "traineeComputeInstances",
        "boolean",
        False,
        "Give every listed trainee a personal compute instance (assigned to them, stops when idle "
        "and every night).",
    ),
    Setting(
        "traineeComputeVmSize",
        "string",
        "Standard_DS11_v2",
        "VM size of the trainees' compute instances.",
    ),
    Setting(
        "traineeComputeIdleMinutes",
        "integer",
        30,
        "Idle minutes before a compute instance shuts down (15-4320).",
    ),
    Setting(
        "traineeComputeStopCron",
        "string",
        "0 19 * * *",
        "When every compute instance is stopped, as a cron expression (minute hour day month "
        "weekday) in traineeComputeTimeZone.",
    ),
    Setting(
        "traineeComputeTimeZone",
        "string",
        "UTC",
        "Time zone of the stop schedule, as Windows names it (UTC, Tokyo Standard Time, ...).",
    ),
    Setting(
        "owner",
        "string",
        "",
        "The `owner` tag on every resource: who answers for the costs (empty: the object id of "
        "whoever runs `pulumi up`).",
    ),
    Setting(
        "expiresOn",
        "string",
        "",
        "The `expires-on` tag (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC); empty: ttlDays after "
        "the stack was first deployed. The ttl-sweeper workflow destroys expired stacks.",
    ),
    Setting(
        "ttlDays",
        "integer",
        7,
        "Days from the first deployment to `expires-on` when expiresOn is empty (1-365).",
    ),
    Setting(
        "budgetAmount",
        "integer",
        100,
        "Monthly cost budget on the resource group, in the billing currency; alerts at 50, 80 and "
        "100 % actual and 100 % forecast. 0: no budget.",
    ),
    Setting(
        "budgetEmails",
        "array",
        [],
        "E-mail addresses alerted by the budget, besides the subscription's Owners (who are "
        "always alerted, through an action group).",
        items="string",
    ),
    Setting(
        "purgeOnDestroy",
        "boolean",
        True,
        "`pulumi destroy` purges the workspace and key vault instead of leaving them soft-deleted "
        "(which blocks their names and quota for 7-14 days).",
    ),
)

MANAGED_NETWORK_MODES = ("Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound")
PRIORITIES = ("Dedicated", "LowPriority")
PRINCIPAL_TYPES = ("User", "ServicePrincipal", "Group")
MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = 60, 86_400
MAX_NODES_LIMIT = 100
MIN_INSTANCE_IDLE_MINUTES, MAX_INSTANCE_IDLE_MINUTES = 15, 4320
MAX_TTL_DAYS = 365
MAX_BUDGET_EMAILS = 50
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}")
_CRON_FIELD = r"(?:\*|\d{1,2}(?:-\d{1,2})?)(?:/\d{1,2})?(?:,(?:\d{1,2}(?:-\d{1,2})?))*"
CRON = re.compile(rf"{_CRON_FIELD}(?: {_CRON_FIELD}){{4}}")

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
    trainees: tuple[Trainee, ...] = ()
    trainee_group_object_id: str | None = None
    trainee_compute_instances: bool = False
    trainee_compute_vm_size: str = "Standard_DS11_v2"
    trainee_compute_idle_minutes: int = 30
    trainee_compute_stop_cron: str = "0 19 * * *"
    trainee_compute_time_zone: str = "UTC"
    owner: str | None = None
    expires_on: str | None = None  # normalised to YYYY-MM-DDTHH:MM:SSZ
    ttl_days: int = 7
    budget_amount: int = 100
    budget_emails: tuple[str, ...] = ()
    purge_on_destroy: bool = True
    region_is_known: bool = True

    @property
    def principals(self) -> tuple[Trainee, ...]:
        """Everyone granted trainee access: the listed trainees, then the group if any."""
        group = (
            (Trainee("trainee group", self.trainee_group_object_id, "Group"),)
            if self.trainee_group_object_id
            else ()
        )
        return self.trainees + group

    @property
    def instance_idle_iso(self) -> str:
        """Compute instance idle shutdown as the ISO 8601 duration ARM takes (PT30M)."""
        return f"PT{self.trainee_compute_idle_minutes}M"

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


def _check_expires_on(name: str, raw: str) -> str | None:
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            parsed = dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise ConfigError(
        _key(name),
        raw,
        "must be a UTC date YYYY-MM-DD or time YYYY-MM-DDTHH:MM:SSZ",
        fix="2030-01-31",
    )


def _parse_string_list(name: str, raw: str) -> list[str]:
    try:
        value = json.loads(raw) if raw.strip() else []
    except json.JSONDecodeError as exc:
        raise ConfigError(_key(name), raw, f"must be a list of strings ({exc.msg})") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            _key(name),
            raw,
            "must be a list of strings",
            fix=f"pulumi config set --path '{_key(name)}[0]' VALUE",
        )
    return [v.strip() for v in value]


def _check_emails(name: str, raw: str) -> tuple[str, ...]:
    emails = _parse_string_list(name, raw)
    if len(emails) > MAX_BUDGET_EMAILS:
        raise ConfigError(_key(name), f"{len(emails)} addresses", f"at most {MAX_BUDGET_EMAILS}")
    for index, email in enumerate(emails):
        if not EMAIL.fullmatch(email):
            raise ConfigError(f"{_key(name)}[{index}]", email, "is not an e-mail address")
    lowered = [e.lower() for e in emails]
    for index, email in enumerate(lowered):
        if email in lowered[:index]:
            raise ConfigError(f"{_key(name)}[{index}]", emails[index], "is listed twice")
    return tuple(emails)


def _check_range(name: str, raw: str, low: int, high: int, unit: str = "") -> int:
    value = _parse_int(name, raw)
    if not low <= value <= high:
        raise ConfigError(_key(name), value, f"must be between {low} and {high}{unit}")
    return value


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
        default = declared[name].default
        # Structured values (arrays) reach the program as JSON text, as Pulumi passes them.
        fallback = json.dumps(default) if isinstance(default, list) else str(default)
        return str(values.get(name, fallback)).strip()

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

    cron = " ".join(raw("traineeComputeStopCron").split())
    if not CRON.fullmatch(cron):
        raise ConfigError(
            _key("traineeComputeStopCron"),
            cron,
            "must be a 5-field cron expression (minute hour day month weekday)",
            fix="'0 19 * * *' stops every instance at 19:00",
        )
    group = raw("traineeGroupObjectId")
    budget = _check_range("budgetAmount", raw("budgetAmount"), 0, 1_000_000)

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
        trainees=parse_trainees(_key("trainees"), raw("trainees")),
        trainee_group_object_id=(
            check_object_id(_key("traineeGroupObjectId"), group) if group else None
        ),
        trainee_compute_instances=_parse_bool(
            "traineeComputeInstances", raw("traineeComputeInstances")
        ),
        trainee_compute_vm_size=_check_vm_size("traineeComputeVmSize", raw("traineeComputeVmSize")),
        trainee_compute_idle_minutes=_check_range(
            "traineeComputeIdleMinutes",
            raw("traineeComputeIdleMinutes"),
            MIN_INSTANCE_IDLE_MINUTES,
            MAX_INSTANCE_IDLE_MINUTES,
            " minutes",
        ),
        trainee_compute_stop_cron=cron,
        trainee_compute_time_zone=_check_text(
            "traineeComputeTimeZone", raw("traineeComputeTimeZone"), 64
        ),
        owner=_check_text("owner", raw("owner"), 256) if raw("owner") else None,
        expires_on=_check_expires_on("expiresOn", raw("expiresOn")),
        ttl_days=_check_range("ttlDays", raw("ttlDays"), 1, MAX_TTL_DAYS, " days"),
        budget_amount=budget,
        budget_emails=_check_emails("budgetEmails", raw("budgetEmails")),
        purge_on_destroy=_parse_bool("purgeOnDestroy", raw("purgeOnDestroy")),
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
