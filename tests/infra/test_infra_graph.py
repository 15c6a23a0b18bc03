"""The whole resource graph under mocks: what is created, how it is secured, in what order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from infra_harness import (
    CLUSTER_PRINCIPAL,
    DEPLOYER,
    SUBSCRIPTION,
    SUFFIX,
    Graph,
    Registration,
    assert_no_grant_azure_makes_itself,
    deploy,
    job_specs,
)
from mnist_trainer.published import PUBLISHED
from workshop_infra.roles import ROLE_IDS

from workshop.paths import ROOT
from workshop_common.contract import CLUSTER_NAME

RG = "azure-native:resources:ResourceGroup"
STORAGE = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
VAULT = "azure-native:keyvault:Vault"
LOGS = "azure-native:operationalinsights:Workspace"
APPI = "azure-native:applicationinsights:Component"
REGISTRY = "azure-native:containerregistry:Registry"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
COMPUTE = "azure-native:machinelearningservices:Compute"
DATASTORE = "azure-native:machinelearningservices:Datastore"
DATA = "azure-native:machinelearningservices:DataVersion"
ENV = "azure-native:machinelearningservices:EnvironmentVersion"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
BUDGET = "azure-native:consumption:Budget"
UPLOAD = "pulumi-python:dynamic:Resource"
RANDOM = "random:index/randomShuffle:RandomShuffle"
COMPONENT = "aml-workshop:components:"


def _dev_values() -> dict[str, str]:
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: str(v) for k, v in config.items() if k.startswith("aml-workshop:")}


@pytest.fixture(scope="module")
def dev() -> Graph:
    return deploy(_dev_values())


def _by_name(graph: Graph) -> dict[str, Registration]:
    return {r.name: r for r in graph.custom}


# --- what is created ---------------------------------------------------------------------------


def test_dev_stack_declares_the_whole_environment(dev: Graph) -> None:
    counts: dict[str, int] = {}
    for r in dev.custom:
        counts[r.type] = counts.get(r.type, 0) + 1
    assert counts == {
        RANDOM: 1,
        RG: 1,
        STORAGE: 1,
        CONTAINER: 1,
        VAULT: 1,
        LOGS: 1,
        APPI: 1,
        REGISTRY: 1,  # on by default: Azure ML would otherwise make one with admin on
        WORKSPACE: 1,
        IDENTITY: 1,  # the cluster's
        ROLE: 3,  # cluster identity: storage, AcrPull; deployer: blob on the container
        COMPUTE: 1,
        DATASTORE: 1,
        # the MNIST upload, the stack clock, the workspace and key vault purges, the budget start
        UPLOAD: 5,
        DATA: 1,
        ENV: 1,
        ACTION_GROUP: 1,
        BUDGET: 1,
    }


def test_every_resource_sits_in_its_component(dev: Graph) -> None:
    by_urn = {r.urn: r for r in dev.resources}
    expected_component = {
        RANDOM: "WorkshopEnvironment",
        RG: "WorkshopEnvironment",
        STORAGE: "Storage",
        CONTAINER: "Storage",
        LOGS: "Monitoring",
        APPI: "Monitoring",
        VAULT: "Workspace",
        REGISTRY: "Workspace",
        WORKSPACE: "Workspace",
        COMPUTE: "Compute",
        IDENTITY: "Compute",
        ACTION_GROUP: "Budget",
        BUDGET: "Budget",
        DATASTORE: "Assets",
        UPLOAD: "Assets",
        DATA: "Assets",
        ENV: "Assets",
    }
    dynamic_home = {
        "mnist-files": "Assets",
        "stack-clock": "WorkshopEnvironment",
        "workspace-purge": "Workspace",
        "key-vault-purge": "Workspace",
        "budget-start": "Budget",
    }
    for r in dev.custom:
        parent = by_urn[r.parent]
        if r.type == ROLE:
            want = "Assets" if r.name == "deployer-blob-writer" else "Compute"
        elif r.type == UPLOAD:
            want = dynamic_home[r.name]
        else:
            want = expected_component[r.type]
        assert parent.type == COMPONENT + want, f"{r.type} {r.name} is under {parent.type}"
    assert {r.name for r in dev.of_type(UPLOAD)} == set(dynamic_home)
    for component in (r for r in dev.resources if not r.custom):
        if component.type != COMPONENT + "WorkshopEnvironment":
            assert by_urn[component.parent].type == COMPONENT + "WorkshopEnvironment"


def test_names_carry_the_prefix_and_the_stack_suffix(dev: Graph) -> None:
    prefix = _dev_values()["prefix"]
    named = {
        STORAGE: "accountName",
        VAULT: "vaultName",
        WORKSPACE: "workspaceName",
        LOGS: "workspaceName",
        RG: "resourceGroupName",
    }
    for type_token, key in named.items():
        name = dev.one(type_token).inputs[key]
        assert SUFFIX in name and name.replace("-", "").startswith(prefix), name
    assert dev.one(COMPUTE).inputs["computeName"] == CLUSTER_NAME
    suffix = dev.one(RANDOM).inputs
    assert suffix["resultCount"] == 6
    assert set(suffix["inputs"]) == set("abcdefghijklmnopqrstuvwxyz0123456789")
    # Seeded by subscription, project, stack and nameSuffixSeed: the same names after a
    # destroy-then-up, different ones for every other stack.
    assert suffix["seed"] == f"{SUBSCRIPTION}/aml-workshop/test/1"


def test_a_new_suffix_seed_changes_the_shuffle_seed() -> None:
    graph = deploy({"nameSuffixSeed": "ci-42"})
    assert graph.one(RANDOM).inputs["seed"].endswith("/ci-42")


# --- security defaults, by property ------------------------------------------------------------


def test_storage_is_identity_only(dev: Graph) -> None:
    account = dev.one(STORAGE).inputs
    assert account["kind"] == "StorageV2"
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["defaultToOAuthAuthentication"] is True
    assert dev.one(CONTAINER).inputs["publicAccess"] == "None"


def test_key_vault_uses_rbac_short_soft_delete_and_no_purge_protection(dev: Graph) -> None:
    props = dev.one(VAULT).inputs["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["softDeleteRetentionInDays"] == 7
    assert "enablePurgeProtection" not in props  # ARM refuses an explicit false
    # Ignored with RBAC on, but required by the API spec (an open provider issue): sent empty.
    assert props["accessPolicies"] == []
    assert props["tenantId"] == "11111111-1111-1111-1111-111111111111"


def test_purge_protection_can_be_turned_on() -> None:
    graph = deploy({"keyVaultPurgeProtection": "true"})
    assert graph.one(VAULT).inputs["properties"]["enablePurgeProtection"] is True


def test_app_insights_is_workspace_based(dev: Graph) -> None:
    appi = dev.one(APPI).inputs
    assert appi["ingestionMode"] == "LogAnalytics"
    assert appi["workspaceResourceId"] == f"/mock/Workspace/{dev.one(LOGS).inputs['workspaceName']}"


def test_workspace_uses_its_identity_everywhere(dev: Graph) -> None:
    ws = dev.one(WORKSPACE).inputs
    assert ws["identity"] == {"type": "SystemAssigned"}
    assert ws["systemDatastoresAuthMode"] == "Identity"
    assert ws["publicNetworkAccess"] == "Enabled"
    assert "managedNetwork" not in ws  # opt-in only
    assert ws["containerRegistry"] == f"/mock/Registry/{dev.one(REGISTRY).inputs['registryName']}"
    assert ws["storageAccount"] == f"/mock/StorageAccount/{dev.one(STORAGE).inputs['accountName']}"
    assert ws["keyVault"].startswith("/mock/Vault/")
    assert ws["applicationInsights"].startswith("/mock/Component/")
    assert ws["friendlyName"] and ws["description"]


def _definition(role: str) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        + (ROLE_IDS[role])
    )


def test_cluster_has_an_identity_with_the_data_and_registry_roles(dev: Graph) -> None:
    """Credential-less datastores fall back to the compute's identity, which also pulls images
    (how-to-identity-based-service-authentication); user-assigned, as Microsoft's table for
    shared-key-free storage asks (how-to-disable-local-auth-storage)."""
    identity = dev.one(IDENTITY).inputs
    assert SUFFIX in identity["resourceName"]
    cluster = dev.one(COMPUTE).inputs
    assert cluster["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": [f"/mock/UserAssignedIdentity/{identity['resourceName']}"],
    }
    grants = {r.name: r.inputs for r in dev.of_type(ROLE)}
    account = f"/mock/StorageAccount/{dev.one(STORAGE).inputs['accountName']}"
    # Write on the workspace's storage (outputs, models, MLflow; the table names the storage, not
    # a container), which includes reading the workshop container in the same account.
    expected = {
        "cluster-storage": ("Storage Blob Data Contributor", account),
        "cluster-acr-pull": (
            "AcrPull",
            f"/mock/Registry/{dev.one(REGISTRY).inputs['registryName']}",
        ),
    }
    for name, (role, scope) in expected.items():
        grant = grants[name]
        assert grant["principalId"] == CLUSTER_PRINCIPAL
        assert grant["principalType"] == "ServicePrincipal"
        assert (grant["roleDefinitionId"], grant["scope"]) == (_definition(role), scope), name
    assert dev.one(CONTAINER).inputs["accountName"] == dev.one(STORAGE).inputs["accountName"]
    # The grants exist before the first node boots.
    by_urn = {r.urn: r.name for r in dev.resources}
    cluster_deps = {by_urn[d] for d in dev.one(COMPUTE).dependencies}
    assert set(expected) <= cluster_deps
    deployer = grants["deployer-blob-writer"]
    assert deployer["principalId"] == DEPLOYER
    assert deployer["principalType"] == "User"
    assert deployer["scope"].startswith("/mock/BlobContainer/")


def test_no_role_assignment_duplicates_one_azure_makes(dev: Graph) -> None:
    assert_no_grant_azure_makes_itself(dev)


def test_compute_scales_to_zero_without_keys_or_public_ssh(dev: Graph) -> None:
    compute = dev.one(COMPUTE).inputs["properties"]
    assert compute["computeType"] == "AmlCompute"
    assert compute["disableLocalAuth"] is True
    props = compute["properties"]
    assert props["remoteLoginPortPublicAccess"] == "Disabled"
    assert props["vmPriority"] == "Dedicated"
    assert props["scaleSettings"] == {
        "minNodeCount": 0,
        "maxNodeCount": int(_dev_values()["computeMaxNodes"]),
        "nodeIdleTimeBeforeScaleDown": "PT120S",
    }


def test_datastore_has_no_credentials(dev: Graph) -> None:
    props = dev.one(DATASTORE).inputs["properties"]
    assert props["datastoreType"] == "AzureBlob"
    assert props["credentials"] == {"credentialsType": "None"}
    assert props["serviceDataAccessAuthIdentity"] == "WorkspaceSystemAssignedIdentity"
    assert props["containerName"] == dev.one(CONTAINER).inputs["containerName"]


def test_dev_stack_has_a_budget_that_alerts_someone_from_a_fixed_start(dev: Graph) -> None:
    """No budgetEmails in the dev stack: the Owners' action group is the notification target."""
    budget = dev.one(BUDGET).inputs
    group = f"/mock/ActionGroup/{dev.one(ACTION_GROUP).inputs['actionGroupName']}"
    assert budget["amount"] == 100
    for note in budget["notifications"].values():
        assert note["contactGroups"] == [group]
    start = next(r for r in dev.custom if r.name == "budget-start")
    assert budget["timePeriod"]["startDate"].endswith("-01T00:00:00Z")
    assert start.urn in dev.one(BUDGET).dependencies  # the date comes from the fixed record


