"""Trainee access: role assignments for every trainee (and the trainee group), and optional
personal compute instances.

Per principal, with `principal_type` set explicitly (a new principal without it fails with
PrincipalNotFound while Entra replicates):
- AzureML Data Scientist on the workspace: submit jobs, use compute, register models, deploy;
  it cannot create or delete compute or change the workspace.
- Storage Blob Data Reader on the workshop container: read the shared MNIST files. Not
  Contributor: one trainee must not be able to overwrite or delete the data everyone else uses.
- Storage Blob Data Contributor on the workspace's artifact container (azureml-blobstore-<id>):
  with identity-based system datastores the SDK uploads a job's code and writes its outputs with
  the trainee's own identity, so submitting a job needs write access there (and only there).
- Storage File Data Privileged Contributor on the workspace's storage account: compute
  instances and Studio's notebooks and their file explorer reach the workspace's file share with
  the user's identity and need exactly this role
  (https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#scenarios-for-role-assignments,
  which names the storage account as the scope). The account holds no file shares but the
  workspace's own (`code-<id>` for notebooks and `azureml-filestore-<id>`), and a file role
  reaches no blobs, so the account scope grants nothing beyond the workspace's shares.

Studio's data browsing uses the user's identity on blob storage (same page: "Studio: create
datasets, browse data: Storage Blob Data Contributor"). Trainees browse, they do not create
datasets, so reading is all they need: the Reader role on the workshop container and the
Contributor role on the artifact container above already cover every container they browse,
and nothing account-wide is granted for blobs. (Least privilege here is inferred: the page lists
the role for browsing and creating together.)

Each compute instance runs a creation script that builds the notebooks' Jupyter kernel (Python 3.11
with requirements/lock.txt; workshop_common.kernel). Creation scripts run only when an instance is
provisioned, so later changes to the script or the lock are ignored on existing instances (no update
churn on every instance after a re-lock): the notebooks' first cell notices a kernel whose packages
differ from the lock and says how to rebuild it.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from workshop_common import kernel
from workshop_common.contract import COMPUTE_INSTANCE_PRINCIPAL_TYPE
from workshop_infra import roles
from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.components.storage import Storage, artifact_container_id
from workshop_infra.trainees import Trainee, compute_instance_name


class TraineeAccess(pulumi.ComponentResource):
    instances: dict[str, ml.Compute]
    """Compute instances by trainee key."""

    def __init__(
        self,
        name: str,
        scope: Scope,
        storage: Storage,
        *,
        workspace_id: pulumi.Input[str],
        workspace_guid: pulumi.Input[str],
        workspace_name: pulumi.Input[str],
        suffix: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:TraineeAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = scope.settings
        grants = (
            ("data-scientist", "AzureML Data Scientist", workspace_id),
            ("data-reader", "Storage Blob Data Reader", storage.container.id),
            (
                "artifacts",
                "Storage Blob Data Contributor",
                artifact_container_id(storage.account.id, workspace_guid),
            ),
            ("notebooks", "Storage File Data Privileged Contributor", storage.account.id),
        )
        self.instances = {}
        setup = _kernel_setup_script() if settings.trainee_compute_instances else None
        for trainee in settings.principals:
            for short, role, target in grants:
                roles.grant(
                    f"trainee-{trainee.key}-{short}",
                    role=role,
                    scope=target,
                    principal_id=trainee.object_id,
                    principal_type=trainee.principal_type,
                    subscription_id=scope.subscription_id,
                    opts=child,
                )
            if (
                settings.trainee_compute_instances
                and trainee.principal_type == COMPUTE_INSTANCE_PRINCIPAL_TYPE
            ):
                assert setup is not None
                self.instances[trainee.key] = self._instance(
                    trainee, scope, workspace_name, suffix, setup, child
                )
        self.register_outputs({"instances": [c.name for c in self.instances.values()]})

    @staticmethod
    def _instance(
        trainee: Trainee,
        scope: Scope,
        workspace_name: pulumi.Input[str],
        suffix: pulumi.Output[str],
        setup: ml.SetupScriptsArgs,
        opts: pulumi.ResourceOptions,
    ) -> ml.Compute:
        settings = scope.settings
        nightly_stop = ml.ComputeStartStopScheduleArgs(
            action=ml.ComputePowerAction.STOP,
            trigger_type=ml.ComputeTriggerType.CRON,
            cron=ml.CronArgs(
                expression=settings.trainee_compute_stop_cron,
                time_zone=settings.trainee_compute_time_zone,
            ),
            status=ml.ScheduleStatus.ENABLED,
        )
        return ml.Compute(
            f"instance-{trainee.key}",
            ml.ComputeArgs(
                compute_name=suffix.apply(lambda s: compute_instance_name(s, trainee)),
                workspace_name=workspace_name,
                resource_group_name=scope.resource_group_name,
                location=scope.location,
                properties=ml.ComputeInstanceArgs(
                    compute_type="ComputeInstance",
                    description=f"Personal compute instance of {trainee.name}",
                    disable_local_auth=True,
                    properties=ml.ComputeInstancePropertiesArgs(
                        vm_size=settings.trainee_compute_vm_size,
                        idle_time_before_shutdown=settings.instance_idle_iso,
                        compute_instance_authorization_type=(
                            ml.ComputeInstanceAuthorizationType.PERSONAL
                        ),
                        personal_compute_instance_settings=ml.PersonalComputeInstanceSettingsArgs(
                            assigned_user=ml.AssignedUserArgs(
                                object_id=trainee.object_id, tenant_id=scope.tenant_id
                            )
                        ),
                        ssh_settings=ml.ComputeInstanceSshSettingsArgs(
                            ssh_public_access=ml.SshPublicAccess.DISABLED
                        ),
                        schedules=ml.ComputeSchedulesArgs(compute_start_stop=[nightly_stop]),
                        setup_scripts=setup,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                opts,
                pulumi.ResourceOptions(ignore_changes=["properties.properties.setupScripts"]),
            ),
        )


def _kernel_setup_script() -> ml.SetupScriptsArgs:
    """The kernel script as an inline creation script (the notebook share is filled after up).

    https://learn.microsoft.com/en-us/azure/machine-learning/how-to-customize-compute-instance
    """
    return ml.SetupScriptsArgs(
        scripts=ml.ScriptsToExecuteArgs(
            creation_script=ml.ScriptReferenceArgs(
                script_source="inline",
                script_data=kernel.creation_script_data(),
                timeout=kernel.SCRIPT_TIMEOUT,
            )
        )
    )
