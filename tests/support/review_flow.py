"""Review end to end: settings with reviewers, the queue store, and the review app posting to the real gateway.

Shared by the review tests with and without a browser: the flow routes events to the review
topic, :func:`intake` stores them in the queue, and the app sends each reviewer's action
through the gateway app (in-process) back to the interactions topic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from flywheel.config import revised
from flywheel.gateway.app import create_app as create_gateway
from flywheel.infra.broker import ensure_topics
from flywheel.review.app import create_app
from flywheel.review.queue import QueueConsumer
from flywheel.review.store import ReviewStore
from flywheel.schemas.events import InteractionEvent, Signal, encode_event
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.support.flow_helpers import produce_raw
from tests.support.review import password_hash

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
REVIEW_KEY = "review-app-key"
ANSWER = "Delete the old key right away and create a new one."
BETTER = "Create a new key, deploy it everywhere, then revoke the old key after a grace period."


def password_of(reviewer: str) -> str:
    """The password every test reviewer logs in with."""
    return f"{reviewer}-password"


def reviewing_settings(bootstrap_servers: str, root: Path, reviewers: list[str], **overrides: Any) -> Settings:
    """Isolated settings whose gateway takes the review app's key, with ``reviewers``; topics created."""
    settings = make_settings(
        bootstrap_servers,
        root,
        gateway={"api_keys": {"review": REVIEW_KEY}},
        review={
            "reviewers": {name: password_hash(password_of(name)) for name in reviewers},
            "gateway_api_key": REVIEW_KEY,
        },
        **overrides,
    )
    ensure_topics(settings.kafka, settings.topics)
    return settings


def open_store(settings: Settings) -> ReviewStore:
    """The review queue store that ``settings`` point at."""
    config = settings.review_config()
    return ReviewStore(config.review.store_location(config.state_dir), config.review.claim_ttl_s)


@contextmanager
def review_app(settings: Settings, store: ReviewStore) -> Iterator[FastAPI]:
    """The review app, posting its events to the real gateway app (in-process)."""
    gateway = create_gateway(settings.gateway_config())
    transport = httpx.ASGITransport(app=gateway)  # runs no lifespan: the publisher is closed below
    try:
        yield create_app(settings.review_config(), store, transport=transport)
    finally:
        gateway.state.publisher.close()


def csrf(html: str) -> str:
    """The CSRF token of a page's form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: TestClient, reviewer: str, password: str) -> None:
    """Log ``reviewer`` in through the login form; fail unless it lands on the queue."""
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"reviewer": reviewer, "password": password, "csrf_token": token})
    assert response.status_code == 200 and response.url.path == "/", response.text


def event(event_id: str, signal: Signal, **fields: Any) -> InteractionEvent:
    """An event of user-1 on :data:`ANSWER`, its own thread and time derived from ``event_id``."""
    values: dict[str, Any] = {
        "event_id": event_id,
        "signal": signal,
        "occurred_at": T0 + timedelta(minutes=len(event_id)),
        "thread_id": f"thread-{event_id}",
        "user_id": "user-1",
        "segment": "pro",
        "model_id": "assistant",
        "model_version": "v1",
        "prompt": f"How do I rotate an API key? ({event_id})",
        "response": ANSWER,
    }
    values.update(fields)
    return InteractionEvent(**values)


def produce(settings: Settings, events: list[InteractionEvent]) -> None:
    """Produce ``events`` to the interactions topic, keyed by thread."""
    produce_raw(settings, [(e.thread_id.encode(), encode_event(e)) for e in events])


def intake(settings: Settings, store: ReviewStore, group: str | None = None) -> tuple[int, int]:
    """Read the review topic into the queue until drained: (messages read, items stored)."""
    config = settings.review_config()
    if group:
        config = revised(config, review={"consumer_group": group})
    report = QueueConsumer(config, store).run(until_drained=True)
    return report.read, report.stored