# --- the data and the environment the jobs use -------------------------------------------------


def test_mnist_files_are_uploaded_and_registered_as_the_jobs_data_asset(dev: Graph) -> None:
    upload = _by_name(dev)["mnist-files"].inputs
    assert upload["folder"] == "mnist"
    # Declared from the published names and MD5s alone: no local path in the state.
    assert upload["files"] == {f.name: {"md5": f.md5} for f in PUBLISHED}
    data = dev.one(DATA).inputs
    specs = job_specs()
    assert (data["name"], data["version"]) == (specs.data.name, specs.data.version)
    datastore = dev.one(DATASTORE).inputs["name"]
    assert data["properties"]["dataType"] == "uri_folder"
    assert data["properties"]["dataUri"] == f"azureml://datastores/{datastore}/paths/mnist/"


def test_environment_is_the_one_jobs_yaml_defines(dev: Graph) -> None:
    env = dev.one(ENV).inputs
    spec = yaml.safe_load((ROOT / "jobs" / "environment.yml").read_text())
    assert (env["name"], env["version"]) == (spec["name"], str(spec["version"]))
    assert env["properties"]["image"] == spec["image"]
    conda = (ROOT / "jobs" / spec["conda_file"]).read_text()
    assert env["properties"]["condaFile"] == conda


