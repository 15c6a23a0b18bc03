"""Built-in Azure roles and role assignments with names that are stable across runs.

A role assignment's name must be a GUID; deriving it from (scope, principal, role) with uuid5 gives
the same name on every `pulumi up` (no spurious replacement) and a different one for every grant.
"""

from __future__ import annotations

import uuid

import pulumi
from pulumi_azure_native import authorization

ROLE_IDS: dict[str, str] = {
    "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
    "AzureML Compute Operator": "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage File Data Privileged Contributor": "69566ab7-960f-475b-8e7c-b3118f30c6bd",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
}

_NAMESPACE = uuid.UUID("4c1f4b5e-6a0d-5a7e-9c53-2f0a6b0e7d21")  # this project's uuid5 namespace


def assignment_name(scope: str, principal_id: str, role: str) -> str:
    """The deterministic GUID naming one grant of `role` to `principal_id` on `scope`."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope.lower()}|{principal_id}|{ROLE_IDS[role]}"))


def grant(
    resource_name: str,
    *,
    role: str,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    principal_type: str,
    subscription_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> authorization.RoleAssignment:
    """Assign a built-in role; `principal_type` is always set (a new principal needs it)."""
    name = pulumi.Output.all(scope, principal_id).apply(
        lambda args: assignment_name(str(args[0]), str(args[1]), role)
    )
    definition = pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        ROLE_IDS[role],
    )
    return authorization.RoleAssignment(
        resource_name,
        authorization.RoleAssignmentArgs(
            scope=scope,
            principal_id=principal_id,
            principal_type=principal_type,
            role_definition_id=definition,
            role_assignment_name=name,
            description=f"{role} for the MNIST workshop",
        ),
        opts=opts,
    )
