"""The AmlCompute cluster every job runs on: scales to zero, no keys, no public SSH."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from workshop.names import COMPUTE_NAME
from workshop_infra.components.scope import TYPE_PREFIX, Scope


class Compute(pulumi.ComponentResource):
    cluster: ml.Compute

    def __init__(
        self,
        name: str,
        scope: Scope,
        workspace_name: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Compute", name, None, opts)
        settings = scope.settings
        self.cluster = ml.Compute(
            "cluster",
            ml.ComputeArgs(
                compute_name=COMPUTE_NAME,
                workspace_name=workspace_name,
                resource_group_name=scope.resource_group_name,
                location=scope.location,
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
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"compute_name": self.cluster.name})