# --- outputs -----------------------------------------------------------------------------------


def test_outputs_hand_trainees_what_they_need(dev: Graph, tmp_path: Path) -> None:
    out = dev.outputs
    ws = dev.one(WORKSPACE).inputs["workspaceName"]
    rg = dev.one(RG).inputs["resourceGroupName"]
    assert out["subscriptionId"] == SUBSCRIPTION
    assert (out["resourceGroup"], out["workspaceName"], out["location"]) == (rg, ws, "westeurope")
    assert out["studioUrl"].startswith(
        f"https://ml.azure.com/?wsid=/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
    )
    assert out["computeName"] == CLUSTER_NAME
    assert out["datastoreName"] == dev.one(DATASTORE).inputs["name"]
    assert out["dataAsset"] == "azureml:mnist:1"
    env = yaml.safe_load((ROOT / "jobs" / "environment.yml").read_text())
    assert out["environment"] == f"azureml:mnist-sklearn:{env['version']}"
    config = json.loads(out["configJson"])
    assert config == {"subscription_id": SUBSCRIPTION, "resource_group": rg, "workspace_name": ws}

    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    path = tmp_path / "config.json"
    path.write_text(out["configJson"])
    client = MLClient.from_config(DefaultAzureCredential(), path=str(path))  # no network call
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        SUBSCRIPTION,
        rg,
        ws,
    )


