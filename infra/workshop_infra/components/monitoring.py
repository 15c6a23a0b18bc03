"""Monitoring: Log Analytics and the workspace-based Application Insights the workspace logs to."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import applicationinsights, operationalinsights

from workshop_infra.components.scope import TYPE_PREFIX, Scope

LOG_RETENTION_DAYS = 30


class Monitoring(pulumi.ComponentResource):
    log_analytics: operationalinsights.Workspace
    app_insights: applicationinsights.Component

    def __init__(self, name: str, scope: Scope, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_analytics = operationalinsights.Workspace(
            "logs",
            operationalinsights.WorkspaceArgs(
                workspace_name=scope.name("log_analytics"),
                resource_group_name=scope.resource_group_name,
                location=scope.location,
                sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                retention_in_days=LOG_RETENTION_DAYS,
            ),
            opts=child,
        )
        # Keyword form: ComponentArgs.resource_name clashes with the resource's own name argument
        # (the SDK renames it resource_name_ only here).
        self.app_insights = applicationinsights.Component(
            "app-insights",
            resource_name_=scope.name("app_insights"),
            resource_group_name=scope.resource_group_name,
            location=scope.location,
            kind="web",
            application_type=applicationinsights.ApplicationType.WEB,
            ingestion_mode=applicationinsights.IngestionMode.LOG_ANALYTICS,
            workspace_resource_id=self.log_analytics.id,
            opts=child,
        )
        self.register_outputs({"app_insights_id": self.app_insights.id})
