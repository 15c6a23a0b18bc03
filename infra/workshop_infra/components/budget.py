"""A monthly consumption budget on the resource group, alerting the configured addresses."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import consumption

from workshop_infra.components.scope import TYPE_PREFIX, Scope

THRESHOLDS = (50, 80, 100)
"""Percent of the budget at which the actual cost alerts (plus a forecast alert at 100 %)."""


class Budget(pulumi.ComponentResource):
    budget: consumption.Budget

    def __init__(
        self,
        name: str,
        scope: Scope,
        *,
        resource_group_id: pulumi.Input[str],
        created_at: pulumi.Output[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Budget", name, None, opts)
        settings = scope.settings
        emails = list(settings.budget_emails)
        notifications: dict[str, consumption.NotificationArgs] = {
            f"actual-{percent}": consumption.NotificationArgs(
                enabled=True,
                operator=consumption.OperatorType.GREATER_THAN_OR_EQUAL_TO,
                threshold=percent,
                threshold_type=consumption.ThresholdType.ACTUAL,
                contact_emails=emails,
            )
            for percent in THRESHOLDS
        }
        notifications["forecast-100"] = consumption.NotificationArgs(
            enabled=True,
            operator=consumption.OperatorType.GREATER_THAN_OR_EQUAL_TO,
            threshold=100,
            threshold_type=consumption.ThresholdType.FORECASTED,
            contact_emails=emails,
        )
        self.budget = consumption.Budget(
            "budget",
            consumption.BudgetArgs(
                budget_name=f"{settings.prefix}-budget",
                scope=resource_group_id,
                amount=settings.budget_amount,
                category=consumption.CategoryType.COST,
                time_grain=consumption.TimeGrainType.MONTHLY,
                # Must be the first of a month and must not move on later runs: the month the
                # stack was first deployed (the stack clock), not the current one.
                time_period=consumption.BudgetTimePeriodArgs(
                    start_date=created_at.apply(lambda t: f"{t[:7]}-01T00:00:00Z")
                ),
                notifications=notifications,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"budget": self.budget.name})