# --- edge configurations -----------------------------------------------------------------------


def test_existing_resource_group_is_used_not_created() -> None:
    graph = deploy({"existingResourceGroup": "team-ml-rg"})
    assert graph.of_type(RG) == []
    assert any(i.token == "azure-native:resources:getResourceGroup" for i in graph.invokes)
    for r in graph.custom:
        if "resourceGroupName" in r.inputs:
            assert r.inputs["resourceGroupName"] == "team-ml-rg", r.name
    assert graph.outputs["resourceGroup"] == "team-ml-rg"


def test_the_stacks_registry_is_basic_without_admin_account(dev: Graph) -> None:
    """Azure ML's own registry would have the admin account on and live outside the state."""
    registry = dev.one(REGISTRY).inputs
    assert registry["sku"] == {"name": "Basic"}
    assert registry["adminUserEnabled"] is False
    assert SUFFIX in registry["registryName"]
    assert dev.one(WORKSPACE).inputs["containerRegistry"] == (
        f"/mock/Registry/{registry['registryName']}"
    )


def test_without_its_own_registry_nothing_points_at_one() -> None:
    graph = deploy({"containerRegistry": "false"})
    assert graph.of_type(REGISTRY) == []
    assert "containerRegistry" not in graph.one(WORKSPACE).inputs
    assert "cluster-acr-pull" not in {r.name for r in graph.of_type(ROLE)}
    assert_no_grant_azure_makes_itself(graph)


def test_data_and_environment_versions_are_left_to_the_workspace_purge(dev: Graph) -> None:
    """v2 data and environment versions can only be archived: destroy must not wait on them."""
    retained = {r.type for r in dev.custom if r.retain_on_delete}
    assert retained == {DATA, ENV}


