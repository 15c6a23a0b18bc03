"""What every component needs to know about where it is deploying."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from workshop_common.contract import PROJECT
from workshop_infra.naming import WorkshopNames
from workshop_infra.settings import Settings

TYPE_PREFIX = f"{PROJECT}:components"


@dataclass(frozen=True)
class Scope:
    """The stack's settings, derived names and the Azure context resources are declared in."""

    settings: Settings
    names: pulumi.Output[WorkshopNames]
    resource_group_name: pulumi.Output[str]
    subscription_id: pulumi.Output[str]
    tenant_id: pulumi.Output[str]
    deployer_object_id: pulumi.Output[str]

    def name(self, key: str) -> pulumi.Output[str]:
        """One derived name (a field of WorkshopNames) as an Output."""
        return self.names.apply(lambda n: getattr(n, key))

    @property
    def location(self) -> str:
        return self.settings.location
