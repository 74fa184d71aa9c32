"""Gateway → Kafka → the real curation flow → Iceberg → ``GET /v1/flywheel/training-candidates``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flywheel.flows.runner import run_until_drained
from flywheel.gateway.app import create_app
from flywheel.infra.broker import LocalBroker, ensure_topics
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.support.flow_helpers import read_table

pytestmark = pytest.mark.integration

KEY = "flow-test-key"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def flow_settings(broker: LocalBroker, tmp_path: Path) -> Settings:
    settings = make_settings(broker.bootstrap_servers, tmp_path, gateway={"api_keys": {"flow": KEY}})
    ensure_topics(settings.kafka, settings.topics)
    return settings


@pytest.fixture
def client(flow_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(flow_settings.gateway_config())) as test_client:
        yield test_client


def edit(index: int, **overrides: Any) -> dict[str, Any]:
    """An edit the curation chain keeps: a substantial but partial rewrite, safe text."""
    body: dict[str, Any] = {
        "event_id": f"gw-edit-{index}",
        "signal": "edit",
        "occurred_at": f"2026-11-01T12:{index:02d}:00+00:00",
        "thread_id": f"thread-{index}",
        "user_id": f"user-{index}",
        "prompt": f"Question number {index}: how do I rotate my API credentials safely?",
        "response": f"Answer {index}: open the console, find credentials, and press rotate now.",
        "final_user_edit": f"Answer {index}: open the admin console, find credentials, "
        "and rotate them with a grace period.",
        "segment": "pro" if index % 2 else "free",
        "model_id": "assistant",
        "model_version": "2026.11",
    }
    body.update(overrides)
    return body


def post(client: TestClient, path: str, body: Any) -> list[str]:
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    ids: list[str] = response.json()["event_ids"]
    return ids


def test_each_endpoint_lands_in_the_dpo_pairs_table(client: TestClient, flow_settings: Settings) -> None:
    single = post(client, "/v1/events", edit(0))
    batch = post(client, "/v1/events", {"events": [edit(1), edit(2)]})
    telemetry = post(
        client,
        "/v1/telemetry",
        {
            "prompt": "Question: how do I rotate my API credentials safely?",
            "original_llm_output": "Open the console, find credentials, and press rotate now.",
            "final_user_edit": "Open the admin console, find credentials, and rotate them with a grace period.",
            "user_id": "user-t",
        },
    )
    feedback = post(
        client,
        "/v1/feedback",
        {
            "request_id": "req-fb",
            "signal_type": "edit",
            "user_query": "Question: how do I revoke a leaked access token quickly?",
            "ai_response": "Go to settings, open tokens, and click revoke on the leaked one.",
            "user_correction": "Go to security settings, open tokens, revoke the leaked one and audit its usage.",
            "user_id": "user-f",
        },
    )
    run_until_drained(flow_settings.flow_config())
    pairs = {row["event_id"]: row for row in read_table(flow_settings, DPO_PAIRS).to_pylist()}
    assert set(pairs) == {*single, *batch, *telemetry, *feedback}
    assert pairs[feedback[0]]["thread_id"] == "req-fb"
    assert pairs[telemetry[0]]["rejected"] == "Open the console, find credentials, and press rotate now."


def test_client_retry_with_the_same_event_id_yields_one_pair(client: TestClient, flow_settings: Settings) -> None:
    first = post(client, "/v1/events", edit(7))
    retry = post(client, "/v1/events", edit(7))  # e.g. the client timed out and sent it again
    assert first == retry == ["gw-edit-7"]
    run_until_drained(flow_settings.flow_config())
    pairs = read_table(flow_settings, DPO_PAIRS).to_pylist()
    assert [pair["event_id"] for pair in pairs] == ["gw-edit-7"]


def test_a_retried_feedback_with_an_idempotency_key_lands_once(client: TestClient, flow_settings: Settings) -> None:
    thumbs_down = {
        "request_id": "req-retried",
        "signal_type": "thumbs_down",
        "user_query": "How do I revoke a leaked token?",
        "ai_response": "Click revoke.",
        "user_id": "user-r",
    }
    keyed = {**AUTH, "Idempotency-Key": "thumbs-req-retried"}
    first = client.post("/v1/feedback", json=thumbs_down, headers=keyed)
    retry = client.post("/v1/feedback", json=thumbs_down, headers=keyed)  # the client timed out and sent it again
    unkeyed = [post(client, "/v1/feedback", {**thumbs_down, "request_id": "req-twice"}) for _ in range(2)]
    assert first.status_code == retry.status_code == 202
    assert first.json()["event_ids"] == retry.json()["event_ids"]
    run_until_drained(flow_settings.flow_config())
    rows = read_table(flow_settings, FEEDBACK_SIGNALS).to_pylist()
    by_request = sorted(row["request_id"] for row in rows)
    # Without a key two identical posts are two clicks: the contrast shows the key is what joins them.
    assert by_request == ["req-retried", "req-twice", "req-twice"], unkeyed


def test_training_candidates_are_filtered_and_paginated(client: TestClient, flow_settings: Settings) -> None:
    post(client, "/v1/events", {"events": [edit(index) for index in range(5)]})
    run_until_drained(flow_settings.flow_config())

    everything = client.get("/v1/flywheel/training-candidates", headers=AUTH).json()
    assert [c["event_id"] for c in everything["candidates"]] == [f"gw-edit-{i}" for i in range(5)]
    first = everything["candidates"][0]
    assert first["chosen"] == edit(0)["final_user_edit"] and first["rejected"] == edit(0)["response"]

    pages: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/flywheel/training-candidates", params=params, headers=AUTH).json()
        pages.extend(c["event_id"] for c in page["candidates"])
        assert page["snapshot_id"] == everything["snapshot_id"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [f"gw-edit-{i}" for i in range(5)]

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/flywheel/training-candidates", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [c["event_id"] for c in response.json()["candidates"]]

    assert ids(segment="pro") == ["gw-edit-1", "gw-edit-3"]
    assert ids(since="2026-11-01T12:03:00+00:00") == ["gw-edit-3", "gw-edit-4"]
    assert ids(model_version="other") == []
    assert ids(min_similarity=1.0) == []
    assert len(ids(min_similarity=0.0)) == 5
    bad = client.get("/v1/flywheel/training-candidates", params={"cursor": "garbage"}, headers=AUTH)
    assert bad.status_code == 422


def test_training_candidates_carry_the_earlier_turns_scrubbed(client: TestClient, flow_settings: Settings) -> None:
    turns = [
        {"role": "system", "content": "You help with cloud accounts."},
        {"role": "user", "content": "I am jane.doe@example.com. Which keys do I have?"},
        {"role": "assistant", "content": "You have two API keys, alpha and beta."},
    ]
    post(client, "/v1/events", {"events": [edit(0, metadata={"conversation": turns, "locale": "en"}), edit(1)]})
    run_until_drained(flow_settings.flow_config())

    page = client.get("/v1/flywheel/training-candidates", headers=AUTH).json()
    conversations = {c["event_id"]: c["conversation"] for c in page["candidates"]}
    # Oldest first, every turn scrubbed, only the conversation (not the rest of the metadata); [] without turns.
    assert conversations == {
        "gw-edit-0": [turns[0], {"role": "user", "content": "I am [EMAIL]. Which keys do I have?"}, turns[2]],
        "gw-edit-1": [],
    }


def test_training_candidates_before_any_pair_is_an_empty_page(client: TestClient) -> None:
    response = client.get("/v1/flywheel/training-candidates", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"candidates": [], "count": 0, "next_cursor": None, "snapshot_id": None}