def test_low_priority_private_workspace_with_managed_network() -> None:
    graph = deploy(
        {
            "computePriority": "LowPriority",
            "publicNetworkAccess": "false",
            "managedNetwork": "AllowOnlyApprovedOutbound",
            "computeMaxNodes": "10",
            "computeMinNodes": "1",
            "computeIdleSeconds": "600",
        },
    )
    ws = graph.one(WORKSPACE).inputs
    assert ws["publicNetworkAccess"] == "Disabled"
    assert ws["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    props = graph.one(COMPUTE).inputs["properties"]["properties"]
    assert props["vmPriority"] == "LowPriority"
    assert props["scaleSettings"] == {
        "minNodeCount": 1,
        "maxNodeCount": 10,
        "nodeIdleTimeBeforeScaleDown": "PT600S",
    }


# --- creation order ----------------------------------------------------------------------------

# The dependencies each resource really has (by logical name): the names it needs, the resources
# it lives in or points at. Anything more would serialise creation for nothing.
NEEDS = {
    "name-suffix": set(),
    "stack-clock": set(),
    "resource-group": {"name-suffix", "stack-clock"},
    "account": {"name-suffix", "resource-group", "stack-clock"},
    "container": {"account", "resource-group"},
    "logs": {"name-suffix", "resource-group", "stack-clock"},
    "app-insights": {"name-suffix", "resource-group", "logs", "stack-clock"},
    "key-vault-purge": {"name-suffix"},
    "key-vault": {"key-vault-purge", "resource-group", "stack-clock"},
    "workspace": {
        "name-suffix",
        "resource-group",
        "account",
        "key-vault",
        "app-insights",
        "registry",
        "stack-clock",
    },
    "workspace-purge": {"resource-group", "workspace"},
    "registry": {"name-suffix", "resource-group", "stack-clock"},
    "cluster-identity": {"name-suffix", "resource-group", "stack-clock"},
    "cluster-storage": {"account", "cluster-identity"},
    "cluster-acr-pull": {"cluster-identity", "registry"},
    "cluster": {
        "resource-group",
        "workspace-purge",
        "stack-clock",
        "cluster-identity",
        "cluster-storage",
        "cluster-acr-pull",
    },
    "datastore": {"resource-group", "workspace-purge", "account", "container"},
    "deployer-blob-writer": {"container"},
    "mnist-files": {"account", "container", "deployer-blob-writer"},
    "mnist": {"resource-group", "workspace-purge", "datastore", "mnist-files"},
    "environment": {"resource-group", "workspace-purge"},
    "budget-alerts": {"resource-group", "stack-clock"},
    "budget-start": {"resource-group"},
    "budget": {"resource-group", "budget-alerts", "budget-start"},
}


def test_each_resource_waits_only_for_what_it_needs(dev: Graph) -> None:
    by_urn = {r.urn: r for r in dev.resources}
    for r in dev.custom:
        deps = {by_urn[d].name for d in r.dependencies if d in by_urn and by_urn[d].custom}
        assert deps == NEEDS[r.name], f"{r.name} waits for {sorted(deps)}"


def _needed_depth(name: str) -> int:
    return 1 + max((_needed_depth(dep) for dep in NEEDS[name]), default=0)


def test_critical_path_is_no_longer_than_the_real_dependencies(dev: Graph) -> None:
    depth, chain = dev.depth()
    print(f"critical path ({depth} resources): {' -> '.join(r.name for r in chain)}")
    # One more than the Azure dependencies alone: the workspace purge sits between the workspace
    # and what lives in it, so that on destroy those go first (its create is a single GET).
    assert depth == max(_needed_depth(name) for name in NEEDS) == 8
    # e.g. name-suffix -> resource-group -> logs -> app-insights -> workspace -> workspace-purge
    #      -> datastore -> mnist
    assert chain[0].name in ("name-suffix", "stack-clock") and chain[-1].name == "mnist"
    existing_depth, _ = deploy({"existingResourceGroup": "rg1"}).depth()
    assert existing_depth == depth - 1


# Resource provider namespaces of pulumi-azure-native modules the program may use. Providers that
# every subscription has registered (Microsoft.Resources, Microsoft.Authorization) need no check.
NAMESPACES = {
    "machinelearningservices": "Microsoft.MachineLearningServices",
    "storage": "Microsoft.Storage",
    "keyvault": "Microsoft.KeyVault",
    "applicationinsights": "Microsoft.Insights",
    "monitor": "Microsoft.Insights",
    "operationalinsights": "Microsoft.OperationalInsights",
    "containerregistry": "Microsoft.ContainerRegistry",
    "managedidentity": "Microsoft.ManagedIdentity",
    "consumption": "Microsoft.Consumption",
}
ALWAYS_REGISTERED = {"resources", "authorization"}


def test_preflight_checks_the_registration_of_every_provider_the_program_uses(dev: Graph) -> None:
    from workshop.azure.preflight import PROVIDERS

    modules = {r.type.split(":")[1] for r in dev.custom if r.type.startswith("azure-native:")}
    unknown = modules - set(NAMESPACES) - ALWAYS_REGISTERED
    assert not unknown, f"map these pulumi-azure-native modules to their namespace: {unknown}"
    needed = {NAMESPACES[m] for m in modules - ALWAYS_REGISTERED}
    assert needed <= set(PROVIDERS), f"preflight does not check {sorted(needed - set(PROVIDERS))}"
