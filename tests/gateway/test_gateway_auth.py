"""Gateway hardening against the real broker: replays, bad timestamps, lockout, throttled guessing.

Client addresses are set per TestClient (``client=(host, port)``): the throttle of failed
authentications is per address, the rate limit per key. Shared replay protection runs two
gateway apps (two replicas) on one real redis-server started here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from flywheel.gateway.app import create_app
from flywheel.gateway.auth import sign
from flywheel.infra.broker import LocalBroker, free_port
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.gateway.test_gateway import AUTH, KEY, WEBHOOK_KEY, WEBHOOK_SECRET, event, gateway_settings
from tests.support.gateway import read_topic, signed_headers
from tests.support.redis_server import running_redis

pytestmark = pytest.mark.integration

ATTACKER = ("198.51.100.7", 40000)
OWNER = ("203.0.113.5", 40001)


def app_for(settings: Settings) -> FastAPI:
    return create_app(settings.gateway_config())


def signed_body(event_id: str) -> bytes:
    return json.dumps(event(event_id=event_id)).encode()


def test_an_exact_replay_of_a_signed_request_is_refused(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    body = signed_body("once-1")
    headers = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body)
    with TestClient(app_for(settings)) as client:
        assert client.post("/v1/events", content=body, headers=headers).status_code == 202
        replayed = client.post("/v1/events", content=body, headers=headers)
        assert replayed.status_code == 401, replayed.text
        assert "already received" in replayed.json()["detail"]
        # The same event signed anew (another timestamp) is a new request: the flow dedups by event_id.
        again = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body, timestamp=int(headers["X-Flywheel-Timestamp"]) + 1)
        assert client.post("/v1/events", content=body, headers=again).status_code == 202
    assert [value["event_id"] for _, value in read_topic(settings)] == ["once-1", "once-1"]


@pytest.mark.parametrize("stamp", ["nan", "inf", "1e999", "-1", "1.8e9", " "])
def test_non_finite_or_malformed_timestamp_is_refused(broker: LocalBroker, tmp_path: Path, stamp: str) -> None:
    settings = gateway_settings(broker, tmp_path)
    body = signed_body("stamped")
    # Correctly signed over the odd timestamp: only the timestamp is wrong.
    headers = {**signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body), "X-Flywheel-Timestamp": stamp}
    headers["X-Flywheel-Signature"] = sign(WEBHOOK_SECRET, stamp, body)
    with TestClient(app_for(settings)) as client:
        response = client.post("/v1/events", content=body, headers=headers)
        assert response.status_code == 401, response.text
    assert read_topic(settings) == []


def test_forged_posts_do_not_lock_the_key_owner_out(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, rate_limit={"requests_per_s": 0.01, "burst": 3})
    app = app_for(settings)
    forged_body = signed_body("forged")
    forged = signed_headers(WEBHOOK_KEY, "guessed-secret", forged_body)
    with TestClient(app, client=ATTACKER) as attacker:
        statuses = [attacker.post("/v1/events", content=forged_body, headers=forged).status_code for _ in range(40)]
        owner = TestClient(app, client=OWNER)
        accepted = []
        for index in range(3):  # the owner's whole burst is still there
            body = signed_body(f"owner-{index}")
            response = owner.post("/v1/events", content=body, headers=signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body))
            accepted.append(response.status_code)
    assert set(statuses[:20]) == {401} and set(statuses[20:]) == {429}, statuses
    assert accepted == [202, 202, 202]
    assert sorted(value["event_id"] for _, value in read_topic(settings)) == ["owner-0", "owner-1", "owner-2"]


def test_failed_authentications_are_throttled_per_client_address(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, failed_auth={"burst": 3, "refill_per_s": 0.01})
    app = app_for(settings)
    with TestClient(app, client=ATTACKER) as guesser:
        wrong = [guesser.post("/v1/events", json=event(), headers={"X-API-Key": f"guess-{i}"}) for i in range(4)]
        assert [response.status_code for response in wrong] == [401, 401, 401, 429]
        assert int(wrong[-1].headers["Retry-After"]) >= 1
        assert "failed authentications" in wrong[-1].json()["detail"]
        # While throttled, even the right key is not looked at: a correct guess cannot be told apart.
        assert guesser.post("/v1/events", json=event(event_id="guessed"), headers=AUTH).status_code == 429
        assert guesser.get("/v1/flywheel/training-candidates", headers=AUTH).status_code == 429
        elsewhere = TestClient(app, client=OWNER)
        assert elsewhere.post("/v1/events", json=event(event_id="owner"), headers=AUTH).status_code == 202
        metrics = elsewhere.get("/metrics").text
    assert 'flywheel_gateway_auth_refused_total{reason="throttled"}' in metrics
    assert [value["event_id"] for _, value in read_topic(settings)] == ["owner"]


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_replicas_sharing_redis_refuse_a_replay_sent_to_the_other(
    broker: LocalBroker, tmp_path: Path, redis_url: str
) -> None:
    settings = gateway_settings(broker, tmp_path, replay_cache={"backend": "redis", "url": redis_url})
    body = signed_body("shared-1")
    headers = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body)
    with TestClient(app_for(settings)) as replica_a, TestClient(app_for(settings)) as replica_b:
        assert replica_a.post("/v1/events", content=body, headers=headers).status_code == 202
        replayed = replica_b.post("/v1/events", content=body, headers=headers)
        assert replayed.status_code == 401, replayed.text
        assert replica_a.post("/v1/events", content=body, headers=headers).status_code == 401
    assert [value["event_id"] for _, value in read_topic(settings)] == ["shared-1"]


def test_a_rate_limited_signed_request_does_not_spend_its_signature(
    broker: LocalBroker, tmp_path: Path, redis_url: str
) -> None:
    settings = gateway_settings(
        broker,
        tmp_path,
        replay_cache={"backend": "redis", "url": redis_url},
        rate_limit={"requests_per_s": 0.01, "burst": 1},
    )
    first, second = signed_body("first"), signed_body("second")
    retried = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, second)
    with TestClient(app_for(settings)) as replica_a, TestClient(app_for(settings)) as replica_b:
        assert (
            replica_a.post("/v1/events", content=first, headers=signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, first))
        ).status_code == 202
        assert replica_a.post("/v1/events", content=second, headers=retried).status_code == 429
        # The same bytes again, to a replica whose bucket has a token: accepted, not a replay.
        assert replica_b.post("/v1/events", content=second, headers=retried).status_code == 202
        assert replica_b.post("/v1/events", content=second, headers=retried).status_code == 401
    assert sorted(value["event_id"] for _, value in read_topic(settings)) == ["first", "second"]


def test_unreachable_redis_refuses_signed_requests_with_503(broker: LocalBroker, tmp_path: Path) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings = gateway_settings(broker, tmp_path, replay_cache={"backend": "redis", "url": nowhere, "timeout_s": 0.2})
    body = signed_body("unchecked")
    with TestClient(app_for(settings)) as client:
        refused = client.post("/v1/events", content=body, headers=signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body))
        assert refused.status_code == 503, refused.text
        assert "replay cache" in refused.json()["detail"] and refused.headers["Retry-After"] == "5"
        # Keys that do not sign never touch the cache.
        assert client.post("/v1/events", json=event(event_id="plain"), headers={"X-API-Key": KEY}).status_code == 202
    assert [value["event_id"] for _, value in read_topic(settings)] == ["plain"]


def test_a_signed_request_the_broker_did_not_commit_can_be_retried(tmp_path: Path) -> None:
    # No broker listens: the publish fails with 503, nothing committed.
    gateway = {"api_keys": {"webhook": WEBHOOK_KEY}, "hmac_secrets": {"webhook": WEBHOOK_SECRET}}
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path, gateway={**gateway, "produce_timeout_s": 1.0})
    body = signed_body("retried")
    headers = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body)
    with TestClient(app_for(settings), client=OWNER) as client:
        first = client.post("/v1/events", content=body, headers=headers)
        assert first.status_code == 503, first.text
        # The same signed bytes again: the broker's answer once more, not 401 "already received".
        retried = client.post("/v1/events", content=body, headers=headers)
        assert retried.status_code == 503, retried.text
        assert retried.json()["event_ids"] == ["retried"]


def test_a_resent_signed_request_without_event_ids_gets_the_same_ids(tmp_path: Path) -> None:
    # The broker's answer is unclear (a delivery may still land): the retry must not mint new ids,
    # or the flow's dedup could not tell the two copies apart. A signed resend derives the same
    # ones from the signature; an unsigned request's 503 names its ids for the client to send back.
    # No occurred_at and no Idempotency-Key: those would derive the ids first (test_gateway_idempotency.py).
    gateway = {"api_keys": {"webhook": WEBHOOK_KEY, "plain": KEY}, "hmac_secrets": {"webhook": WEBHOOK_SECRET}}
    settings = make_settings(f"127.0.0.1:{free_port()}", tmp_path, gateway={**gateway, "produce_timeout_s": 1.0})
    unstamped = {k: v for k, v in event().items() if k not in ("event_id", "occurred_at")}
    body = json.dumps({"events": [unstamped] * 2}).encode()
    headers = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body)
    with TestClient(app_for(settings), client=OWNER) as client:
        first, retried = (client.post("/v1/events", content=body, headers=headers) for _ in range(2))
        assert first.status_code == retried.status_code == 503, first.text
        ids = first.json()["event_ids"]
        assert len(set(ids)) == 2 and retried.json()["event_ids"] == ids
        assert "retry with these event_ids" in first.json()["detail"]
        # Signed anew (another timestamp): another request, other ids.
        again = client.post(
            "/v1/events", content=body, headers=signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body, time.time() - 5)
        )
        assert again.status_code == 503 and set(again.json()["event_ids"]).isdisjoint(ids)
        plain = [
            client.post("/v1/events", content=body, headers={"X-API-Key": KEY, "Content-Type": "application/json"})
            for _ in range(2)
        ]
        assert [response.status_code for response in plain] == [503, 503], plain[0].text
        assert plain[0].json()["event_ids"] != plain[1].json()["event_ids"]  # UUIDv7, new each time


def test_a_signed_request_the_broker_refused_for_its_size_keeps_its_signature(
    broker: LocalBroker, tmp_path: Path
) -> None:
    # The producer refuses messages over 1000 bytes; the gateway's own limits allow them.
    settings = gateway_settings(broker, tmp_path, producer_config={"message.max.bytes": "1000"})
    big = json.dumps(event(event_id="big", prompt="y" * 3000)).encode()
    small = signed_body("small")
    big_headers, small_headers = (signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body) for body in (big, small))
    with TestClient(app_for(settings)) as client:
        assert [client.post("/v1/events", content=big, headers=big_headers).status_code for _ in range(2)] == [413, 413]
        # A committed request still spends its signature.
        assert client.post("/v1/events", content=small, headers=small_headers).status_code == 202
        assert client.post("/v1/events", content=small, headers=small_headers).status_code == 401
    assert [value["event_id"] for _, value in read_topic(settings)] == ["small"]
