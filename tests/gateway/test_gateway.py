"""The gateway against the real local broker: each endpoint into Kafka, auth, limits, failures."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flywheel.gateway.app import RETRY_AFTER_UNAVAILABLE_S, create_app
from flywheel.infra.broker import LocalBroker, ensure_topics, free_port
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.support.gateway import read_topic, signed_headers

pytestmark = pytest.mark.integration

KEY = "test-key-team-a"
OTHER_KEY = "test-key-team-b"
WEBHOOK_KEY = "test-key-webhook"
WEBHOOK_SECRET = "webhook-shared-secret"
AUTH = {"X-API-Key": KEY}


def gateway_settings(broker: LocalBroker, root: Path, **gateway: Any) -> Settings:
    """Isolated settings with three keys (one of which must sign) and topics created."""
    base: dict[str, Any] = {
        "api_keys": {"team-a": KEY, "team-b": OTHER_KEY, "webhook": WEBHOOK_KEY},
        "hmac_secrets": {"webhook": WEBHOOK_SECRET},
        "produce_timeout_s": 10.0,
    }
    settings = make_settings(broker.bootstrap_servers, root, gateway={**base, **gateway})
    ensure_topics(settings.kafka, settings.topics)
    return settings


@pytest.fixture
def gw_settings(broker: LocalBroker, tmp_path: Path) -> Settings:
    return gateway_settings(broker, tmp_path)


@pytest.fixture
def client(gw_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(gw_settings.gateway_config())) as test_client:
        yield test_client


def event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "signal": "edit",
        "thread_id": "thread-1",
        "user_id": "user-1",
        "prompt": "Write a python function",
        "response": "def foo(): pass",
        "final_user_edit": "def calculate_tax(): return 0.2",
        "occurred_at": "2026-11-01T12:00:00+00:00",
    }
    body.update(overrides)
    return body


def test_single_event_is_committed_keyed_by_thread_id(client: TestClient, gw_settings: Settings) -> None:
    response = client.post("/v1/events", json=event(event_id="evt-1", segment="pro"), headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "event_ids": ["evt-1"]}
    [(key, value)] = read_topic(gw_settings)
    assert key == b"thread-1"
    assert value["event_id"] == "evt-1"
    assert value["segment"] == "pro"
    assert value["final_user_edit"] == "def calculate_tax(): return 0.2"
    assert value["occurred_at"] == "2026-11-01T12:00:00Z"
    assert value["schema_version"] == 1


def test_absent_event_id_becomes_a_time_ordered_uuid7(client: TestClient, gw_settings: Settings) -> None:
    # Without the client's occurred_at (nor an Idempotency-Key) identical posts are identical clicks: three events.
    unstamped = {name: value for name, value in event().items() if name != "occurred_at"}
    ids = [client.post("/v1/events", json=unstamped, headers=AUTH).json()["event_ids"][0] for _ in range(3)]
    assert all(uuid.UUID(value).version == 7 for value in ids)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert sorted(value["event_id"] for _, value in read_topic(gw_settings)) == ids


def test_batch_is_committed_together_in_order(client: TestClient, gw_settings: Settings) -> None:
    batch = {"events": [event(event_id=f"b-{i}", thread_id=f"t-{i}") for i in range(5)]}
    response = client.post("/v1/events", json=batch, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.json()["event_ids"] == [f"b-{i}" for i in range(5)]
    produced = read_topic(gw_settings)
    assert sorted((key, value["event_id"]) for key, value in produced) == [
        (f"t-{i}".encode(), f"b-{i}") for i in range(5)
    ]


def test_feedback_signal_shape_is_normalised(client: TestClient, gw_settings: Settings) -> None:
    feedback = {
        "request_id": "req-42",
        "signal_type": "edit",
        "user_query": "Summarise the incident",
        "ai_response": "There was an outage.",
        "user_correction": "A 20-minute outage of the EU cluster, caused by a bad config push.",
        "metadata": {"user_id": "user-9", "ui": "web"},
    }
    response = client.post("/v1/feedback", json=feedback, headers=AUTH)
    assert response.status_code == 202, response.text
    [(key, value)] = read_topic(gw_settings)
    assert key == b"req-42"
    assert value["event_id"] == response.json()["event_ids"][0]
    assert (value["signal"], value["request_id"], value["thread_id"], value["user_id"]) == (
        "edit",
        "req-42",
        "req-42",
        "user-9",
    )
    assert (value["prompt"], value["response"], value["final_user_edit"]) == (
        feedback["user_query"],
        feedback["ai_response"],
        feedback["user_correction"],
    )


def test_telemetry_shape_becomes_an_edit_event(client: TestClient, gw_settings: Settings) -> None:
    telemetry = {
        "prompt": "Write a python function",
        "original_llm_output": "def foo(): pass",
        "final_user_edit": "def calculate_tax(): return 0.2",
    }
    response = client.post("/v1/telemetry", json=telemetry, headers=AUTH)
    assert response.status_code == 202, response.text
    [(key, value)] = read_topic(gw_settings)
    event_id = response.json()["event_ids"][0]
    assert key == event_id.encode()
    assert value["signal"] == "edit"
    assert value["response"] == "def foo(): pass"
    assert value["final_user_edit"] == "def calculate_tax(): return 0.2"
    assert value["user_id"] == "anonymous"


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "not-a-key"}, {"X-API-Key": ""}])
def test_missing_or_unknown_api_key_is_401_and_nothing_is_produced(
    client: TestClient, gw_settings: Settings, headers: dict[str, str]
) -> None:
    for path, body in [("/v1/events", event()), ("/v1/telemetry", {"prompt": "p"})]:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "ApiKey"
    assert client.get("/v1/flywheel/training-candidates", headers=headers).status_code == 401
    assert read_topic(gw_settings) == []


def test_webhook_key_needs_a_fresh_valid_signature(client: TestClient, gw_settings: Settings) -> None:
    body = json.dumps(event(event_id="signed-1")).encode()
    good = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body)
    stale = signed_headers(WEBHOOK_KEY, WEBHOOK_SECRET, body, timestamp=1_000_000_000)
    wrong_secret = signed_headers(WEBHOOK_KEY, "guessed", body)
    unsigned = {"X-API-Key": WEBHOOK_KEY, "Content-Type": "application/json"}
    tampered = json.dumps(event(event_id="signed-1", final_user_edit="injected")).encode()
    assert client.post("/v1/events", content=body, headers=stale).status_code == 401
    assert client.post("/v1/events", content=body, headers=wrong_secret).status_code == 401
    assert client.post("/v1/events", content=body, headers=unsigned).status_code == 401
    assert client.post("/v1/events", content=tampered, headers=good).status_code == 401
    assert read_topic(gw_settings) == []
    accepted = client.post("/v1/events", content=body, headers=good)
    assert accepted.status_code == 202, accepted.text
    assert [value["event_id"] for _, value in read_topic(gw_settings)] == ["signed-1"]


def test_body_over_the_limit_is_413_and_nothing_is_produced(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, max_body_bytes=4096)
    with TestClient(create_app(settings.gateway_config())) as client:
        big = client.post("/v1/events", json=event(prompt="x" * 5000), headers=AUTH)
        assert big.status_code == 413, big.text
        chunked = client.post("/v1/events", content=iter([b"{" + b" " * 5000 + b"}"]), headers=AUTH)
        assert chunked.status_code == 413, chunked.text
        assert client.post("/v1/events", json=event(prompt="x" * 3000), headers=AUTH).status_code == 202
    assert len(read_topic(settings)) == 1


def test_rate_limit_is_per_key_429_with_retry_after(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, rate_limit={"requests_per_s": 0.01, "burst": 2})
    with TestClient(create_app(settings.gateway_config())) as client:
        statuses = [client.post("/v1/events", json=event(), headers=AUTH).status_code for _ in range(3)]
        assert statuses == [202, 202, 429]
        limited = client.post("/v1/events", json=event(), headers=AUTH)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        other = client.post("/v1/events", json=event(), headers={"X-API-Key": OTHER_KEY})
        assert other.status_code == 202
    assert len(read_topic(settings)) == 3


def raw(body: Any, **literals: str) -> bytes:
    """``body`` as JSON text the way a client may write it: Python's encoder spells NaN and Infinity
    and escapes lone surrogates (``"\\ud800"``); each ``literals`` key, as a string value, becomes
    that literal (e.g. ``1e999``)."""
    text = json.dumps(body)
    for placeholder, literal in literals.items():
        text = text.replace(json.dumps(placeholder), literal)
    return text.encode("ascii")


def strict_json(response: Any) -> Any:
    """The response's body parsed as strict JSON in UTF-8 (no NaN or Infinity)."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in {response.text}")

    return json.loads(response.content.decode("utf-8"), parse_constant=refuse)


