"""The Azure ML workspace with its key vault and container registry.

Role assignments Azure makes itself are not declared here a second time: a second assignment of
the same (principal, role, scope) under another name fails `pulumi up` with 409
RoleAssignmentExists (reported against Microsoft's own tutorial, which told readers to add the
workspace identity's storage role by hand: https://github.com/MicrosoftDocs/azure-docs/issues/80040).
- Storage: with identity-based system datastores, "as the workspace is created, the managed
  identity is automatically assigned the permissions it needs to access the storage account"
  (https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage). The
  workshop container is in that account, so the datastore that reads it with the workspace
  identity (Studio's preview) is covered too.
- Container registry and key vault: Microsoft lists the roles a workspace identity needs on them
  (Contributor, Key Vault Administrator) only for a *user-assigned* workspace identity, which the
  customer must grant; a system-assigned identity gets them when the workspace is created with
  those resources (https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#user-assigned-managed-identity).
  That the system-assigned case is automatic is inferred from that page, not stated there.
So the workspace identity gets no declared grants at all; the roles this program declares go to
principals Azure never grants anything to (the cluster's user-assigned identity, trainees, the
deployer), which makes them duplicate-free by construction rather than by a lookup.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import containerregistry, keyvault, machinelearningservices

from workshop_infra.components.monitoring import Monitoring
from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.components.storage import Storage
from workshop_infra.purge import KeyVaultPurge, WorkspacePurge

SOFT_DELETE_DAYS = 7  # the minimum: a destroyed vault blocks its name for the shortest time


class Workspace(pulumi.ComponentResource):
    key_vault: keyvault.Vault
    registry: containerregistry.Registry | None
    workspace: machinelearningservices.Workspace
    purge: WorkspacePurge
    """Everything inside the workspace takes the workspace name from here (see purge.py)."""

    def __init__(
        self,
        name: str,
        scope: Scope,
        storage: Storage,
        monitoring: Monitoring,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Workspace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = scope.settings
        # The vault takes its name from the purge, so on destroy the purge runs after its delete.
        vault_purge = KeyVaultPurge(
            "key-vault-purge",
            subscription_id=scope.subscription_id,
            location=scope.location,
            vault_name=scope.name("key_vault"),
            # A vault with purge protection cannot be purged: it stays soft-deleted.
            enabled=settings.purge_on_destroy and not settings.key_vault_purge_protection,
            opts=child,
        )
        self.key_vault = keyvault.Vault(
            "key-vault",
            keyvault.VaultArgs(
                vault_name=vault_purge.vault_name,
                resource_group_name=scope.resource_group_name,
                location=scope.location,
                properties=keyvault.VaultPropertiesArgs(
                    tenant_id=scope.tenant_id,
                    sku=keyvault.SkuArgs(
                        family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD
                    ),
                    enable_rbac_authorization=True,
                    # Ignored with RBAC on, but the API spec marks the field required and the
                    # provider can fail without it (open pulumi-azure-native issue): send [].
                    access_policies=[],
                    enable_soft_delete=True,
                    soft_delete_retention_in_days=SOFT_DELETE_DAYS,
                    # ARM rejects an explicit false ("cannot be set to false"): omit it instead.
                    enable_purge_protection=True if settings.key_vault_purge_protection else None,
                ),
            ),
            opts=child,
        )
        # Without a registry of its own the workspace creates one at the first image build, with
        # the admin account enabled and outside this stack's state ("If you allow Azure Machine
        # Learning to automatically create ACR, it enables the admin account":
        # https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication).
        # So the stack owns one by default: Basic (the smallest SKU), admin account off.
        self.registry = None
        if settings.container_registry:
            self.registry = containerregistry.Registry(
                "registry",
                containerregistry.RegistryArgs(
                    registry_name=scope.name("container_registry"),
                    resource_group_name=scope.resource_group_name,
                    location=scope.location,
                    sku=containerregistry.SkuArgs(name=containerregistry.SkuName.BASIC),
                    admin_user_enabled=False,
                ),
                opts=child,
            )
        managed_network = None
        if settings.managed_network != "Disabled":
            managed_network = machinelearningservices.ManagedNetworkSettingsArgs(
                isolation_mode=settings.managed_network
            )
        self.workspace = machinelearningservices.Workspace(
            "workspace",
            machinelearningservices.WorkspaceArgs(
                workspace_name=scope.name("workspace"),
                resource_group_name=scope.resource_group_name,
                location=scope.location,
                kind="Default",
                sku=machinelearningservices.SkuArgs(
                    name="Basic", tier=machinelearningservices.SkuTier.BASIC
                ),
                friendly_name=settings.workspace_friendly_name,
                description=settings.workspace_description,
                identity=machinelearningservices.ManagedServiceIdentityArgs(
                    type=machinelearningservices.ManagedServiceIdentityType.SYSTEM_ASSIGNED
                ),
                system_datastores_auth_mode=machinelearningservices.SystemDatastoresAuthMode.IDENTITY,
                public_network_access="Enabled" if settings.public_network_access else "Disabled",
                managed_network=managed_network,
                storage_account=storage.account.id,
                key_vault=self.key_vault.id,
                application_insights=monitoring.app_insights.id,
                container_registry=self.registry.id if self.registry else None,
            ),
            opts=child,
        )
        self.purge = WorkspacePurge(
            "workspace-purge",
            subscription_id=scope.subscription_id,
            resource_group_name=scope.resource_group_name,
            workspace_name=self.workspace.name,
            enabled=settings.purge_on_destroy,
            opts=child,
        )
        self.register_outputs({"workspace_name": self.workspace.name})
