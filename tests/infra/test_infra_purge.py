"""The purge providers against a scripted ARM on 127.0.0.1: real HTTP, exact requests, waits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from infra_harness import load_in_provider_host
from workshop_infra import purge
from workshop_infra.purge import KeyVaultPurgeProvider, PurgeError, WorkspacePurgeProvider

from tests.fakes.arm_server import Answer, FakeArm, FakeCredential, serving

SUB = "00000000-0000-0000-0000-00000000abcd"
WS_PATH = (
    f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.MachineLearningServices"
    "/workspaces/ws1"
)
KV_PATH = (
    f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1"
)


@pytest.fixture
def arm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArm]:
    monkeypatch.setattr(purge, "_credential", FakeCredential)
    with serving(FakeArm()) as fake:
        yield fake


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the providers send to Pulumi's warning channel."""
    seen: list[str] = []
    monkeypatch.setattr(purge.pulumi.log, "warn", lambda message, *a, **k: seen.append(message))
    return seen


def _fast(provider: Any, wait: float = 5.0) -> Any:
    provider.max_wait_seconds = wait
    provider.poll_seconds = 0.01
    provider.max_backoff_seconds = 0.05
    return provider


def _ws(arm: FakeArm, enabled: bool = True) -> dict[str, Any]:
    return {
        "subscription_id": SUB,
        "resource_group_name": "rg1",
        "workspace_name": "ws1",
        "enabled": enabled,
        "arm_url": arm.url,
    }


def _kv(arm: FakeArm, enabled: bool = True) -> dict[str, Any]:
    return {
        "subscription_id": SUB,
        "location": "westeurope",
        "vault_name": "kv1",
        "enabled": enabled,
        "arm_url": arm.url,
    }


# --- workspace ---------------------------------------------------------------------------------


def test_workspace_create_checks_the_workspace_is_reachable(arm: FakeArm) -> None:
    arm.script("GET", WS_PATH, Answer(200, {"name": "ws1"}))
    result = _fast(WorkspacePurgeProvider()).create(_ws(arm))
    assert result.id == WS_PATH
    assert arm.calls() == [("GET", WS_PATH)]
    assert arm.seen[0].query == {"api-version": [purge.WORKSPACE_API]}
    assert arm.seen[0].authorization == "Bearer fake-token"


def test_workspace_create_fails_early_without_access(arm: FakeArm) -> None:
    arm.script("GET", WS_PATH, Answer(403, {"error": {"code": "AuthorizationFailed"}}))
    with pytest.raises(PurgeError, match=r"ws1: cannot read it \(HTTP 403 \(AuthorizationFailed"):
        _fast(WorkspacePurgeProvider()).create(_ws(arm))


def test_workspace_delete_force_purges_and_polls_until_gone(arm: FakeArm) -> None:
    arm.script(
        "DELETE",
        WS_PATH,
        Answer(202, headers={"Azure-AsyncOperation": "{base}/operations/op1?api-version=x"}),
    )
    arm.script(
        "GET",
        "/operations/op1",
        Answer(200, {"status": "InProgress"}),
        Answer(200, {"status": "InProgress"}),
        Answer(200, {"status": "Succeeded"}),
    )
    arm.script("GET", WS_PATH, Answer(200, {"properties": {"provisioningState": "Deleting"}}))
    arm.scripts[("GET", WS_PATH)].append(Answer(404))
    _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))
    assert arm.calls() == [
        ("DELETE", WS_PATH),
        ("GET", "/operations/op1"),
        ("GET", "/operations/op1"),
        ("GET", "/operations/op1"),
        ("GET", WS_PATH),
        ("GET", WS_PATH),
    ]
    assert arm.seen[0].query == {"api-version": [purge.WORKSPACE_API], "forceToPurge": ["true"]}
    assert arm.seen[1].query == {"api-version": ["x"]}  # the operation URL is used as given


