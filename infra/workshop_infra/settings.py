"""The stack's settings, read into one typed object and checked up front.

Pulumi.yaml declares each setting once: key, type, default, description (read by
`project_file`). This module adds only what Pulumi cannot express there: ranges, name rules,
GUIDs, e-mail addresses, cron, the region, choices and cross-field checks. Every value is
validated before a resource is declared, so a bad stack fails `pulumi preview` at once with a
message naming the key, the value and the rule.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from workshop_common.contract import CONFIG_LOCATION, PROJECT
from workshop_common.languages import HANDOUT_LANGUAGES
from workshop_infra.errors import ConfigError
from workshop_infra.naming import RULES, check_prefix
from workshop_infra.project_file import ProjectFile, project_file
from workshop_infra.trainees import Trainee, check_object_id, parse_trainees

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
    trainees: tuple[Trainee, ...]
    trainee_group_object_id: str | None
    trainee_compute_instances: bool
    trainee_compute_vm_size: str
    trainee_compute_idle_minutes: int
    trainee_compute_stop_cron: str
    trainee_compute_time_zone: str
    handout_language: str  # one of HANDOUT_LANGUAGES
    owner: str | None
    expires_on: str | None  # normalised to YYYY-MM-DDTHH:MM:SSZ
    ttl_days: int
    budget_amount: int
    budget_emails: tuple[str, ...]
    purge_on_destroy: bool
    region_is_known: bool

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
            CONFIG_LOCATION,
            raw,
            "is required (the Azure region for every resource)",
            fix="pulumi config set azure-native:location westeurope",
        )
    if not re.fullmatch(r"[a-z][a-z0-9]{3,29}", raw):
        compact = re.sub(r"[^a-z0-9]", "", raw.lower())
        raise ConfigError(
            CONFIG_LOCATION,
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


def _check_range(name: str, value: int, low: int, high: int, unit: str = "") -> int:
    if not low <= value <= high:
        raise ConfigError(_key(name), value, f"must be between {low} and {high}{unit}")
    return value


def _reject_unknown(values: Mapping[str, str], declared: ProjectFile) -> None:
    """A misspelt setting would otherwise be silently ignored: name the closest declared one."""
    for name in values:
        if name not in declared.settings:
            close = difflib.get_close_matches(name, declared.settings, n=1)
            raise ConfigError(
                _key(name),
                values[name],
                "is not a setting of this project",
                fix=f"did you mean {_key(close[0])}?"
                if close
                else f"see the config section of {declared.path.name}",
            )


def load_settings(
    values: Mapping[str, str], location: str | None, *, declared: ProjectFile | None = None
) -> Settings:
    """Validate raw config strings (keys without the project namespace) into `Settings`.

    `values` holds the keys the stack sets, as Pulumi passes them (text; JSON for arrays); an
    unset key takes its default from Pulumi.yaml (`declared`, this project's by default), and its
    declared type decides how the text is read.
    """
    declared = declared or project_file()
    if declared.name != PROJECT:
        raise ConfigError(
            f"{declared.path}: name",
            declared.name,
            f"the program reads its settings as {PROJECT}:<key>",
            fix=f"keep the project name {PROJECT} (`pulumi new --name {PROJECT}`)",
        )
    _reject_unknown(values, declared)

    def raw(name: str) -> str:
        setting = declared.settings.get(name)
        if setting is None:
            raise ConfigError(
                f"{declared.path}: {_key(name)}",
                None,
                "is read by the program but not declared",
                fix="declare it (type, default, description) in the config section",
            )
        return str(values.get(name, setting.default_text)).strip()

    def typed(name: str, kind: str) -> str:
        """The text of a setting the program reads as `kind`, once Pulumi.yaml agrees."""
        text = raw(name)
        if declared.settings[name].type != kind:
            raise ConfigError(
                f"{declared.path}: {_key(name)}.type",
                declared.settings[name].type,
                f"the program reads this setting as {kind}",
            )
        return text

    def flag(name: str) -> bool:
        return _parse_bool(name, typed(name, "boolean"))

    def whole(name: str) -> int:
        return _parse_int(name, typed(name, "integer"))

    def text(name: str) -> str:
        return typed(name, "string")

    def array(name: str) -> str:
        return typed(name, "array")  # JSON; the setting's own rule reads the items

    region, known = _check_location(location)
    prefix = text("prefix")
    check_prefix(prefix, _key("prefix"))

    seed = text("nameSuffixSeed")
    if not re.fullmatch(r"[\w.-]{1,64}", seed):
        raise ConfigError(
            _key("nameSuffixSeed"), seed, "must be 1-64 letters, digits, '.', '_' or '-'"
        )

    existing_rg = text("existingResourceGroup") or None
    if existing_rg is not None and not RULES["resource_group"].accepts(existing_rg):
        raise ConfigError(
            _key("existingResourceGroup"),
            existing_rg,
            f"is not a resource group name ({RULES['resource_group'].text})",
        )

    min_nodes = whole("computeMinNodes")
    max_nodes = whole("computeMaxNodes")
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
    idle = whole("computeIdleSeconds")
    if not MIN_IDLE_SECONDS <= idle <= MAX_IDLE_SECONDS:
        raise ConfigError(
            _key("computeIdleSeconds"),
            idle,
            f"must be between {MIN_IDLE_SECONDS} and {MAX_IDLE_SECONDS} seconds",
        )

    cron = " ".join(text("traineeComputeStopCron").split())
    if not CRON.fullmatch(cron):
        raise ConfigError(
            _key("traineeComputeStopCron"),
            cron,
            "must be a 5-field cron expression (minute hour day month weekday)",
            fix="'0 19 * * *' stops every instance at 19:00",
        )
    group = text("traineeGroupObjectId")
    budget = _check_range("budgetAmount", whole("budgetAmount"), 0, 1_000_000)

    return Settings(
        location=region,
        region_is_known=known,
        prefix=prefix,
        name_suffix_seed=seed,
        existing_resource_group=existing_rg,
        workspace_friendly_name=_check_text(
            "workspaceFriendlyName", text("workspaceFriendlyName"), 128
        ),
        workspace_description=_check_text(
            "workspaceDescription", text("workspaceDescription"), 1024
        ),
        public_network_access=flag("publicNetworkAccess"),
        managed_network=_choice("managedNetwork", text("managedNetwork"), MANAGED_NETWORK_MODES),
        container_registry=flag("containerRegistry"),
        key_vault_purge_protection=flag("keyVaultPurgeProtection"),
        compute_vm_size=_check_vm_size("computeVmSize", text("computeVmSize")),
        compute_min_nodes=min_nodes,
        compute_max_nodes=max_nodes,
        compute_idle_seconds=idle,
        compute_priority=_choice("computePriority", text("computePriority"), PRIORITIES),
        deployer_principal_type=_choice(
            "deployerPrincipalType", text("deployerPrincipalType"), PRINCIPAL_TYPES
        ),
        trainees=parse_trainees(_key("trainees"), array("trainees")),
        trainee_group_object_id=(
            check_object_id(_key("traineeGroupObjectId"), group) if group else None
        ),
        trainee_compute_instances=flag("traineeComputeInstances"),
        trainee_compute_vm_size=_check_vm_size(
            "traineeComputeVmSize", text("traineeComputeVmSize")
        ),
        trainee_compute_idle_minutes=_check_range(
            "traineeComputeIdleMinutes",
            whole("traineeComputeIdleMinutes"),
            MIN_INSTANCE_IDLE_MINUTES,
            MAX_INSTANCE_IDLE_MINUTES,
            " minutes",
        ),
        trainee_compute_stop_cron=cron,
        trainee_compute_time_zone=_check_text(
            "traineeComputeTimeZone", text("traineeComputeTimeZone"), 64
        ),
        handout_language=_choice("handoutLanguage", text("handoutLanguage"), HANDOUT_LANGUAGES),
        owner=_check_text("owner", text("owner"), 256) if text("owner") else None,
        expires_on=_check_expires_on("expiresOn", text("expiresOn")),
        ttl_days=_check_range("ttlDays", whole("ttlDays"), 1, MAX_TTL_DAYS, " days"),
        budget_amount=budget,
        budget_emails=_check_emails("budgetEmails", array("budgetEmails")),
        purge_on_destroy=flag("purgeOnDestroy"),
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


def _as_config_text(value: object) -> str:
    """A YAML value from a stack file as Pulumi hands it to the program (arrays as JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def settings_from_stack_file(config: Mapping[str, object], location: str | None = None) -> Settings:
    """Validate a stack's config as its files hold it, with the rules `pulumi preview` applies.

    `config` maps project keys without the namespace, and provider keys whole, to YAML values
    (what `workshop.azure.stack.stack_config` returns), so `workshop preflight` reads a stack
    the way the program will, before the first `pulumi up`. `location` stands in for an unset
    `azure-native:location` (a deployed stack's output).
    """
    values = {key: _as_config_text(value) for key, value in config.items() if ":" not in key}
    region = config.get(CONFIG_LOCATION) or location
    return load_settings(values, None if region is None else str(region))