def test_validation_errors_are_field_level_422_and_nothing_is_produced(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, batch_max_events=3)
    cases: list[tuple[Any, list[Any]]] = [
        (event(rating=9, signal="rating"), ["body", "event", "rating"]),
        (event(rating="5", signal="rating"), ["body", "event", "rating"]),
        (event(signal="teleport"), ["body", "event", "signal"]),
        (event(occurred_at="2026-11-01T12:00:00"), ["body", "event", "occurred_at"]),
        (event(final_user_edit=None), ["body", "final_user_edit"]),
        (event(signal="rating"), ["body", "rating"]),
        (event(prompt="x" * 70_000), ["body", "prompt"]),
        (event(schema_version=2), ["body", "schema_version"]),
        (event(occurred_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()), ["body", "occurred_at"]),
        ({"events": [event(), event(final_user_edit=None)]}, ["body", "events", 1, "final_user_edit"]),
        ({"events": [event()] * 4}, ["body", "events"]),
        ({"events": []}, ["body", "batch", "events"]),
        # Times with no UTC equivalent (year 0 or 10000 once converted).
        (event(occurred_at="0001-01-01T00:00:00+14:00"), ["body", "event", "occurred_at"]),
        (event(occurred_at="9999-12-31T23:59:59-14:00"), ["body", "event", "occurred_at"]),
        # Lone surrogates: no UTF-8 encoding, in a text, a metadata key or a nested metadata value.
        (raw(event(prompt="ok \ud800")), ["body", "prompt"]),
        (raw(event(comment="\udfff")), ["body", "comment"]),
        (raw(event(metadata={"\udc00": 1})), ["body", "metadata", "\\udc00"]),
        (raw(event(metadata={"a": ["fine", {"b": "\ud83d"}]})), ["body", "metadata", "a", 1, "b"]),
        (raw({"events": [event(), event(response="\ud800")]}), ["body", "events", 1, "response"]),
        (raw({"events": [event(), event(user_id="\ud800")]}), ["body", "batch", "events", 1, "user_id"]),  # pydantic's
        (raw(event(signal="rating", rating="\ud800")), ["body", "event", "rating"]),
        # NaN and infinities: JSON has no spelling for them (the encoder would store null).
        (raw(event(metadata={"score": float("nan")})), ["body", "metadata", "score"]),
        (raw(event(metadata={"scores": [1.5, "INF"]}), INF="1e999"), ["body", "metadata", "scores", 1]),
        (raw(event(metadata={"low": "INF"}), INF="-Infinity"), ["body", "metadata", "low"]),
        (raw(event(signal="rating", rating=float("nan"))), ["body", "event", "rating"]),
        (raw(event(signal="rating", rating="INF"), INF="1e999"), ["body", "event", "rating"]),
        # As deep as the JSON parser allows: checked and echoed back without recursion.
        (
            raw(event(metadata={"deep": "DEEP"}), DEEP="[" * 900 + "NaN" + "]" * 900),
            ["body", "metadata", "deep", *[0] * 900],
        ),
        (("[" * 900 + '"\\ud800"' + "]" * 900).encode(), ["body", "event"]),
    ]
    seed_shapes = [  # the same checks, naming the field as the client sent it (not its canonical name)
        ("/v1/feedback", raw(FEEDBACK | {"user_query": "\ud800"}), ["body", "user_query"]),
        ("/v1/feedback", raw(FEEDBACK | {"ai_response": "x" * 70_000}), ["body", "ai_response"]),
        ("/v1/feedback", raw(FEEDBACK | {"signal_type": "edit"}), ["body", "user_correction"]),
        ("/v1/feedback", raw(FEEDBACK | {"metadata": {"n": float("inf")}}), ["body", "metadata", "n"]),
        ("/v1/feedback", raw(FEEDBACK | {"rating": float("nan")}), ["body", "rating"]),
        ("/v1/feedback", raw(FEEDBACK | {"occurred_at": "0001-01-01T00:00:00+14:00"}), ["body", "occurred_at"]),
        ("/v1/telemetry", raw(TELEMETRY | {"final_user_edit": "\udbff"}), ["body", "final_user_edit"]),
        ("/v1/telemetry", raw(TELEMETRY | {"original_llm_output": "x" * 70_000}), ["body", "original_llm_output"]),
        ("/v1/telemetry", raw(TELEMETRY | {"occurred_at": "9999-12-31T23:59:59-14:00"}), ["body", "occurred_at"]),
    ]
    with TestClient(create_app(settings.gateway_config())) as client:
        for path, body, loc in [("/v1/events", body, loc) for body, loc in cases] + seed_shapes:
            content = body if isinstance(body, bytes) else raw(body)
            response = client.post(path, content=content, headers={**AUTH, "Content-Type": "application/json"})
            assert response.status_code == 422, (path, body, response.text)
            assert loc in [error["loc"] for error in strict_json(response)["detail"]], (loc, response.text)
            renamed = {"/v1/feedback": ("prompt", "response", "final_user_edit"), "/v1/telemetry": ("response",)}
            for canonical in renamed.get(path, ()):  # the messages, too, name only what the client sent
                assert f"`{canonical}`" not in response.text, response.text
        malformed = client.post(
            "/v1/events", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"}
        )
        assert malformed.status_code == 422
        feedback = client.post("/v1/feedback", json={"request_id": "r"}, headers=AUTH)
        assert feedback.status_code == 422
        assert ["body", "signal_type"] in [error["loc"] for error in feedback.json()["detail"]]
    assert read_topic(settings) == []