def test_workspace_delete_follows_a_location_header(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(202, headers={"Location": "{base}/results/r1"}))
    arm.script("GET", "/results/r1", Answer(202), Answer(204))
    arm.script("GET", WS_PATH, Answer(404))
    _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))
    assert arm.calls() == [
        ("DELETE", WS_PATH),
        ("GET", "/results/r1"),
        ("GET", "/results/r1"),
        ("GET", WS_PATH),
    ]


def test_transient_answers_are_retried_honouring_retry_after(
    arm: FakeArm, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(purge.time, "sleep", slept.append)
    arm.script(
        "DELETE",
        WS_PATH,
        Answer(429, headers={"Retry-After": "7"}),
        Answer(503),
        Answer(409, {"error": {"code": "Conflict", "message": "compute still deleting"}}),
        Answer(200),
    )
    arm.script("GET", WS_PATH, Answer(404))
    _fast(WorkspacePurgeProvider(), wait=60).delete(WS_PATH, _ws(arm))
    assert arm.calls() == [("DELETE", WS_PATH)] * 4 + [("GET", WS_PATH)]
    assert slept[0] == 7.0  # Retry-After, not the backoff
    assert slept[1:] == [0.02, 0.04]  # exponential backoff from poll_seconds


def test_a_purge_that_keeps_failing_gives_up_within_its_deadline(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(503, {"error": {"code": "ServiceUnavailable"}}))
    started = time.monotonic()
    with pytest.raises(PurgeError) as caught:
        _fast(WorkspacePurgeProvider(), wait=0.3).delete(WS_PATH, _ws(arm))
    assert time.monotonic() - started < 5  # bounded: gave up, did not hang
    message = str(caught.value)
    assert "purging workspace ws1: not done after 0 s" in message
    assert "HTTP 503 (ServiceUnavailable)" in message
    assert len(arm.seen) >= 3


def test_an_operation_that_never_ends_fails_within_the_deadline(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(202, headers={"Azure-AsyncOperation": "{base}/op"}))
    arm.script("GET", "/op", Answer(200, {"status": "InProgress"}))
    with pytest.raises(
        PurgeError, match=r"ws1: not done after 0 s; last answer: GET .*/op: HTTP 200"
    ):
        _fast(WorkspacePurgeProvider(), wait=0.3).delete(WS_PATH, _ws(arm))
    assert arm.calls().count(("GET", "/op")) >= 3


def test_a_refused_purge_fails_at_once_with_arms_message(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(403, {"error": {"code": "Forbidden", "message": "no"}}))
    with pytest.raises(PurgeError, match=r"HTTP 403 \(Forbidden: no\)"):
        _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))
    assert len(arm.seen) == 1


def test_a_failed_operation_fails_the_delete(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(202, headers={"Azure-AsyncOperation": "{base}/op"}))
    arm.script("GET", "/op", Answer(200, {"status": "Failed", "error": {"code": "Boom"}}))
    with pytest.raises(PurgeError, match="the operation failed: HTTP 200 \\(Boom"):
        _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))


def test_an_already_gone_workspace_is_fine_and_disabled_purges_do_nothing(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(404))
    _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))
    assert arm.calls() == [("DELETE", WS_PATH)]
    arm.seen.clear()
    _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm, enabled=False))
    _fast(WorkspacePurgeProvider()).create(_ws(arm, enabled=False))
    _fast(KeyVaultPurgeProvider()).delete(KV_PATH, _kv(arm, enabled=False))
    _fast(KeyVaultPurgeProvider()).create(_kv(arm, enabled=False))
    assert arm.seen == []


# --- key vault ---------------------------------------------------------------------------------


