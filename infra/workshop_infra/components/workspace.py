"""The Azure ML workspace with its key vault, optional registry and storage grants."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import containerregistry, keyvault, machinelearningservices

from workshop_infra import roles
from workshop_infra.components.monitoring import Monitoring
from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.components.storage import Storage
from workshop_infra.purge import KeyVaultPurge, WorkspacePurge

SOFT_DELETE_DAYS = 7  # the minimum: a destroyed vault blocks its name for the shortest time

# What the workspace identity needs on its storage when datastores are reached by identity.
WORKSPACE_STORAGE_ROLES = (
    "Storage Blob Data Contributor",
    "Storage File Data Privileged Contributor",
)


class Workspace(pulumi.ComponentResource):
    key_vault: keyvault.Vault
    registry: containerregistry.Registry | None
    workspace: machinelearningservices.Workspace
    purge: WorkspacePurge
    """Everything inside the workspace takes the workspace name from here (see purge.py)."""
    principal_id: pulumi.Output[str]

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
                    enable_soft_delete=True,
                    soft_delete_retention_in_days=SOFT_DELETE_DAYS,
                    # ARM rejects an explicit false ("cannot be set to false"): omit it instead.
                    enable_purge_protection=True if settings.key_vault_purge_protection else None,
                ),
            ),
            opts=child,
        )
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
        identity = self.workspace.identity
        self.principal_id = identity.apply(lambda i: i.principal_id if i else "")
        for role in WORKSPACE_STORAGE_ROLES:
            roles.grant(
                f"workspace-{role.lower().replace(' ', '-')}",
                role=role,
                scope=storage.account.id,
                principal_id=self.principal_id,
                principal_type="ServicePrincipal",
                subscription_id=scope.subscription_id,
                opts=child,
            )
        self.register_outputs({"workspace_name": self.workspace.name})
