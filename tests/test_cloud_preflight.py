"""preflight on fake quota, VM-size, provider and soft-delete answers (real SDK entity objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli_json import run_json
from tests.fakes.cloud import SUB, connect_to, fake_ml, run_cli, use_fake_pulumi
from workshop.azure import preflight, session
from workshop.azure.preflight import FAIL, PASS, SKIP, WARN, Target
from workshop.azure.stack import stack_config
from workshop.errors import ExitCode

TARGET = Target(
    subscription_id=SUB,
    location="westeurope",
    vm_size="Standard_DS3_v2",
    max_nodes=3,
    low_priority=False,
    prefix="mnistdev",
)


def usage(value: str, limit: int, current: int) -> Any:
    """A Usage exactly as azure-ai-ml builds it from the REST answer."""
    from azure.ai.ml._restclient.arm_ml_service.models import Usage as RestUsage
    from azure.ai.ml.entities._compute._usage import Usage

    rest = RestUsage({"name": {"value": value}, "limit": limit, "currentValue": current})
    return Usage._from_rest_object(rest)


def size(name: str, family: str, cpus: int) -> Any:
    from azure.ai.ml._restclient.arm_ml_service.models import VirtualMachineSize
    from azure.ai.ml.entities._compute._vm_size import VmSize

    rest = VirtualMachineSize({"name": name, "family": family, "vCPUs": cpus})
    return VmSize._from_rest_object(rest)


class FakeArm:
    def __init__(self, answers: dict[str, dict[str, Any] | None]) -> None:
        self.answers = answers
        self.paths: list[str] = []

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        assert api_version
        self.paths.append(path)
        for suffix, answer in self.answers.items():
            if path.endswith(suffix):
                return answer
        return None


def registered(*missing: str) -> dict[str, dict[str, Any] | None]:
    return {
        f"/providers/{ns}": {
            "registrationState": "NotRegistered" if ns in missing else "Registered"
        }
        for ns in preflight.PROVIDERS
    }


DSV2 = [
    size("Standard_DS3_v2", "standardDSv2Family", 4),
    size("Standard_DS2_v2", "standardDSv2Family", 2),
    size("Standard_DS11_v2", "standardDSv2Family", 2),
]


def ml_with(free_cpus: int, limit: int = 24, sizes: list[Any] | None = None) -> Any:
    ml = fake_ml()
    ml.compute.list_sizes.return_value = sizes if sizes is not None else DSV2
    ml.compute.list_usage.return_value = [
        usage("TotalDedicatedCores", 100, 0),
        usage("standardDSv2Family", limit, limit - free_cpus),
    ]
    return ml


def by_name(checks: list[preflight.Check]) -> dict[str, preflight.Check]:
    return {c.name: c for c in checks}


def test_a_ready_subscription_passes_every_check() -> None:
    ml, arm = ml_with(free_cpus=24), FakeArm({**registered(), "/deletedVaults": {"value": []}})
    checks = preflight.run_checks(TARGET, ml, arm)
    outcomes = {c.name: c.outcome for c in checks}
    assert outcomes.pop("workspace not soft-deleted") == SKIP  # no workspace name before up
    assert set(outcomes.values()) == {PASS}, checks
    ml.compute.list_usage.assert_called_once_with(location="westeurope")
    ml.compute.list_sizes.assert_called_once_with(location="westeurope", compute_type="AmlCompute")


def test_quota_for_no_node_fails_and_for_fewer_than_max_warns() -> None:
    arm = FakeArm(registered())
    none = by_name(preflight.run_checks(TARGET, ml_with(free_cpus=2), arm))[
        "vCPU quota: standardDSv2Family"
    ]
    assert none.outcome == FAIL
    assert "2 of 24 standardDSv2Family vCPUs free; needs 12: cluster 3 x 4" in none.detail
    assert "not even one cluster node (4)" in none.detail
    assert "limit of at least 34" in none.fix  # 22 in use + 3 nodes x 4
    some = by_name(preflight.run_checks(TARGET, ml_with(free_cpus=8), arm))[
        "vCPU quota: standardDSv2Family"
    ]
    assert some.outcome == WARN and "can reach 2 nodes" in some.detail


def test_low_priority_uses_the_regional_low_priority_pool() -> None:
    ml = ml_with(free_cpus=0)
    ml.compute.list_usage.return_value.append(usage("TotalLowPriorityCores", 100, 0))
    low = Target(**{**TARGET.__dict__, "low_priority": True})
    check = by_name(preflight.run_checks(low, ml, FakeArm(registered())))[
        "vCPU quota: regional low-priority"
    ]
    assert check.outcome == PASS and "regional low-priority" in check.detail


def test_a_vm_size_not_offered_fails_with_how_to_list_sizes() -> None:
    ml = ml_with(free_cpus=24, sizes=[size("Standard_D2s_v3", "standardDSv3Family", 2)])
    checks = by_name(preflight.run_checks(TARGET, ml, FakeArm(registered())))
    assert checks["VM size Standard_DS3_v2"].outcome == FAIL
    assert "az ml compute list-sizes" in checks["VM size Standard_DS3_v2"].fix
    assert checks["vCPU quota"].outcome == SKIP


def test_an_unregistered_provider_fails_with_the_register_command() -> None:
    checks = preflight.run_checks(TARGET, ml_with(24), FakeArm(registered("Microsoft.Insights")))
    check = by_name(checks)["provider Microsoft.Insights"]
    assert check.outcome == FAIL
    assert f"az provider register --namespace Microsoft.Insights --subscription {SUB}" in check.fix


def test_soft_deleted_vaults_block_the_exact_name_and_warn_for_the_prefix() -> None:
    deleted = {
        "value": [
            {"name": "mnistdev-kv-abc123", "properties": {"location": "westeurope"}},
            {"name": "other-kv-zzz", "properties": {"location": "eastus"}},
        ]
    }
    arm = FakeArm({**registered(), "/deletedVaults": deleted})
    warn = by_name(preflight.run_checks(TARGET, ml_with(24), arm))["no soft-deleted key vault"]
    assert warn.outcome == WARN and "mnistdev-kv-abc123" in warn.detail
    assert "other-kv-zzz" not in warn.detail
    exact = Target(**{**TARGET.__dict__, "key_vault_name": "mnistdev-kv-abc123"})
    fail = by_name(preflight.run_checks(exact, ml_with(24), arm))["no soft-deleted key vault"]
    assert fail.outcome == FAIL
    assert "az keyvault purge --name mnistdev-kv-abc123 --location westeurope" in fail.fix


def test_a_soft_deleted_workspace_fails_once_its_name_is_known() -> None:
    known = Target(**{**TARGET.__dict__, "workspace_name": "ws1", "resource_group": "rg1"})
    arm = FakeArm(
        {**registered(), "/workspaces/ws1": {"properties": {"provisioningState": "SoftDeleted"}}}
    )
    check = by_name(preflight.run_checks(known, ml_with(24), arm))["workspace not soft-deleted"]
    assert check.outcome == FAIL and "Recently deleted" in check.fix
    assert any(
        p.endswith("/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws1")
        for p in arm.paths
    )


def test_cli_reads_the_stack_config_prints_the_table_and_exits_check_failed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {})  # the stack has not been deployed yet
    ml = ml_with(free_cpus=2)
    connect_to(monkeypatch, ml)
    arm = FakeArm({**registered(), "/deletedVaults": {"value": []}})
    monkeypatch.setattr(session, "make_arm", lambda _cred: arm)
    code, out, err = run_cli(capsys, "preflight", "--stack", "dev", "--subscription", SUB)
    assert code == ExitCode.CHECK_FAILED
    config, _ = stack_config("dev")  # Pulumi.yaml defaults overlaid by Pulumi.dev.yaml
    location, nodes = config["azure-native:location"], config["computeMaxNodes"]
    assert f"subscription {SUB}, {location}, {nodes} x {config['computeVmSize']}" in out
    assert "vCPU quota: standardDSv2Family" in out and "fail" in out
    # jobs/deployment.yml's instance type, read with azure-ai-ml's loader, is checked too
    assert "VM size Standard_DS2_v2 (deployments)" in out
    assert "1 preflight check(s) failed: vCPU quota: standardDSv2Family" in err


def test_cli_needs_a_subscription_before_the_stack_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {})
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    code, _, err = run_cli(capsys, "preflight", "--stack", "dev")
    assert code == ExitCode.BAD_INPUT and "no subscription id" in err and "--subscription" in err


@pytest.mark.parametrize(("instances", "reserved"), [(1, 2), (2, 3), (3, 4), (5, 6), (10, 12)])
def test_a_deployment_reserves_ceil_1_2_times_its_instances(instances: int, reserved: int) -> None:
    # how-to-manage-quotas: 10 instances of Standard_DS3_v2 (4 cores) need quota for 48 cores
    assert preflight.deployment_reserve(instances) == reserved
    assert preflight.deployment_reserve(10) * 4 == 48


WORKSHOP = Target(
    **{
        **TARGET.__dict__,
        "trainees": 5,
        "instances": 5,
        "instance_vm_size": "Standard_DS11_v2",
        "deployment_vm_size": "Standard_DS2_v2",
        "deployment_instances": 1,
    }
)


def test_the_whole_workshop_is_counted_and_how_many_trainees_fit_is_said() -> None:
    # cluster 3 x 4 + 5 instances x 2 + 5 deployments x ceil(1.2 x 1) = 2 instances x 2 = 42
    checks = by_name(preflight.run_checks(WORKSHOP, ml_with(free_cpus=24), FakeArm(registered())))
    quota = checks["vCPU quota: standardDSv2Family"]
    assert quota.outcome == FAIL
    assert "needs 42: cluster 3 x 4 + 5 compute instances x 2 + 5 deployments x 2" in quota.detail
    assert "limit of at least 42" in quota.fix
    fit = checks["trainees the quota holds"]
    # one node (4) + t x (2 + 4) <= 24  ->  t = 3
    assert fit.outcome == FAIL and "3 of 5 trainees fit" in fit.detail
    assert "at most 3 trainees" in fit.fix
    assert checks["VM size Standard_DS11_v2 (compute instances)"].outcome == PASS
    assert checks["VM size Standard_DS2_v2 (deployments)"].outcome == PASS


def test_enough_for_the_trainees_but_not_the_full_cluster_warns() -> None:
    # 5 x 6 = 30 for the trainees; 4 more for one node; 12 for all three
    checks = by_name(
        preflight.run_checks(WORKSHOP, ml_with(free_cpus=40, limit=40), FakeArm(registered()))
    )
    assert checks["vCPU quota: standardDSv2Family"].outcome == WARN
    assert "the cluster can reach 2 nodes" in checks["vCPU quota: standardDSv2Family"].detail
    assert checks["trainees the quota holds"].outcome == PASS
    full = by_name(
        preflight.run_checks(WORKSHOP, ml_with(free_cpus=42, limit=42), FakeArm(registered()))
    )
    assert {full[n].outcome for n in full if "quota" in n} == {PASS}


def test_each_vm_family_is_counted_against_its_own_quota() -> None:
    sizes = [
        size("Standard_DS3_v2", "standardDSv2Family", 4),
        size("Standard_E4s_v3", "standardESv3Family", 4),
        size("Standard_F2s_v2", "standardFSv2Family", 2),
    ]
    ml = ml_with(free_cpus=12, sizes=sizes)
    ml.compute.list_usage.return_value += [
        usage("standardESv3Family", 20, 0),  # 5 instances x 4 = 20: fits exactly
        usage("standardFSv2Family", 10, 0),  # 5 x ceil(1.2 x 2) = 3 x 2 = 30: 3 trainees fit
    ]
    target = Target(
        **{
            **WORKSHOP.__dict__,
            "instance_vm_size": "Standard_E4s_v3",
            "deployment_vm_size": "Standard_F2s_v2",
            "deployment_instances": 2,
        }
    )
    checks = by_name(preflight.run_checks(target, ml, FakeArm(registered())))
    assert checks["vCPU quota: standardDSv2Family"].outcome == PASS  # the cluster alone: 12
    assert checks["vCPU quota: standardESv3Family"].outcome == PASS
    assert checks["vCPU quota: standardFSv2Family"].outcome == FAIL
    assert "5 deployments x 3 instances (ceil 1.2 x 2) x 2" in (
        checks["vCPU quota: standardFSv2Family"].detail
    )
    fit = checks["trainees the quota holds"]
    assert "1 of 5 trainees fit" in fit.detail and "standardFSv2Family" in fit.detail


def test_a_low_priority_cluster_leaves_the_trainees_on_dedicated_quota() -> None:
    ml = ml_with(free_cpus=29)
    ml.compute.list_usage.return_value.append(usage("TotalLowPriorityCores", 100, 0))
    low = Target(**{**WORKSHOP.__dict__, "low_priority": True})
    checks = by_name(preflight.run_checks(low, ml, FakeArm(registered())))
    assert checks["vCPU quota: regional low-priority"].outcome == PASS
    dedicated = checks["vCPU quota: standardDSv2Family"]
    assert dedicated.outcome == FAIL and "needs 30" in dedicated.detail  # no cluster in it
    assert "4 of 5 trainees fit" in checks["trainees the quota holds"].detail


def test_target_counts_trainees_instances_and_the_deployment_yaml(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from workshop.azure import stack
    from workshop.commands.cloud import preflight_target

    use_fake_pulumi(monkeypatch, tmp_path, {})
    config, _ = stack_config("dev")
    trainees = [
        {"name": "A", "objectId": "0b6c1c54-8e1a-4f0e-9a3e-2f1d6f3c9a10"},
        {"name": "B", "objectId": "1b6c1c54-8e1a-4f0e-9a3e-2f1d6f3c9a10"},
        {"name": "G", "objectId": "2b6c1c54-8e1a-4f0e-9a3e-2f1d6f3c9a10", "principalType": "Group"},
    ]
    config = {**config, "trainees": trainees, "traineeComputeInstances": True}
    monkeypatch.setattr(stack, "stack_config", lambda _stack: (config, True))
    target = preflight_target("dev", SUB)
    assert (target.trainees, target.instances) == (3, 2)  # a group gets no compute instance
    assert target.instance_vm_size == config["traineeComputeVmSize"]
    from azure.ai.ml import load_online_deployment

    from workshop.paths import JOBS_DIR

    deployment: Any = load_online_deployment(JOBS_DIR / "deployment.yml")
    assert target.deployment_vm_size == deployment.instance_type
    assert target.deployment_instances == deployment.instance_count

    config["trainees"] = "not json"
    with pytest.raises(Exception, match=r"aml-workshop:trainees = .not json.: must be a list"):
        preflight_target("dev", SUB)


def test_preflight_json_is_one_document_with_every_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {})
    arm = FakeArm({**registered(), "/deletedVaults": {"value": []}})
    monkeypatch.setattr(session, "make_arm", lambda _cred: arm)
    keys = {"stack", "subscription_id", "location", "vm_size", "max_nodes", "checks"}

    connect_to(monkeypatch, ml_with(free_cpus=24))
    code, doc, err = run_json(
        capsys, "preflight", "--stack", "dev", "--subscription", SUB, result_keys=keys
    )
    assert code == ExitCode.OK and doc["command"] == "preflight"
    assert {c["outcome"] for c in doc["result"]["checks"]} <= {PASS, SKIP}
    assert "preflight: stack dev" in err  # the table, for people, on stderr

    connect_to(monkeypatch, ml_with(free_cpus=2))
    code, doc, err = run_json(
        capsys, "preflight", "--stack", "dev", "--subscription", SUB, result_keys=keys
    )
    assert code == ExitCode.CHECK_FAILED
    failed = [c for c in doc["result"]["checks"] if c["outcome"] == FAIL]
    assert [c["name"] for c in failed] == ["vCPU quota: standardDSv2Family"] and failed[0]["fix"]
    assert doc["error"]["message"].startswith("1 preflight check(s) failed")
    assert doc["error"]["fix"] and "error: 1 preflight check(s) failed" in err
