"""Trainees, compute instances, budget, tags and destroy ordering under mocks, at 1, 30 and 100."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import time
import uuid
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from infra_harness import (
    DEPLOYER,
    SUBSCRIPTION,
    SUFFIX,
    WORKSPACE_GUID,
    Graph,
    Registration,
    assert_no_grant_azure_makes_itself,
    deploy,
    load_in_provider_host,
)
from workshop_infra.errors import ConfigError
from workshop_infra.roles import ROLE_IDS
from workshop_infra.settings import load_settings
from workshop_infra.trainees import Trainee, compute_instance_name, is_valid_compute_instance_name

ROLE = "azure-native:authorization:RoleAssignment"
COMPUTE = "azure-native:machinelearningservices:Compute"
BUDGET = "azure-native:consumption:Budget"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
GROUP = "5a5a5a5a-0000-4000-8000-000000000001"
NAMES = ["山田 花子", "Zoë Müller", "O'Brien, Seán", "李雷", "x"]


def _trainees(count: int) -> list[dict[str, str]]:
    return [
        {"name": f"{NAMES[i % len(NAMES)]} {i}", "objectId": str(uuid.UUID(int=i + 1))}
        for i in range(count)
    ]


def _values(count: int) -> dict[str, str]:
    return {
        "trainees": json.dumps(_trainees(count)),
        "traineeGroupObjectId": GROUP,
        "traineeComputeInstances": "true",
        "budgetEmails": json.dumps(["ops@example.com", "lead@example.org"]),
    }


@cache
def _graph(count: int) -> tuple[Graph, float]:
    started = time.perf_counter()
    graph = deploy(_values(count))
    return graph, time.perf_counter() - started


def _by_name(graph: Graph) -> dict[str, Registration]:
    return {r.name: r for r in graph.custom}


@pytest.mark.parametrize("count", [1, 30, 100])
def test_every_trainee_gets_their_grants_and_instance(count: int) -> None:
    graph, seconds = _graph(count)
    print(f"\n{count} trainees: {len(graph.resources)} resources, mock evaluation {seconds:.1f} s")
    grants = {r.name: r.inputs for r in graph.of_type(ROLE)}
    container = next(r for r in graph.custom if r.name == "container").inputs
    account = next(r for r in graph.custom if r.name == "account").inputs["accountName"]
    principals = [Trainee(t["name"], t["objectId"]) for t in _trainees(count)]
    principals.append(Trainee("trainee group", GROUP, "Group"))
    for trainee in principals:
        expected = {
            "data-scientist": ("AzureML Data Scientist", "/mock/Resource/"),
            "data-reader": (
                "Storage Blob Data Reader",
                f"/mock/BlobContainer/{container['containerName']}",
            ),
            "artifacts": (
                "Storage Blob Data Contributor",
                f"/mock/StorageAccount/{account}/blobServices/default/containers/"
                f"azureml-blobstore-{WORKSPACE_GUID}",
            ),
            # Compute instances and Studio notebooks use the user's identity on the file share
            # (how-to-disable-local-auth-storage, scenarios for role assignments).
            "notebooks": (
                "Storage File Data Privileged Contributor",
                f"/mock/StorageAccount/{account}",
            ),
        }
        for short, (role, scope) in expected.items():
            grant = grants[f"trainee-{trainee.key}-{short}"]
            assert grant["principalId"] == trainee.object_id
            assert grant["principalType"] == trainee.principal_type
            assert grant["roleDefinitionId"].endswith(ROLE_IDS[role])
            assert (
                grant["scope"] == scope
                if short == "notebooks"
                else grant["scope"].startswith(scope)
            )
    # the environment's own 3 (cluster identity 2, deployer 1), then 4 per principal
    assert len(grants) == 3 + 4 * (count + 1)
    # Studio browsing needs read on what trainees browse, and nothing account-wide for blobs.
    account_scope = f"/mock/StorageAccount/{account}"
    trainee_ids = {t.object_id for t in principals}
    for grant in grants.values():
        if grant["principalId"] in trainee_ids and grant["scope"] == account_scope:
            assert grant["roleDefinitionId"].endswith(
                ROLE_IDS["Storage File Data Privileged Contributor"]
            )
    assert_no_grant_azure_makes_itself(graph)

    key_by_id = {t.object_id: t.key for t in principals}
    instances = [r for r in graph.of_type(COMPUTE) if r.name.startswith("instance-")]
    assert len(instances) == count  # users only: the group gets none
    compute_names = [r.inputs["computeName"] for r in instances]
    assert len(set(compute_names)) == count
    for record in instances:
        name = record.inputs["computeName"]
        assert is_valid_compute_instance_name(name) and name.startswith(f"ci{SUFFIX}-"), name
        props = record.inputs["properties"]
        assert props["computeType"] == "ComputeInstance"
        assert props["disableLocalAuth"] is True
        inner = props["properties"]
        assert inner["idleTimeBeforeShutdown"] == "PT30M"
        assert inner["vmSize"] == "Standard_DS11_v2"
        assert inner["computeInstanceAuthorizationType"] == "personal"
        assert inner["sshSettings"] == {"sshPublicAccess": "Disabled"}
        assigned = inner["personalComputeInstanceSettings"]["assignedUser"]
        assert assigned["tenantId"] == "11111111-1111-1111-1111-111111111111"
        assert record.name == f"instance-{key_by_id[assigned['objectId']]}"
        (schedule,) = inner["schedules"]["computeStartStop"]
        assert schedule == {
            "action": "Stop",
            "triggerType": "Cron",
            "cron": {"expression": "0 19 * * *", "timeZone": "UTC"},
            "status": "Enabled",
        }

    handouts = graph.outputs["trainees"]
    assert [h["name"] for h in handouts] == [t.name for t in principals]
    by_key = {h["key"]: h for h in handouts}
    for record in instances:
        key = record.name.removeprefix("instance-")
        assert by_key[key]["computeInstance"] == record.inputs["computeName"]
    assert by_key[principals[-1].key]["computeInstance"] is None
    assert all(h["configJson"] == graph.outputs["configJson"] for h in handouts)


def test_outputs_hold_no_secrets() -> None:
    graph, _ = _graph(1)
    text = json.dumps(graph.outputs).lower()
    for word in ("password", "secret", "accountkey", "sas", "token", "connectionstring"):
        assert f'"{word}' not in text and f"{word}=" not in text, word


def _accepts_tags(type_token: str) -> bool:
    """From the SDK's own signature: does this resource type take `tags`?"""
    package, module, cls = type_token.split(":")
    if package != "azure-native":
        return False
    resource = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
    return "tags" in inspect.signature(resource._internal_init).parameters


