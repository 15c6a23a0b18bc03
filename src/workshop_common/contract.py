"""The contract between the Pulumi program (infra/) and the `workshop` CLI, in one place.

Stack output names, the config keys the CLI reads before `pulumi up`, the names the program gives
Azure resources the tools reach (the cluster, the key vault's start) and the tags: the program
(infra/workshop_infra) and the CLI (src/workshop) both import them from here, and neither imports
the other for them (tests/infra/test_infra_contract.py keeps it so). Pulumi.yaml declares the
config keys' types and defaults; the names here must match its keys.
"""

from __future__ import annotations

PROJECT = "aml-workshop"
"""The Pulumi project name (Pulumi.yaml); stack config keys are `aml-workshop:<key>`."""

# Stack outputs (`pulumi stack output --json`).
SUBSCRIPTION_ID = "subscriptionId"
RESOURCE_GROUP = "resourceGroup"
LOCATION = "location"
WORKSPACE_NAME = "workspaceName"
STUDIO_URL = "studioUrl"
COMPUTE_NAME = "computeName"
DATASTORE_NAME = "datastoreName"
DATA_ASSET = "dataAsset"  # azureml:mnist:1
ENVIRONMENT = "environment"  # azureml:mnist-sklearn:<content version>
CONFIG_JSON = "configJson"
"""A config.json document as MLClient.from_config reads it (CONFIG_JSON_KEYS)."""
TRAINEES = "trainees"
"""One entry per trainee (TRAINEE_FIELDS and the optional ones below): their handout."""
EXPIRES_ON = "expiresOn"
"""When the environment expires (the `expires-on` tag, ISO 8601)."""
KEY_VAULT_NAME = "keyVaultName"
"""Preflight checks soft-deleted vaults for this exact name (before the first up: by prefix)."""

EXPORTED_OUTPUTS = (
    SUBSCRIPTION_ID,
    RESOURCE_GROUP,
    LOCATION,
    WORKSPACE_NAME,
    STUDIO_URL,
    COMPUTE_NAME,
    DATASTORE_NAME,
    DATA_ASSET,
    ENVIRONMENT,
    CONFIG_JSON,
    TRAINEES,
    EXPIRES_ON,
    KEY_VAULT_NAME,
)
"""Every output infra/ exports (tests/infra checks the program against this list)."""

REQUIRED_OUTPUTS = (SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE_NAME)
"""Without these no command can reach the workspace."""

HANDOUT_OUTPUTS = (WORKSPACE_NAME, RESOURCE_GROUP, DATA_ASSET, ENVIRONMENT, TRAINEES)
"""What `workshop handout` cannot write a page without."""

# Fields of each `trainees` entry.
TRAINEE_KEY = "key"  # unique, safe as a folder name
TRAINEE_NAME = "name"
TRAINEE_PRINCIPAL_TYPE = "principalType"  # optional: User | Group | ServicePrincipal
TRAINEE_COMPUTE_INSTANCE = "computeInstance"  # optional: null without a personal instance
TRAINEE_FIELDS = (TRAINEE_KEY, TRAINEE_NAME, STUDIO_URL, CONFIG_JSON, COMPUTE_NAME)
"""Required in every entry; studioUrl, configJson and computeName mean what they mean above."""

CONFIG_JSON_KEYS = ("subscription_id", "resource_group", "workspace_name")
"""The keys of the configJson document (the format MLClient.from_config reads)."""

# Stack config keys (Pulumi.yaml `config:`, infra/workshop_infra/settings.py), read by
# `workshop preflight` before `pulumi up`.
CONFIG_LOCATION = "azure-native:location"
CONFIG_SUBSCRIPTION = "azure-native:subscriptionId"
CONFIG_VM_SIZE = "computeVmSize"
CONFIG_MAX_NODES = "computeMaxNodes"
CONFIG_PRIORITY = "computePriority"  # Dedicated | LowPriority
CONFIG_PREFIX = "prefix"
CONFIG_TRAINEES = "trainees"  # a list of {name, objectId, principalType?}
CONFIG_INSTANCES = "traineeComputeInstances"
CONFIG_INSTANCE_VM_SIZE = "traineeComputeVmSize"

CLUSTER_NAME = "cpu-cluster"
"""The AmlCompute cluster the program creates and every job runs on
(`compute: azureml:cpu-cluster`); the stack exports it as COMPUTE_NAME."""

COMPUTE_INSTANCE_PRINCIPAL_TYPE = "User"
"""Only trainees of this principal type get a personal compute instance (a compute instance is
assigned to one user)."""

KEY_VAULT_NAME_START = "{prefix}-kv-"
"""Key vault names are `<prefix>-kv-<random suffix>` (infra/workshop_infra/naming.py)."""

# Tags on every taggable resource the program creates (infra/workshop_infra/components/
# environment.py). The CI workflows tag the resource group they create with the same names, and
# the TTL sweeper (workshop.ttl_sweep) acts only on groups that carry them;
# tests/infra/test_infra_ci_tags.py fails if the program stops setting them.
TAG_PROJECT = "workshop"  # the stack's prefix: the resource was made by this project
TAG_OWNER = "owner"
TAG_EXPIRES = "expires-on"  # ISO 8601 UTC
TAG_STACK = "pulumi-stack"
