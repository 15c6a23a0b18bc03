"""Storage: the account the workspace and the workshop data live in, reached by identity only."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import storage

from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.naming import CONTAINER_NAME


class Storage(pulumi.ComponentResource):
    """StorageV2 account (HTTPS, TLS 1.2, no public blobs, no shared keys) and the data container.

    The workspace and the deployer reach it with Entra ID only.
    """

    account: storage.StorageAccount
    container: storage.BlobContainer

    def __init__(self, name: str, scope: Scope, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}:Storage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = storage.StorageAccount(
            "account",
            storage.StorageAccountArgs(
                account_name=scope.name("storage_account"),
                resource_group_name=scope.resource_group_name,
                location=scope.location,
                kind=storage.Kind.STORAGE_V2,
                sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
                enable_https_traffic_only=True,
                minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
                allow_blob_public_access=False,
                allow_shared_key_access=False,
                default_to_o_auth_authentication=True,
                allow_cross_tenant_replication=False,
            ),
            opts=child,
        )
        self.container = storage.BlobContainer(
            "container",
            storage.BlobContainerArgs(
                account_name=self.account.name,
                resource_group_name=scope.resource_group_name,
                container_name=CONTAINER_NAME,
                public_access=storage.PublicAccess.NONE,
            ),
            opts=child,
        )
        self.register_outputs({"account_id": self.account.id, "container": self.container.name})


def artifact_container_id(
    account_id: pulumi.Input[str], workspace_guid: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The workspace's own blob container, `azureml-blobstore-<workspace guid>`.

    Azure ML creates it with the workspace as the system datastore `workspaceblobstore`, where
    the SDK uploads a job's code snapshot and local inputs with the submitter's identity.
    """
    return pulumi.Output.concat(
        account_id, "/blobServices/default/containers/azureml-blobstore-", workspace_guid
    )