def test_every_taggable_resource_carries_the_workshop_tags() -> None:
    graph, _ = _graph(30)
    clock = next(r for r in graph.custom if r.name == "stack-clock")
    taggable = [r for r in graph.custom if _accepts_tags(r.type)]
    # group, account, logs, app insights, vault, registry, workspace, cluster identity, cluster,
    # budget action group; one instance per trainee
    assert len(taggable) == 10 + 30
    created = dt.datetime.strptime(graph.outputs["expiresOn"], "%Y-%m-%dT%H:%M:%SZ")
    for record in taggable:
        assert record.inputs.get("tags") == {
            "workshop": "mnistws",
            "owner": DEPLOYER,
            "expires-on": graph.outputs["expiresOn"],
            "pulumi-stack": "test",
        }, f"{record.type} {record.name}"
        assert clock.urn in record.dependencies
    untagged = {r.type for r in graph.custom if "tags" in r.inputs and not _accepts_tags(r.type)}
    assert not untagged
    assert created > dt.datetime.now() + dt.timedelta(days=6)  # ttlDays 7 from "now" (first up)


def test_a_fixed_expiry_and_owner_are_used_as_given() -> None:
    graph = deploy({"expiresOn": "2030-01-31", "owner": "ml-team@example.com"})
    account = next(r for r in graph.custom if r.name == "account")
    assert account.inputs["tags"]["expires-on"] == "2030-01-31T00:00:00Z"
    assert account.inputs["tags"]["owner"] == "ml-team@example.com"
    # No e-mail addresses: the budget still exists and alerts the subscription's Owners.
    budget = graph.one(BUDGET).inputs
    group = graph.one(ACTION_GROUP)
    for note in budget["notifications"].values():
        assert note["contactEmails"] == []
        assert note["contactGroups"] == [f"/mock/ActionGroup/{group.inputs['actionGroupName']}"]


