"""Retries without an event_id: the Idempotency-Key header and the client's own occurred_at, against the broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flywheel.gateway.app import create_app
from flywheel.gateway.ids import RequestIds, fingerprint
from flywheel.infra.broker import LocalBroker, ensure_topics
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.support.gateway import read_topic

KEY, OTHER_KEY = "idem-key-a", "idem-key-b"
# The client's clocks, a minute before the gateway's: occurred_at must be within its accepted window.
CLICKED = datetime.now(UTC).replace(microsecond=250_000) - timedelta(minutes=1)
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def settings(broker: LocalBroker, tmp_path: Path) -> Settings:
    made = make_settings(broker.bootstrap_servers, tmp_path, gateway={"api_keys": {"a": KEY, "b": OTHER_KEY}})
    ensure_topics(made.kafka, made.topics)
    return made


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.gateway_config())) as test_client:
        yield test_client


def thumbs(**overrides: Any) -> dict[str, Any]:
    """A thumbs-down as the seed's FeedbackSignal, without event_id or occurred_at."""
    body: dict[str, Any] = {
        "request_id": "req-1",
        "signal_type": "thumbs_down",
        "user_query": "How do I rotate my keys?",
        "ai_response": "Press rotate.",
        "user_id": "user-1",
    }
    return {**body, **overrides}


def accepted(client: TestClient, path: str, body: Any, **headers: str) -> list[str]:
    response = client.post(path, json=body, headers={**AUTH, **headers})
    assert response.status_code == 202, response.text
    ids: list[str] = response.json()["event_ids"]
    return ids


@pytest.mark.integration
def test_a_retry_with_the_same_idempotency_key_carries_the_same_event_ids(
    client: TestClient, settings: Settings
) -> None:
    first = accepted(client, "/v1/feedback", thumbs(), **{"Idempotency-Key": "click-1"})
    retry = accepted(client, "/v1/feedback", thumbs(), **{"Idempotency-Key": "click-1"})
    other_click = accepted(client, "/v1/feedback", thumbs(), **{"Idempotency-Key": "click-2"})
    unkeyed = [accepted(client, "/v1/feedback", thumbs())[0] for _ in range(2)]
    assert first == retry and first != other_click
    assert len(set(unkeyed)) == 2  # no key, no time of the client's: two clicks, two events
    produced = [value["event_id"] for _, value in read_topic(settings)]
    assert sorted(produced) == sorted(first + retry + other_click + unkeyed)


@pytest.mark.integration
def test_a_keyed_batch_retried_gets_its_ids_by_position_and_content(client: TestClient) -> None:
    events = [
        {"signal": "copy", "thread_id": "t", "user_id": "u", "prompt": "p", "response": "r"},
        {"signal": "copy", "thread_id": "t", "user_id": "u", "prompt": "p", "response": "r"},
        {"signal": "thumbs_up", "thread_id": "t", "user_id": "u", "prompt": "p", "response": "r", "event_id": "own"},
    ]
    key = {"Idempotency-Key": "batch-7"}
    first = accepted(client, "/v1/events", {"events": events}, **key)
    # Re-serialised by the client: other key order, a fresh occurred_at; still the same events.
    resent = [dict(reversed(list(e.items())), occurred_at=CLICKED.isoformat()) for e in events]
    retry = accepted(client, "/v1/events", {"events": resent}, **key)
    assert first == retry and first[2] == "own"
    assert first[0] != first[1]  # two identical copies in one batch are two events: their positions differ
    # The key reused for other events (a client's mistake) does not merge them with the first ones.
    reused = accepted(client, "/v1/events", {"events": [{**events[0], "response": "another answer"}]}, **key)
    assert reused[0] not in first
    # Another API key's identical request is another client's: its own ids.
    other = client.post("/v1/events", json={"events": events}, headers={"X-API-Key": OTHER_KEY, **key})
    assert other.status_code == 202 and set(other.json()["event_ids"][:2]).isdisjoint(first)


@pytest.mark.integration
def test_an_event_stamped_with_the_clients_time_and_sent_twice_is_one_event(client: TestClient) -> None:
    stamped = thumbs(occurred_at=CLICKED.astimezone(timezone(timedelta(hours=2))).isoformat())
    first = accepted(client, "/v1/feedback", stamped)
    retry = accepted(client, "/v1/feedback", {**stamped, "occurred_at": CLICKED.isoformat()})  # the same instant
    later = (CLICKED + timedelta(seconds=1)).isoformat()
    a_second_later = accepted(client, "/v1/feedback", {**stamped, "occurred_at": later})
    assert first == retry and first != a_second_later
    assert uuid.UUID(first[0]).version == 5


@pytest.mark.integration
@pytest.mark.parametrize("key", [b"", "naïve".encode(), b"x" * 256])
def test_a_malformed_idempotency_key_is_422(client: TestClient, settings: Settings, key: bytes) -> None:
    headers: dict[str, Any] = {**AUTH, "Idempotency-Key": key}
    response = client.post("/v1/feedback", json=thumbs(), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert read_topic(settings) == []


def test_fingerprint_ignores_key_order_and_tells_types_apart() -> None:
    assert fingerprint({"a": 1, "b": [1, {"c": "d"}]}) == fingerprint({"b": [1, {"c": "d"}], "a": 1})
    values = [1, "1", 1.0, True, None, [1], {"1": 1}, [[1]], [1, 1]]
    assert len({fingerprint({"v": value}) for value in values}) == len(values)
    deep: Any = "leaf"
    for _ in range(5_000):  # metadata as deep as a JSON parser allows: no recursion
        deep = {"k": deep}
    assert len(fingerprint({"metadata": deep})) == 64


def test_without_key_or_clients_time_a_signed_request_keeps_its_signature_ids() -> None:
    signed = RequestIds("webhook", replay_token="token-1")
    again = RequestIds("webhook", replay_token="token-1")
    fields: dict[str, Any] = {"signal": "copy", "occurred_at": None}
    assert [signed.new_id(0, fields), signed.new_id(1, fields)] == [again.new_id(0, fields), again.new_id(1, fields)]
    unsigned = RequestIds("webhook")
    assert uuid.UUID(unsigned.new_id(0, fields)).version == 7
