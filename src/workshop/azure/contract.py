"""What this side expects from the Pulumi program (infra/), in one place.

The stack outputs and config keys below are the names infra/__main__.py and Pulumi.yaml define;
if they change there, change them here and nowhere else.
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
ENVIRONMENT = "environment"  # azureml:mnist-sklearn:1
CONFIG_JSON = "configJson"
KEY_VAULT_NAME = "keyVaultName"
"""Not exported by infra today; preflight then checks deleted vaults by the name prefix."""

REQUIRED_OUTPUTS = (SUBSCRIPTION_ID, RESOURCE_GROUP, WORKSPACE_NAME)
"""Without these no command can reach the workspace."""

# Stack config keys (Pulumi.yaml `config:`, infra/workshop_infra/settings.py), read by
# `workshop preflight` before `pulumi up`.
CONFIG_LOCATION = "azure-native:location"
CONFIG_SUBSCRIPTION = "azure-native:subscriptionId"
CONFIG_VM_SIZE = "computeVmSize"
CONFIG_MAX_NODES = "computeMaxNodes"
CONFIG_PRIORITY = "computePriority"  # Dedicated | LowPriority
CONFIG_PREFIX = "prefix"

KEY_VAULT_NAME_START = "{prefix}-kv-"
"""Key vault names are `<prefix>-kv-<random suffix>` (infra/workshop_infra/naming.py)."""
