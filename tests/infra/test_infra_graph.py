"""The whole resource graph under mocks: what is created, how it is secured, in what order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from infra_harness import (
    DEPLOYER,
    SUBSCRIPTION,
    SUFFIX,
    WORKSPACE_PRINCIPAL,
    Graph,
    Registration,
    deploy,
    job_specs,
    synthetic_mnist,
)
from workshop_infra.local_data import LocalFile
from workshop_infra.roles import ROLE_IDS

from workshop.names import COMPUTE_NAME
from workshop.paths import ROOT

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
UPLOAD = "pulumi-python:dynamic:Resource"
RANDOM = "random:index/randomShuffle:RandomShuffle"
COMPONENT = "aml-workshop:components:"


def _dev_values() -> dict[str, str]:
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: str(v) for k, v in config.items() if k.startswith("aml-workshop:")}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalFile, ...]:
    return synthetic_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def dev(files: tuple[LocalFile, ...]) -> Graph:
    return deploy(_dev_values(), files)


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
        WORKSPACE: 1,
        ROLE: 3,  # workspace identity: blob + file on storage; deployer: blob on the container
        COMPUTE: 1,
        DATASTORE: 1,
        UPLOAD: 4,  # the MNIST upload, the stack clock, the workspace and key vault purges
        DATA: 1,
        ENV: 1,
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
        WORKSPACE: "Workspace",
        COMPUTE: "Compute",
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
    }
    for r in dev.custom:
        parent = by_urn[r.parent]
        if r.type == ROLE:
            want = "Assets" if r.name == "deployer-blob-writer" else "Workspace"
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
    assert dev.one(COMPUTE).inputs["computeName"] == COMPUTE_NAME
    suffix = dev.one(RANDOM).inputs
    assert suffix["resultCount"] == 6
    assert set(suffix["inputs"]) == set("abcdefghijklmnopqrstuvwxyz0123456789")
    # Seeded by subscription, project, stack and nameSuffixSeed: the same names after a
    # destroy-then-up, different ones for every other stack.
    assert suffix["seed"] == f"{SUBSCRIPTION}/aml-workshop/test/1"


def test_a_new_suffix_seed_changes_the_shuffle_seed(files: tuple[LocalFile, ...]) -> None:
    graph = deploy({"nameSuffixSeed": "ci-42"}, files)
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
    assert props["tenantId"] == "11111111-1111-1111-1111-111111111111"


def test_purge_protection_can_be_turned_on(files: tuple[LocalFile, ...]) -> None:
    graph = deploy({"keyVaultPurgeProtection": "true"}, files)
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
    assert "containerRegistry" not in ws  # on-demand registry by default
    assert ws["storageAccount"] == f"/mock/StorageAccount/{dev.one(STORAGE).inputs['accountName']}"
    assert ws["keyVault"].startswith("/mock/Vault/")
    assert ws["applicationInsights"].startswith("/mock/Component/")
    assert ws["friendlyName"] and ws["description"]


def test_workspace_identity_gets_data_roles_on_storage(dev: Graph) -> None:
    grants = {r.name: r.inputs for r in dev.of_type(ROLE)}
    storage_id = f"/mock/StorageAccount/{dev.one(STORAGE).inputs['accountName']}"
    for role in ("Storage Blob Data Contributor", "Storage File Data Privileged Contributor"):
        grant = grants[f"workspace-{role.lower().replace(' ', '-')}"]
        assert grant["principalId"] == WORKSPACE_PRINCIPAL
        assert grant["principalType"] == "ServicePrincipal"
        assert grant["scope"] == storage_id
        assert grant["roleDefinitionId"] == (
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{ROLE_IDS[role]}"
        )
    deployer = grants["deployer-blob-writer"]
    assert deployer["principalId"] == DEPLOYER
    assert deployer["principalType"] == "User"
    assert deployer["scope"].startswith("/mock/BlobContainer/")
    names = [g["roleAssignmentName"] for g in grants.values()]
    assert len(set(names)) == len(names)


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


# --- the data and the environment the jobs use -------------------------------------------------


def test_mnist_files_are_uploaded_and_registered_as_the_jobs_data_asset(
    dev: Graph, files: tuple[LocalFile, ...]
) -> None:
    upload = _by_name(dev)["mnist-files"].inputs
    assert upload["folder"] == "mnist"
    assert upload["files"] == {f.name: {"path": str(f.path), "md5": f.md5} for f in files}
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
    assert out["computeName"] == COMPUTE_NAME
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


def test_existing_resource_group_is_used_not_created(files: tuple[LocalFile, ...]) -> None:
    graph = deploy({"existingResourceGroup": "team-ml-rg"}, files)
    assert graph.of_type(RG) == []
    assert any(i.token == "azure-native:resources:getResourceGroup" for i in graph.invokes)
    for r in graph.custom:
        if "resourceGroupName" in r.inputs:
            assert r.inputs["resourceGroupName"] == "team-ml-rg", r.name
    assert graph.outputs["resourceGroup"] == "team-ml-rg"


def test_optional_registry_is_basic_without_admin_user(files: tuple[LocalFile, ...]) -> None:
    graph = deploy({"containerRegistry": "true"}, files)
    registry = graph.one(REGISTRY).inputs
    assert registry["sku"] == {"name": "Basic"}
    assert registry["adminUserEnabled"] is False
    assert SUFFIX in registry["registryName"]
    assert graph.one(WORKSPACE).inputs["containerRegistry"] == (
        f"/mock/Registry/{registry['registryName']}"
    )


def test_low_priority_private_workspace_with_managed_network(
    files: tuple[LocalFile, ...],
) -> None:
    graph = deploy(
        {
            "computePriority": "LowPriority",
            "publicNetworkAccess": "false",
            "managedNetwork": "AllowOnlyApprovedOutbound",
            "computeMaxNodes": "10",
            "computeMinNodes": "1",
            "computeIdleSeconds": "600",
        },
        files,
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
        "stack-clock",
    },
    "workspace-purge": {"resource-group", "workspace"},
    "workspace-storage-blob-data-contributor": {"account", "workspace"},
    "workspace-storage-file-data-privileged-contributor": {"account", "workspace"},
    "cluster": {"resource-group", "workspace-purge", "stack-clock"},
    "datastore": {"resource-group", "workspace-purge", "account", "container"},
    "deployer-blob-writer": {"container"},
    "mnist-files": {"account", "container", "deployer-blob-writer"},
    "mnist": {"resource-group", "workspace-purge", "datastore", "mnist-files"},
    "environment": {"resource-group", "workspace-purge"},
}


def test_each_resource_waits_only_for_what_it_needs(dev: Graph) -> None:
    by_urn = {r.urn: r for r in dev.resources}
    for r in dev.custom:
        deps = {by_urn[d].name for d in r.dependencies if d in by_urn and by_urn[d].custom}
        assert deps == NEEDS[r.name], f"{r.name} waits for {sorted(deps)}"


def _needed_depth(name: str) -> int:
    return 1 + max((_needed_depth(dep) for dep in NEEDS[name]), default=0)


def test_critical_path_is_no_longer_than_the_real_dependencies(
    dev: Graph, files: tuple[LocalFile, ...]
) -> None:
    depth, chain = dev.depth()
    print(f"critical path ({depth} resources): {' -> '.join(r.name for r in chain)}")
    # One more than the Azure dependencies alone: the workspace purge sits between the workspace
    # and what lives in it, so that on destroy those go first (its create is a single GET).
    assert depth == max(_needed_depth(name) for name in NEEDS) == 8
    # e.g. name-suffix -> resource-group -> logs -> app-insights -> workspace -> workspace-purge
    #      -> datastore -> mnist
    assert chain[0].name in ("name-suffix", "stack-clock") and chain[-1].name == "mnist"
    existing_depth, _ = deploy({"existingResourceGroup": "rg1"}, files).depth()
    assert existing_depth == depth - 1
