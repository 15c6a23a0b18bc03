"""A monthly consumption budget on the resource group, on by default (budgetAmount 0: none).

Who is alerted: Azure requires, at resource-group scope, at least one contact e-mail or one
contact group (action group) per notification ("Must have at least one contact email or contact
group specified at the Subscription or Resource Group scopes":
https://learn.microsoft.com/rest/api/consumption/budgets/create-or-update). So every budget
notifies an action group whose ARM role receiver is the Owner role, which needs no address in the
config: that action "only looks at Azure Resource Manager role assignments that are at the
subscription scope and of type User or Group"
(https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-troubleshoot), i.e. it reaches the
subscription's Owners. `budgetEmails`, when set, are alerted as well.

Start date: Azure wants the first day of a month, and a start date in the past only within the
current month ("Past start date should be selected within the timegrain period", same page). It
must also not move on later runs. `BudgetStart` records the first of the month in which the
budget is created, once, in the state (like the stack clock); it is replaced, and so re-dated,
exactly when the budget itself would be replaced (a new name or scope), and it lives and dies
with the budget, so switching the budget off and on again later starts it in that later month.
That Azure accepts an *update* of an existing budget whose start month has passed is inferred
(the rule is stated for the start date chosen, and the date sent never changes).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi_azure_native import consumption, monitor

from workshop_infra.components.scope import TYPE_PREFIX, Scope

THRESHOLDS = (50, 80, 100)
"""Percent of the budget at which the actual cost alerts (plus a forecast alert at 100 %)."""

OWNER_ROLE_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
"""The built-in Owner role: the ARM role receiver that reaches the subscription's owners."""

ACTION_GROUP_SHORT_NAME = "wsbudget"
"""What the alert e-mail shows as its sender (at most 12 characters)."""


def first_of_month(now: dt.datetime) -> str:
    """The budget start date for a budget created at `now`: 00:00 UTC on the 1st of its month."""
    return now.astimezone(dt.UTC).strftime("%Y-%m-01T00:00:00Z")


class BudgetStartProvider(ResourceProvider):
    """Create records the current month's first day; nothing but a replacement changes it."""

    replace_keys = ("budget_name", "scope")

    def create(self, props: dict[str, Any]) -> CreateResult:
        start = first_of_month(dt.datetime.now(dt.UTC))
        return CreateResult("budget-start", outs={**props, "start_date": start})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        replaces = [k for k in self.replace_keys if _olds.get(k) != _news.get(k)]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**_news, "start_date": _olds["start_date"]})


class BudgetStart(pulumi.dynamic.Resource):
    """The budget's start date, fixed when the budget is first created."""

    start_date: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        budget_name: pulumi.Input[str],
        scope: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"budget_name": budget_name, "scope": scope, "start_date": None}
        super().__init__(BudgetStartProvider(), resource_name, props, opts)


class Budget(pulumi.ComponentResource):
    budget: consumption.Budget
    action_group: monitor.ActionGroup
    start: BudgetStart

    def __init__(
        self,
        name: str,
        scope: Scope,
        *,
        resource_group_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = scope.settings
        budget_name = f"{settings.prefix}-budget"
        emails = list(settings.budget_emails)
        self.action_group = monitor.ActionGroup(
            "budget-alerts",
            monitor.ActionGroupInitArgs(
                action_group_name=f"{settings.prefix}-budget-alerts",
                resource_group_name=scope.resource_group_name,
                location="Global",  # action groups are global resources
                group_short_name=ACTION_GROUP_SHORT_NAME,
                enabled=True,
                arm_role_receivers=[
                    monitor.ArmRoleReceiverArgs(
                        name="subscription-owners",
                        role_id=OWNER_ROLE_ID,
                        use_common_alert_schema=True,
                    )
                ],
            ),
            opts=child,
        )
        contact_groups = [self.action_group.id]

        def note(percent: int, kind: consumption.ThresholdType) -> consumption.NotificationArgs:
            return consumption.NotificationArgs(
                enabled=True,
                operator=consumption.OperatorType.GREATER_THAN_OR_EQUAL_TO,
                threshold=percent,
                threshold_type=kind,
                contact_emails=emails,
                contact_groups=contact_groups,
            )

        notifications = {
            f"actual-{p}": note(p, consumption.ThresholdType.ACTUAL) for p in THRESHOLDS
        }
        notifications["forecast-100"] = note(100, consumption.ThresholdType.FORECASTED)
        self.start = BudgetStart(
            "budget-start", budget_name=budget_name, scope=resource_group_id, opts=child
        )
        self.budget = consumption.Budget(
            "budget",
            consumption.BudgetArgs(
                budget_name=budget_name,
                scope=resource_group_id,
                amount=settings.budget_amount,
                category=consumption.CategoryType.COST,
                time_grain=consumption.TimeGrainType.MONTHLY,
                time_period=consumption.BudgetTimePeriodArgs(start_date=self.start.start_date),
                notifications=notifications,
            ),
            opts=child,
        )
        self.register_outputs({"budget": self.budget.name})
