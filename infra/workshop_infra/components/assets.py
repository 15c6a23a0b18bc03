"""What the jobs reference: the workshop datastore, the MNIST data asset and the environment.

Data and environment versions cannot be deleted through Azure ML's v2 interfaces, only archived
(`az ml data` and `az ml environment` offer archive and restore, no delete:
https://learn.microsoft.com/cli/azure/ml/data, https://learn.microsoft.com/cli/azure/ml/environment),
so a provider DELETE may be refused and stall `pulumi destroy` before the workspace purge. They are
declared with `retain_on_delete`: destroy drops them from the state and the workspace purge
removes them with the workspace. They still take the workspace name from the purge, so the
ordering the purge relies on (everything inside the workspace before it) is unchanged.
"""

from __future__ import annotations

import pulumi
from mnist_trainer.published import PUBLISHED
from pulumi_azure_native import machinelearningservices as ml

from workshop_infra import roles
from workshop_infra.blob_upload import BlobUpload
from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.components.storage import Storage
from workshop_infra.job_specs import JobSpecs
from workshop_infra.naming import DATASTORE, MNIST_BLOB_FOLDER


class Assets(pulumi.ComponentResource):
    datastore: ml.Datastore
    upload: BlobUpload
    data_version: ml.DataVersion
    environment_version: ml.EnvironmentVersion

    def __init__(
        self,
        name: str,
        scope: Scope,
        storage: Storage,
        workspace_name: pulumi.Input[str],
        specs: JobSpecs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Assets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.datastore = ml.Datastore(
            "datastore",
            ml.DatastoreArgs(
                name=DATASTORE,
                workspace_name=workspace_name,
                resource_group_name=scope.resource_group_name,
                properties=ml.AzureBlobDatastoreArgs(
                    datastore_type="AzureBlob",
                    description="Workshop data, reached with the workspace identity (no keys).",
                    account_name=storage.account.name,
                    container_name=storage.container.name,
                    credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
                    service_data_access_auth_identity=(
                        ml.ServiceDataAccessAuthIdentity.WORKSPACE_SYSTEM_ASSIGNED_IDENTITY
                    ),
                ),
            ),
            opts=child,
        )
        # Whoever runs `pulumi up` writes the MNIST files with its own identity (keys are off).
        deployer_grant = roles.grant(
            "deployer-blob-writer",
            role="Storage Blob Data Contributor",
            scope=storage.container.id,
            principal_id=scope.deployer_object_id,
            principal_type=scope.settings.deployer_principal_type,
            subscription_id=scope.subscription_id,
            opts=child,
        )
        # Declared from the published MD5s: evaluating the program reads and downloads nothing.
        self.upload = BlobUpload(
            "mnist-files",
            account_name=storage.account.name,
            container_name=storage.container.name,
            folder=MNIST_BLOB_FOLDER,
            files={f.name: f.md5 for f in PUBLISHED},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployer_grant]),
        )
        self.data_version = ml.DataVersion(
            "mnist",
            ml.DataVersionArgs(
                name=specs.data.name,
                version=specs.data.version,
                workspace_name=workspace_name,
                resource_group_name=scope.resource_group_name,
                properties=ml.UriFolderDataVersionArgs(
                    data_type="uri_folder",
                    data_uri=self.datastore.name.apply(
                        lambda ds: f"azureml://datastores/{ds}/paths/{MNIST_BLOB_FOLDER}/"
                    ),
                    description=specs.data.description,
                ),
            ),
            # A trainee who sees the asset must find the files behind it.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.upload], retain_on_delete=True
            ),
        )
        self.environment_version = ml.EnvironmentVersion(
            "environment",
            ml.EnvironmentVersionArgs(
                name=specs.environment.name,
                version=specs.environment.version,
                workspace_name=workspace_name,
                resource_group_name=scope.resource_group_name,
                properties=ml.EnvironmentVersionPropertiesArgs(
                    image=specs.environment.image,
                    conda_file=specs.environment.conda_file,
                    description=specs.environment.description,
                    os_type=ml.OperatingSystemType.LINUX,
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.register_outputs(
            {
                "datastore": self.datastore.name,
                "data_asset": self.data_version.name,
                "environment": self.environment_version.name,
            }
        )