FEEDBACK: dict[str, Any] = {"request_id": "req-1", "signal_type": "thumbs_up", "user_query": "q", "ai_response": "a"}
TELEMETRY: dict[str, Any] = {"prompt": "p", "original_llm_output": "a", "final_user_edit": "b"}


def test_broker_unavailable_is_503_with_the_ids_to_retry(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(
        f"127.0.0.1:{free_port()}", tmp_path, gateway={"api_keys": {"a": KEY}, "produce_timeout_s": 1.5}
    )
    with TestClient(create_app(settings.gateway_config())) as client:
        response = client.post("/v1/events", json={"events": [event(event_id="keep-me"), event()]}, headers=AUTH)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == str(RETRY_AFTER_UNAVAILABLE_S)
        assert response.json()["event_ids"][0] == "keep-me" and len(response.json()["event_ids"]) == 2
        single = client.post(
            "/v1/telemetry", json={"prompt": "p", "original_llm_output": "a", "final_user_edit": "b"}, headers=AUTH
        )
        assert single.status_code == 503 and "Retry-After" in single.headers, single.text
        assert len(single.json()["event_ids"]) == 1
        with caplog.at_level(logging.INFO, logger="flywheel.gateway.publisher"):
            assert client.get("/readyz").status_code == 503
            assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    # A failing probe says nothing in the pod's log by itself: the gateway says why, once.
    [line] = [r for r in caplog.records if r.name == "flywheel.gateway.publisher"]
    assert line.levelno == logging.WARNING and "gateway not ready: broker not answering" in line.getMessage()
    assert line.bootstrap_servers == settings.kafka.bootstrap_servers  # type: ignore[attr-defined]


def test_batch_is_all_or_nothing_when_one_event_is_refused(broker: LocalBroker, tmp_path: Path) -> None:
    # The producer refuses messages over 1000 bytes; the gateway's own limits allow them.
    settings = gateway_settings(broker, tmp_path, producer_config={"message.max.bytes": "1000"})
    batch = {"events": [event(event_id="ok-1"), event(event_id="ok-2"), event(event_id="big", prompt="y" * 3000)]}
    with TestClient(create_app(settings.gateway_config())) as client:
        refused = client.post("/v1/events", json=batch, headers=AUTH)
        assert refused.status_code == 413, refused.text
        assert refused.json()["event_ids"] == ["ok-1", "ok-2", "big"]
        assert read_topic(settings) == []
        # The aborted transaction leaves the producer usable.
        again = client.post("/v1/events", json={"events": batch["events"][:2]}, headers=AUTH)
        assert again.status_code == 202, again.text
    assert sorted(value["event_id"] for _, value in read_topic(settings)) == ["ok-1", "ok-2"]


def test_health_readiness_and_metrics(client: TestClient) -> None:
    def sample(text: str, name: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")]
        return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0

    accepted = 'flywheel_gateway_requests_total{route="/v1/events",status="202"}'
    produced = 'flywheel_gateway_events_produced_total{route="/v1/events"}'
    before = client.get("/metrics").text
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.post("/v1/events", json={"events": [event(), event()]}, headers=AUTH).status_code == 202
    after = client.get("/metrics").text
    assert sample(after, accepted) == sample(before, accepted) + 1
    assert sample(after, produced) == sample(before, produced) + 2
    assert 'flywheel_gateway_request_duration_seconds_count{route="/v1/events"}' in after


def test_openapi_declares_every_status_the_write_routes_return(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/events", "/v1/feedback", "/v1/telemetry"):
        assert set(spec["paths"][path]["post"]["responses"]) == {"202", "401", "413", "415", "422", "429", "503"}
        assert spec["paths"][path]["post"]["security"]
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