def test_key_vault_delete_waits_for_the_soft_delete_then_purges(arm: FakeArm) -> None:
    arm.script(
        "POST",
        f"{KV_PATH}/purge",
        Answer(404),  # the vault's delete has not reached deletedVaults yet
        Answer(404),
        Answer(202, headers={"Location": "{base}/kvop"}),
    )
    arm.script("GET", "/kvop", Answer(202), Answer(200))
    arm.script("GET", KV_PATH, Answer(404))
    _fast(KeyVaultPurgeProvider()).delete(KV_PATH, _kv(arm))
    assert arm.calls() == [("POST", f"{KV_PATH}/purge")] * 3 + [
        ("GET", "/kvop"),
        ("GET", "/kvop"),
        ("GET", KV_PATH),
    ]
    assert arm.seen[0].query == {"api-version": [purge.KEY_VAULT_API]}


def test_the_key_vault_purge_post_is_retried_like_the_other_methods(
    arm: FakeArm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-core retries no POST after a 429 without Retry-After; the purge is idempotent."""
    monkeypatch.setattr(purge.time, "sleep", lambda _seconds: None)
    arm.script(
        "POST",
        f"{KV_PATH}/purge",
        Answer(429),
        Answer(409, {"error": {"code": "Conflict"}}),
        Answer(502),
        Answer(200),
    )
    arm.script("GET", KV_PATH, Answer(404))
    _fast(KeyVaultPurgeProvider()).delete(KV_PATH, _kv(arm))
    assert arm.calls() == [("POST", f"{KV_PATH}/purge")] * 4 + [("GET", KV_PATH)]


def test_key_vault_delete_with_nothing_soft_deleted_ends_after_the_grace(arm: FakeArm) -> None:
    arm.script("POST", f"{KV_PATH}/purge", Answer(404))
    provider = _fast(KeyVaultPurgeProvider())
    provider.not_found_grace_seconds = 0.1
    provider.delete(KV_PATH, _kv(arm))
    assert {c for c in arm.calls()} == {("POST", f"{KV_PATH}/purge")}


def test_key_vault_create_purges_a_leftover_vault_of_the_same_name(arm: FakeArm) -> None:
    arm.script("GET", KV_PATH, Answer(200, {"name": "kv1"}), Answer(404))
    arm.script("POST", f"{KV_PATH}/purge", Answer(200))
    result = _fast(KeyVaultPurgeProvider()).create(_kv(arm))
    assert result.id == KV_PATH
    assert arm.calls() == [("GET", KV_PATH), ("POST", f"{KV_PATH}/purge"), ("GET", KV_PATH)]


def test_key_vault_create_with_no_leftover_only_looks(arm: FakeArm) -> None:
    arm.script("GET", KV_PATH, Answer(404))
    _fast(KeyVaultPurgeProvider()).create(_kv(arm))
    assert arm.calls() == [("GET", KV_PATH)]


# --- missing subscription-scope rights: a warning, never a failure -------------------------------

FORBIDDEN = Answer(403, {"error": {"code": "AuthorizationFailed", "message": "no access"}})


def test_key_vault_create_without_rights_to_look_up_deleted_vaults_warns_and_goes_on(
    arm: FakeArm, warnings: list[str]
) -> None:
    arm.script("GET", KV_PATH, FORBIDDEN)
    result = _fast(KeyVaultPurgeProvider()).create(_kv(arm))
    assert result.id == KV_PATH
    assert arm.calls() == [("GET", KV_PATH)]  # no purge attempted, no retries
    (warning,) = warnings
    assert "Microsoft.KeyVault/locations/deletedVaults/read" in warning
    assert "kv1" in warning and "HTTP 403 (AuthorizationFailed" in warning
    assert "subscription" in warning
    assert (result.outs or {})["purge_skipped"] == warning


def test_key_vault_delete_without_purge_rights_warns_and_the_destroy_goes_on(
    arm: FakeArm, warnings: list[str]
) -> None:
    arm.script("POST", f"{KV_PATH}/purge", FORBIDDEN)
    _fast(KeyVaultPurgeProvider()).delete(KV_PATH, _kv(arm))  # does not raise
    assert arm.calls() == [("POST", f"{KV_PATH}/purge")]
    (warning,) = warnings
    assert "Microsoft.KeyVault/locations/deletedVaults/purge/action" in warning
    assert "az keyvault purge --name kv1" in warning


def test_a_purge_accepted_but_not_checkable_warns(arm: FakeArm, warnings: list[str]) -> None:
    arm.script("POST", f"{KV_PATH}/purge", Answer(200))
    arm.script("GET", KV_PATH, FORBIDDEN)
    _fast(KeyVaultPurgeProvider()).delete(KV_PATH, _kv(arm))
    (warning,) = warnings
    assert "deletedVaults/read" in warning and "not confirmed" in warning


def test_other_refusals_still_fail_the_key_vault_purge(arm: FakeArm, warnings: list[str]) -> None:
    arm.script("GET", KV_PATH, Answer(401, {"error": {"code": "InvalidAuthenticationToken"}}))
    with pytest.raises(PurgeError, match="InvalidAuthenticationToken"):
        _fast(KeyVaultPurgeProvider()).create(_kv(arm))
    arm.script("POST", f"{KV_PATH}/purge", Answer(400, {"error": {"code": "BadRequest"}}))
    with pytest.raises(PurgeError, match="BadRequest"):
        _fast(KeyVaultPurgeProvider()).delete(KV_PATH, _kv(arm))
    assert warnings == []


# --- the bearer token goes to ARM only ---------------------------------------------------------


@pytest.mark.parametrize("header", ["Azure-AsyncOperation", "Location"])
def test_operation_urls_elsewhere_are_polled_without_the_token(arm: FakeArm, header: str) -> None:
    """An operation URL on another origin (here: another port) never receives the bearer."""
    with serving(FakeArm()) as other:
        other.script("GET", "/op", Answer(200, {"status": "Succeeded"}))
        arm.script("DELETE", WS_PATH, Answer(202, headers={header: f"{other.url}/op"}))
        arm.script("GET", WS_PATH, Answer(404))
        _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))
    assert [s.authorization for s in arm.seen] == ["Bearer fake-token"] * 2
    assert other.calls() == [("GET", "/op")]
    assert [s.authorization for s in other.seen] == [""]


def test_operation_urls_on_the_arm_origin_get_the_token(arm: FakeArm) -> None:
    arm.script("DELETE", WS_PATH, Answer(202, headers={"Azure-AsyncOperation": "{base}/op"}))
    arm.script("GET", "/op", Answer(200, {"status": "Succeeded"}))
    arm.script("GET", WS_PATH, Answer(404))
    _fast(WorkspacePurgeProvider()).delete(WS_PATH, _ws(arm))
    assert [s.authorization for s in arm.seen] == ["Bearer fake-token"] * 3


# --- diff and the provider host ----------------------------------------------------------------


def test_a_new_name_replaces_and_a_switch_only_updates() -> None:
    provider = WorkspacePurgeProvider()
    old = {"subscription_id": SUB, "resource_group_name": "rg1", "workspace_name": "ws1"}
    old |= {"enabled": True, "arm_url": purge.ARM_URL, "__provider": "pickled"}
    renamed = provider.diff("id", old, {**old, "workspace_name": "ws2"})
    assert renamed.changes and renamed.replaces == ["workspace_name"]
    switched = provider.diff("id", old, {**old, "enabled": False})
    assert switched.changes and not switched.replaces
    assert not provider.diff("id", old, {**old, "__provider": "other"}).changes


def test_pulumis_provider_host_can_load_both_providers() -> None:
    assert load_in_provider_host(WorkspacePurgeProvider(), KeyVaultPurgeProvider()) == [
        "workshop_infra.purge.WorkspacePurgeProvider",
        "workshop_infra.purge.KeyVaultPurgeProvider",
    ]


def test_the_purges_need_nothing_from_the_cli_package() -> None:
    """The providers import the shared ARM client from workshop_common, not the `workshop` CLI."""
    import subprocess
    import sys

    script = (
        "import sys, workshop_infra.purge\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(done.stdout.split())
    assert {"workshop_common", "workshop_infra", "azure"} <= loaded
    assert "workshop" not in loaded
