"""workshop_common.arm against a scripted ARM on 127.0.0.1: pages, refusals, and where the token
goes (azure-core's bearer policy alone would send it to any URL the pipeline is given)."""

from __future__ import annotations

import base64

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from tests.fakes.arm_server import Answer, FakeArm, FakeCredential, serving
from workshop_common.arm import ARM_URL, ArmClient, origin

VAULTS = "/subscriptions/s1/providers/Microsoft.KeyVault/deletedVaults"
WS = "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/w"
CLAIMS = base64.urlsafe_b64encode(b'{"access_token":{"nbf":{"essential":true}}}').decode()
CHALLENGE = f'Bearer error="insufficient_claims", claims="{CLAIMS}"'


def test_origin_is_scheme_host_and_port() -> None:
    assert origin("HTTPS://Management.Azure.com/x") == origin(ARM_URL)
    assert origin("https://management.azure.com.evil.example/x") != origin(ARM_URL)
    assert origin("http://management.azure.com/x") != origin(ARM_URL)
    assert origin("https://management.azure.com:8443/x") != origin(ARM_URL)


def test_get_follows_next_link_and_merges_the_pages() -> None:
    with serving(FakeArm()) as arm:
        next_link = f"{arm.url}/page2?$skiptoken=t1"
        arm.script("GET", VAULTS, Answer(200, {"value": [{"name": "a"}], "nextLink": next_link}))
        arm.script("GET", "/page2", Answer(200, {"value": [{"name": "b"}]}))
        with ArmClient(FakeCredential(), arm_url=arm.url) as client:
            found = client.get(VAULTS, "2023-07-01")
    assert found is not None and found["value"] == [{"name": "a"}, {"name": "b"}]
    assert arm.calls() == [("GET", VAULTS), ("GET", "/page2")]
    assert arm.seen[0].query == {"api-version": ["2023-07-01"]}
    assert arm.seen[1].query == {"$skiptoken": ["t1"]}  # the link as given
    assert [s.authorization for s in arm.seen] == ["Bearer fake-token"] * 2


def test_get_is_none_on_404_and_raises_on_a_refusal() -> None:
    with serving(FakeArm()) as arm:
        arm.script("GET", WS, Answer(404))
        arm.script("GET", VAULTS, Answer(403, {"error": {"code": "AuthorizationFailed"}}))
        with ArmClient(FakeCredential(), arm_url=arm.url) as client:
            assert client.get(WS, "2024-10-01") is None
            with pytest.raises(HttpResponseError) as refused:
                client.get(VAULTS, "2023-07-01")
    assert refused.value.status_code == 403
    assert len(arm.seen) == 2  # a 403 is not retried


def test_a_claims_challenge_from_arm_is_answered_with_a_new_token() -> None:
    """ARMChallengeAuthenticationPolicy's CAE path still runs for ARM's own origin."""
    with serving(FakeArm()) as arm:
        arm.script("GET", WS, Answer(401, headers={"WWW-Authenticate": CHALLENGE}), Answer(200, {}))
        with ArmClient(FakeCredential(), arm_url=arm.url) as client:
            assert client.get(WS, "2024-10-01") == {}
    assert [s.authorization for s in arm.seen] == ["Bearer fake-token"] * 2


def test_another_origin_gets_no_token_even_when_it_challenges() -> None:
    """An operation URL elsewhere (another port) is polled bare; its 401 challenge is not
    answered with a token either, and the poll's refusal ends the wait."""
    with serving(FakeArm()) as arm, serving(FakeArm()) as other:
        arm.script("DELETE", WS, Answer(202, headers={"Azure-AsyncOperation": f"{other.url}/op"}))
        other.script("GET", "/op", Answer(401, headers={"WWW-Authenticate": CHALLENGE}))
        with ArmClient(FakeCredential(), arm_url=arm.url, poll_every=0.01) as client:
            accepted = client.send("DELETE", WS)
            with pytest.raises(HttpResponseError) as refused:
                client.wait_for(accepted)
    assert refused.value.status_code == 401
    assert [s.authorization for s in arm.seen] == ["Bearer fake-token"]
    assert other.calls() == [("GET", "/op")]
    assert [s.authorization for s in other.seen] == [""]


def test_no_token_over_plain_http_except_to_a_loopback_arm() -> None:
    client = ArmClient(FakeCredential(), arm_url="http://management.example.invalid", retry_total=0)
    with client, pytest.raises(ServiceRequestError, match="non-TLS"):
        client.send("GET", WS)