def test_budget_alerts_the_configured_addresses() -> None:
    graph, _ = _graph(1)
    budget = graph.one(BUDGET).inputs
    rg = next(r for r in graph.custom if r.name == "resource-group").inputs["resourceGroupName"]
    assert budget["scope"] == f"/mock/ResourceGroup/{rg}"
    assert (budget["amount"], budget["category"], budget["timeGrain"]) == (100, "Cost", "Monthly")
    start = budget["timePeriod"]["startDate"]
    this_month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    assert start == f"{this_month}-01T00:00:00Z"
    # The start comes from a resource fixed at the budget's creation (not from "now" each run).
    budget_start = next(r for r in graph.custom if r.name == "budget-start")
    assert budget_start.urn in graph.one(BUDGET).dependencies
    notes = budget["notifications"]
    assert {(n["threshold"], n["thresholdType"]) for n in notes.values()} == {
        (50, "Actual"),
        (80, "Actual"),
        (100, "Actual"),
        (100, "Forecasted"),
    }
    group = graph.one(ACTION_GROUP).inputs
    for note in notes.values():
        assert note["contactEmails"] == ["ops@example.com", "lead@example.org"]  # and ...
        assert note["contactGroups"] == [f"/mock/ActionGroup/{group['actionGroupName']}"]
        assert note["operator"] == "GreaterThanOrEqualTo" and note["enabled"] is True
    # ... the action group, whose ARM role receiver reaches the subscription's Owners.
    assert group["armRoleReceivers"] == [
        {
            "name": "subscription-owners",
            "roleId": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
            "useCommonAlertSchema": True,
        }
    ]
    assert group["enabled"] is True and len(group["groupShortName"]) <= 12
    assert group["location"] == "Global"


def test_budget_amount_zero_means_no_budget() -> None:
    graph = deploy({"budgetAmount": "0"})
    assert graph.of_type(BUDGET) == [] and graph.of_type(ACTION_GROUP) == []
    assert "budget-start" not in {r.name for r in graph.custom}


