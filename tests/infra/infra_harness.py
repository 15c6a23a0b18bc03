"""Run the workshop components under Pulumi's mocks and record the resulting graph.

`RecordingMonitor` sees every RegisterResource request, so besides the inputs the mocks get, it
records the parent and the dependency URNs the SDK computed (explicit `depends_on` plus every
resource an input Output came from): the same edges the engine orders creation by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from workshop_infra.components.budget import BudgetStartProvider
from workshop_infra.components.environment import WorkshopEnvironment
from workshop_infra.guardrails import StackClockProvider
from workshop_infra.job_specs import JobSpecs, read_job_specs
from workshop_infra.settings import load_settings

from workshop_common.paths import JOBS_DIR

SUBSCRIPTION = "00000000-0000-0000-0000-00000000abcd"
TENANT = "11111111-1111-1111-1111-111111111111"
DEPLOYER = "22222222-2222-2222-2222-222222222222"
WORKSPACE_PRINCIPAL = "33333333-3333-3333-3333-333333333333"
WORKSPACE_GUID = "44444444-4444-4444-4444-444444444444"
CLUSTER_PRINCIPAL = "55555555-5555-5555-5555-555555555555"
SUFFIX = "x7k2q9"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"

# The input that carries each azure-native resource's Azure name (becomes its `name` output).
_NAME_INPUT = (
    "accountName",
    "vaultName",
    "workspaceName",
    "resourceName",
    "registryName",
    "computeName",
    "containerName",
    "resourceGroupName",
    "roleAssignmentName",
    "name",
)
_OWN_NAME_FIRST = {  # resources whose inputs also name their parent (resource group, workspace)
    "azure-native:machinelearningservices:Compute": "computeName",
    "azure-native:machinelearningservices:Datastore": "name",
    "azure-native:machinelearningservices:DataVersion": "version",
    "azure-native:machinelearningservices:EnvironmentVersion": "version",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:authorization:RoleAssignment": "roleAssignmentName",
    "azure-native:monitor:ActionGroup": "actionGroupName",
}


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: set[str]
    custom: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    retain_on_delete: bool = False


class RecordingMocks(Mocks):
    def __init__(self) -> None:
        self.invokes: list[MockCallArgs] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomShuffle:RandomShuffle":
            state["results"] = list(SUFFIX)
        if args.typ == "azure-native:machinelearningservices:Workspace":
            state["identity"] = {"type": "SystemAssigned", "principalId": WORKSPACE_PRINCIPAL}
            state["workspaceId"] = WORKSPACE_GUID
        identity = state.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
            # ARM answers with a map of identity id to its principal (the input is a list).
            ids = identity["userAssignedIdentities"]
            state["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in ids}}
        if args.typ == "azure-native:managedidentity:UserAssignedIdentity":
            state["principalId"] = CLUSTER_PRINCIPAL
            state["clientId"] = "66666666-6666-6666-6666-666666666666"
        # The dynamic resources' first-run logic, as their providers' create runs it.
        if args.typ == "pulumi-python:dynamic:Resource" and args.name == "stack-clock":
            state = {**state, **(StackClockProvider().create(state).outs or {})}
        if args.typ == "pulumi-python:dynamic:Resource" and args.name == "budget-start":
            state = {**state, **(BudgetStartProvider().create(state).outs or {})}
        own = _OWN_NAME_FIRST.get(args.typ)
        keys = ((own,) if own else ()) + _NAME_INPUT
        azure_name = next((state[k] for k in keys if isinstance(state.get(k), str)), args.name)
        state.setdefault("name", azure_name)
        if own:
            state["name"] = azure_name
        return f"/mock/{args.typ.split(':')[-1]}/{azure_name}", state

    def call(self, args: MockCallArgs) -> dict:  # type: ignore[override]
        self.invokes.append(args)
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "subscriptionId": SUBSCRIPTION,
                "tenantId": TENANT,
                "objectId": DEPLOYER,
                "clientId": "cli",
            }
        if args.token == "azure-native:resources:getResourceGroup":
            name = args.args["resourceGroupName"]
            return {
                "name": name,
                "location": "westeurope",
                "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}",
            }
        raise AssertionError(f"unexpected invoke {args.token}")


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[str, Registration] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            record = Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                dependencies=set(request.dependencies),
                custom=bool(request.custom),
                inputs=rpc.deserialize_properties(request.object) if request.custom else {},
                retain_on_delete=bool(request.retainOnDelete),
            )
            self.registrations[response.urn] = record
        return response


@dataclass
class Graph:
    """Every registered resource, the stack outputs, and the invokes the program made."""

    resources: list[Registration]
    outputs: dict[str, Any]
    invokes: list[MockCallArgs]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> Registration:
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
        return found[0]

    @property
    def custom(self) -> list[Registration]:
        return [r for r in self.resources if r.custom]

    def depth(self) -> tuple[int, list[Registration]]:
        """Critical path: the longest chain of resources that must be created one after another.

        Edges are the dependency URNs; a dependency on a component counts as one on each of its
        children (the SDK already expands those), so components themselves add no steps.
        """
        by_urn = {r.urn: r for r in self.resources}
        memo: dict[str, list[Registration]] = {}

        def chain(urn: str) -> list[Registration]:
            if urn not in memo:
                node = by_urn[urn]
                longest: list[Registration] = []
                for dep in node.dependencies:
                    if dep in by_urn:
                        candidate = chain(dep)
                        if len(candidate) > len(longest):
                            longest = candidate
                memo[urn] = [*longest, node] if node.custom else longest
            return memo[urn]

        best = max((chain(r.urn) for r in self.resources), key=len)
        return len(best), best


def assert_no_grant_azure_makes_itself(graph: Graph) -> None:
    """Azure grants the workspace identity its roles on the storage account (and, inferred, on
    the registry and key vault) as the workspace is created; declaring one of them again under
    another name fails with 409 RoleAssignmentExists. So no grant goes to the workspace identity,
    every grant names its principal type, and no (principal, role, scope) appears twice."""
    triples = []
    for r in graph.of_type(ROLE_ASSIGNMENT):
        grant = r.inputs
        assert grant["principalId"] != WORKSPACE_PRINCIPAL, f"{r.name} duplicates Azure's own"
        assert grant["principalType"] in ("User", "Group", "ServicePrincipal"), r.name
        triples.append((grant["principalId"], grant["roleDefinitionId"], grant["scope"].lower()))
    assert len(set(triples)) == len(triples)
    names = [r.inputs["roleAssignmentName"] for r in graph.of_type(ROLE_ASSIGNMENT)]
    assert len(set(names)) == len(names)


@cache
def job_specs() -> JobSpecs:
    return read_job_specs(JOBS_DIR)


def deploy(values: Mapping[str, str], location: str = "westeurope") -> Graph:
    """Build WorkshopEnvironment for these settings under mocks and return the recorded graph."""
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="aml-workshop", stack="test", preview=False, monitor=monitor
    )
    settings = load_settings(values, location)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        environment = WorkshopEnvironment("workshop", settings, job_specs())
        exports = environment.exports()
        keys = list(exports)
        return pulumi.Output.all(*exports.values()).apply(
            lambda values: outputs.update(zip(keys, values, strict=True))
        )

    program()
    return Graph(list(monitor.registrations.values()), outputs, mocks.invokes)


def load_in_provider_host(*providers: object) -> list[str]:
    """Serialize providers as Pulumi does and load them in a fresh interpreter, as its
    dynamic-provider host does (importing by reference from the venv, no PYTHONPATH); returns
    "module.Class" per provider. Each serialized form must be base64, as the host expects."""
    import base64
    import os
    import subprocess
    import sys

    from pulumi.dynamic.dynamic import serialize_provider

    from workshop.paths import ROOT

    pickled = [serialize_provider(p) for p in providers]
    assert all(base64.b64decode(p) for p in pickled)
    script = (
        "import base64, sys, dill\n"
        "for line in sys.stdin.read().split():\n"
        "    p = dill.loads(base64.b64decode(line))\n"
        "    print(f'{type(p).__module__}.{type(p).__name__}')"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input="\n".join(pickled),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
