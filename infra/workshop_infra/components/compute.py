"""The AmlCompute cluster every job runs on: scales to zero, no keys, no public SSH, and a managed
identity that can reach what a job needs.

Why the cluster needs an identity at all: the datastores are credential-less, and a job that does
not set `identity:` falls back to the compute's managed identity for data access ("If the identity
property is left unspecified and datastore doesn't have cached credentials, then compute managed
identity becomes the fallback option"); the same identity pulls the environment image from the
workspace's registry.
https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication

Why user-assigned rather than system-assigned:
- Microsoft's table for workspaces whose storage has shared keys off (ours) says models as job
  inputs/outputs and MLflow need a compute cluster with a *user-assigned* identity holding Storage
  Blob Data Contributor on the storage ("separately create an UAMI, add Storage Data Contributor
  role to underlying storage, and associate that UAMI when creating Compute Cluster").
  https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#scenarios-for-role-assignments
- Azure ML makes no role assignments for a user-assigned identity, so every grant below is ours
  alone and none can collide with one Azure makes itself (409 RoleAssignmentExists); the grants
  also exist before the cluster does, so its first job does not race them.

Grants (each with principal_type ServicePrincipal, as for every managed identity):
- Storage Blob Data Contributor on the workspace's storage account, the scope that table names
  ("underlying storage"): jobs write outputs and models to `workspaceblobstore`, and MLflow
  artifacts and logs to the workspace's other system containers, whose full list Microsoft does
  not document, so a container-by-container grant could miss one and fail jobs on a real
  cluster. It includes reading the workshop data container (same account), so no separate
  reader grant is declared;
- AcrPull on the stack's container registry, when the stack owns one.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import managedidentity

from workshop_common.contract import CLUSTER_NAME
from workshop_infra import roles
from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.components.storage import Storage

IDENTITY_PRINCIPAL_TYPE = "ServicePrincipal"
"""What Azure RBAC calls a managed identity's principal."""


class Compute(pulumi.ComponentResource):
    cluster: ml.Compute
    identity: managedidentity.UserAssignedIdentity
    grants: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        scope: Scope,
        storage: Storage,
        *,
        workspace_name: pulumi.Input[str],
        registry_id: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Compute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = scope.settings
        # Keyword form: the Args class names the identity `resource_name`, which clashes with
        # the Pulumi resource name (the SDK renames it resource_name_ only here).
        self.identity = managedidentity.UserAssignedIdentity(
            "cluster-identity",
            resource_name_=scope.name("cluster_identity"),
            resource_group_name=scope.resource_group_name,
            location=scope.location,
            opts=child,
        )
        principal_id = self.identity.principal_id
        grants: list[tuple[str, str, pulumi.Input[str]]] = [
            ("cluster-storage", "Storage Blob Data Contributor", storage.account.id),
        ]
        if registry_id is not None:
            grants.append(("cluster-acr-pull", "AcrPull", registry_id))
        self.grants = [
            roles.grant(
                resource_name,
                role=role,
                scope=target,
                principal_id=principal_id,
                principal_type=IDENTITY_PRINCIPAL_TYPE,
                subscription_id=scope.subscription_id,
                opts=child,
            )
            for resource_name, role, target in grants
        ]
        self.cluster = ml.Compute(
            "cluster",
            ml.ComputeArgs(
                compute_name=CLUSTER_NAME,
                workspace_name=workspace_name,
                resource_group_name=scope.resource_group_name,
                location=scope.location,
                identity=ml.ManagedServiceIdentityArgs(
                    type=ml.ManagedServiceIdentityType.USER_ASSIGNED,
                    user_assigned_identities=[self.identity.id],
                ),
                properties=ml.AmlComputeArgs(
                    compute_type="AmlCompute",
                    description="CPU cluster for the MNIST jobs (scales to zero when idle)",
                    disable_local_auth=True,
                    properties=ml.AmlComputePropertiesArgs(
                        vm_size=settings.compute_vm_size,
                        vm_priority=settings.compute_priority,
                        os_type=ml.OsType.LINUX,
                        scale_settings=ml.ScaleSettingsArgs(
                            min_node_count=settings.compute_min_nodes,
                            max_node_count=settings.compute_max_nodes,
                            node_idle_time_before_scale_down=settings.idle_time_iso,
                        ),
                        remote_login_port_public_access=ml.RemoteLoginPortPublicAccess.DISABLED,
                    ),
                ),
            ),
            # The identity's roles exist before the first node boots (no job races them).
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.grants),
        )
        self.register_outputs(
            {"compute_name": self.cluster.name, "identity_principal_id": principal_id}
        )