def test_the_budget_start_is_fixed_at_creation_and_moves_only_with_a_new_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Azure rejects a start date in a past month on creation; later runs must not move it."""
    from workshop_infra.components import budget

    class Clock(dt.datetime):
        now_value = dt.datetime(2026, 11, 29, 23, 59, tzinfo=dt.UTC)

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:
            return cls.fromtimestamp(cls.now_value.timestamp(), tz)

    monkeypatch.setattr(budget.dt, "datetime", Clock)
    provider = budget.BudgetStartProvider()
    props = {"budget_name": "ws-budget", "scope": "/subscriptions/s/resourceGroups/rg"}
    created = provider.create({**props, "start_date": None}).outs or {}
    assert created["start_date"] == "2026-11-01T00:00:00Z"
    # Months later, the same budget: no change, and an update would keep the first value.
    Clock.now_value = dt.datetime(2027, 3, 5, tzinfo=dt.UTC)
    same = provider.diff("id", created, {**props, "start_date": None})
    assert not same.changes and not same.replaces
    kept = provider.update("id", created, {**props, "start_date": None}).outs or {}
    assert kept["start_date"] == "2026-11-01T00:00:00Z"
    # A budget Azure would create anew (other name or scope) starts in its own month.
    moved = provider.diff("id", created, {**props, "scope": "/subscriptions/s/resourceGroups/b"})
    assert moved.replaces == ["scope"]
    assert (provider.create({**props, "start_date": None}).outs or {})["start_date"] == (
        "2027-03-01T00:00:00Z"
    )
    assert (
        budget.first_of_month(
            dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
        )
        == "2027-01-01T00:00:00Z"
    )  # the month in UTC


def test_the_budget_start_provider_loads_in_pulumis_provider_host() -> None:
    from workshop_infra.components.budget import BudgetStartProvider

    assert load_in_provider_host(BudgetStartProvider()) == [
        "workshop_infra.components.budget.BudgetStartProvider"
    ]


# --- destroy ordering --------------------------------------------------------------------------


def _depends(graph: Graph) -> dict[str, set[str]]:
    """Transitive dependencies by resource name (custom resources only)."""
    by_urn = {r.urn: r for r in graph.resources}
    direct = {
        r.name: {by_urn[d].name for d in r.dependencies if d in by_urn and by_urn[d].custom}
        for r in graph.custom
    }
    closed: dict[str, set[str]] = {}

    def walk(name: str) -> set[str]:
        if name not in closed:
            closed[name] = set()
            for dep in direct[name]:
                closed[name] |= {dep, *walk(dep)}
        return closed[name]

    return {name: walk(name) for name in direct}


def test_destroy_order_purges_between_the_workspace_contents_and_its_dependencies() -> None:
    """Pulumi deletes X before Y when X depends on Y; this is what the purges rely on."""
    graph, _ = _graph(30)
    deps = _depends(graph)
    inside = [
        r.name
        for r in graph.custom
        if r.type.startswith("azure-native:machinelearningservices:")
        and r.type != "azure-native:machinelearningservices:Workspace"
    ] + [r.name for r in graph.of_type(ROLE) if r.name.endswith("-data-scientist")]
    assert len(inside) == 1 + 30 + 1 + 1 + 1 + 31  # cluster, instances, datastore, data, env
    for name in inside:
        assert "workspace-purge" in deps[name], f"{name} could be deleted after the purge"
    assert "workspace" in deps["workspace-purge"]
    for dependency in ("account", "key-vault", "app-insights", "logs"):
        assert dependency in deps["workspace-purge"], dependency  # still there while purging
        assert "workspace-purge" not in deps[dependency]
    assert "key-vault-purge" in deps["key-vault"]  # the vault goes first, then its purge
    assert "key-vault" not in deps["key-vault-purge"]


def test_purges_follow_the_purge_on_destroy_switch() -> None:
    on = _by_name(_graph(1)[0])
    assert on["workspace-purge"].inputs["enabled"] is True
    assert on["key-vault-purge"].inputs["enabled"] is True
    off = _by_name(deploy({"purgeOnDestroy": "false"}))
    assert off["workspace-purge"].inputs["enabled"] is False
    protected = _by_name(deploy({"keyVaultPurgeProtection": "true"}))
    assert protected["key-vault-purge"].inputs["enabled"] is False
    assert protected["workspace-purge"].inputs["enabled"] is True
    ws = on["workspace-purge"].inputs
    assert ws["subscription_id"] == SUBSCRIPTION and ws["arm_url"] == "https://management.azure.com"


# --- names and config errors -------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(min_size=1, max_size=128).filter(lambda s: s.strip()),
    object_id=st.uuids().map(str),
    suffix=st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=6),
)
def test_any_display_name_gives_a_valid_compute_instance_name(
    name: str, object_id: str, suffix: str
) -> None:
    trainee = Trainee(name, object_id)
    built = compute_instance_name(suffix, trainee)
    assert is_valid_compute_instance_name(built), built
    assert built == compute_instance_name(suffix, Trainee(name, object_id.upper()))  # stable
    assert trainee.key and all(c.isascii() and (c.isalnum() or c == "-") for c in trainee.key)


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"trainees": '[{"name": "A", "objectId": "not-a-guid"}]'}, "trainees[0].objectId", "GUID"),
        ({"trainees": json.dumps([{"name": " ", "objectId": GROUP}])}, "trainees[0].name", "empty"),
        (
            {
                "trainees": json.dumps(
                    [{"name": "A", "objectId": GROUP}, {"name": "B", "objectId": GROUP}]
                )
            },
            "trainees[1].objectId",
            "twice",
        ),
        (
            {
                "trainees": json.dumps(
                    [{"name": "Aiko", "objectId": GROUP}, {"name": "aiko", "objectId": DEPLOYER}]
                )
            },
            "trainees[1].name",
            "twice",
        ),
        (
            {"trainees": json.dumps([{"name": "A", "objectId": GROUP, "role": "x"}])},
            "trainees[0].role",
            "not a trainee field",
        ),
        (
            {"trainees": json.dumps([{"name": "A", "objectId": GROUP, "principalType": "Robot"}])},
            "trainees[0].principalType",
            "one of",
        ),
        ({"trainees": "{not json"}, "trainees", "list of trainees"),
        ({"traineeGroupObjectId": "group-one"}, "traineeGroupObjectId", "GUID"),
        ({"budgetEmails": '["ops@example.com", "nobody"]'}, "budgetEmails[1]", "e-mail"),
        ({"budgetEmails": '["a@b.co", "A@b.co"]'}, "budgetEmails[1]", "twice"),
        ({"traineeComputeStopCron": "every night"}, "traineeComputeStopCron", "cron"),
        ({"traineeComputeIdleMinutes": "5"}, "traineeComputeIdleMinutes", "between 15"),
        ({"expiresOn": "31/01/2030"}, "expiresOn", "YYYY-MM-DD"),
        ({"ttlDays": "0"}, "ttlDays", "between 1"),
        ({"traineeComputeVmSize": "big"}, "traineeComputeVmSize", "VM size"),
    ],
)
def test_bad_trainee_and_guardrail_settings_fail_clearly(
    values: dict[str, str], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(values, "westeurope")
    assert caught.value.key == f"aml-workshop:{key}"
    assert words in str(caught.value)


def test_the_stack_outputs_make_handouts(tmp_path: object) -> None:
    """The program's outputs and `workshop handout` agree on the contract."""
    from pathlib import Path

    from workshop.handout import handouts_from_outputs, write_handouts

    graph, _ = _graph(30)
    handouts = handouts_from_outputs(json.loads(json.dumps(graph.outputs)), "mock stack")
    assert len(handouts) == 31
    folders = write_handouts(handouts, Path(str(tmp_path)))
    assert len({f.name for f in folders}) == 31
    assert sum(h.compute_instance is not None for h in handouts) == 30


def test_exports_are_the_outputs_the_cli_reads_and_make_handouts() -> None:
    """One contract (workshop_common.contract): the program exports every name the CLI reads, and
    `workshop handout` turns those outputs, as they are, into one folder per principal."""
    from workshop.handout import handouts_from_outputs
    from workshop_common import contract

    outputs = _graph(1)[0].outputs
    assert set(outputs) == set(contract.EXPORTED_OUTPUTS)
    assert set(contract.REQUIRED_OUTPUTS) | set(contract.HANDOUT_OUTPUTS) <= set(outputs)
    handouts = handouts_from_outputs(outputs, "mocked stack")
    assert len(handouts) == len(outputs[contract.TRAINEES]) >= 1
    assert all(h.compute == outputs[contract.COMPUTE_NAME] for h in handouts)
    assert any(h.compute_instance for h in handouts)  # traineeComputeInstances is on
