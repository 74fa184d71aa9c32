"""Requests the gateway refuses before anything is produced, each with an answer that says what to do."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from flywheel.gateway.app import create_app
from flywheel.gateway.config import GatewaySettings
from flywheel.infra.broker import LocalBroker
from flywheel.operators.config import DedupSettings
from tests.gateway.test_gateway import AUTH, FEEDBACK, event, gateway_settings
from tests.support.gateway import read_topic

pytestmark = pytest.mark.integration


def test_an_event_older_than_the_flows_dedup_window_is_refused(broker: LocalBroker, tmp_path: Path) -> None:
    # The flow remembers an event_id only within its dedup window: a retry of an older event
    # (after an ambiguous 503) would be kept twice, so the gateway refuses such events up front.
    assert GatewaySettings().max_past_s == DedupSettings().window_s
    settings = gateway_settings(broker, tmp_path, max_past_s=GatewaySettings().max_past_s)
    now = datetime.now(UTC)
    old = (now - timedelta(days=2)).isoformat()
    recent = event(event_id="recent-1", occurred_at=(now - timedelta(hours=23)).isoformat())
    with TestClient(create_app(settings.gateway_config())) as client:
        refused = client.post("/v1/events", json=event(event_id="offline-1", occurred_at=old), headers=AUTH)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "occurred_at"] and error["type"] == "occurred_too_long_ago"
        for words in ("at most 86400 s", "gateway.max_past_s", "curation.dedup.window_s", "directly"):
            assert words in error["msg"], error["msg"]
        batch = client.post("/v1/events", json={"events": [recent, event(occurred_at=old)]}, headers=AUTH)
        assert batch.status_code == 422 and batch.json()["detail"][0]["loc"] == ["body", "events", 1, "occurred_at"]
        feedback = client.post("/v1/feedback", json=FEEDBACK | {"occurred_at": old}, headers=AUTH)
        assert feedback.status_code == 422 and "gateway.max_past_s" in feedback.text
        assert client.post("/v1/events", json=recent, headers=AUTH).status_code == 202
    assert [value["event_id"] for _, value in read_topic(settings)] == ["recent-1"]


def test_no_age_limit_when_max_past_s_is_0(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path, max_past_s=0)
    with TestClient(create_app(settings.gateway_config())) as client:
        backfill = event(event_id="backfill-1", occurred_at="2020-01-01T00:00:00+00:00")
        assert client.post("/v1/events", json=backfill, headers=AUTH).status_code == 202


def test_a_batch_naming_one_event_id_twice_is_refused(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    batch = [event(event_id="x1"), event(event_id="x2"), event(event_id="x1", signal="thumbs_up", final_user_edit=None)]
    with TestClient(create_app(settings.gateway_config())) as client:
        refused = client.post("/v1/events", json={"events": batch}, headers=AUTH)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "events", 2, "event_id"] and error["type"] == "duplicate_event_id"
        assert "'x1'" in error["msg"] and "indices 0, 2" in error["msg"]
        assert client.post("/v1/events", json={"events": batch[:2]}, headers=AUTH).status_code == 202
    assert [value["event_id"] for _, value in read_topic(settings)] == ["x1", "x2"]


def test_a_body_not_sent_as_uncompressed_json_is_415_naming_the_header(broker: LocalBroker, tmp_path: Path) -> None:
    settings = gateway_settings(broker, tmp_path)
    body = json.dumps(event(event_id="typed-1")).encode()
    with TestClient(create_app(settings.gateway_config())) as client:
        as_text = client.post("/v1/events", content=body, headers={**AUTH, "Content-Type": "text/plain"})
        assert as_text.status_code == 415, as_text.text
        assert as_text.json()["detail"] == "Content-Type must be application/json, not 'text/plain'"
        zipped = {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        compressed = client.post("/v1/events", content=gzip.compress(body), headers=zipped)
        assert compressed.status_code == 415, compressed.text
        assert compressed.json()["detail"] == "Content-Encoding 'gzip' is not supported; send uncompressed JSON"
        untyped = client.post("/v1/events", content=body, headers=AUTH)
        assert untyped.status_code == 415 and "Content-Type must be application/json" in untyped.text
        # JSON with a charset, or a +json type, stays accepted.
        for index, content_type in enumerate(("application/json; charset=utf-8", "application/vnd.x+json")):
            sent = json.dumps(event(event_id=f"json-{index}")).encode()
            headers = {**AUTH, "Content-Type": content_type}
            assert client.post("/v1/events", content=sent, headers=headers).status_code == 202, content_type
    assert [value["event_id"] for _, value in read_topic(settings)] == ["json-0", "json-1"]
