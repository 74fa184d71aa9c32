"""Human review end to end without a browser: flow -> review topic -> queue -> app -> gateway -> flow."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest
import sqlalchemy
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient
from pydantic import SecretStr

from flywheel.errors import ReviewDeliveryError
from flywheel.flows.runner import run_until_drained
from flywheel.gateway.app import create_app as create_gateway
from flywheel.infra.broker import LocalBroker, ensure_topics
from flywheel.review.actions import Action, Decision, ReviewPoster, review_event, review_event_text
from flywheel.review.queue import QueueConsumer
from flywheel.review.store import QueueFilter, ReviewStore
from flywheel.schemas.events import Signal
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.support.flow_helpers import read_table
from tests.support.review import review_item
from tests.support.review_flow import (
    ANSWER,
    BETTER,
    REVIEW_KEY,
    csrf,
    event,
    intake,
    log_in,
    password_of,
    produce,
    review_app,
    reviewing_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def review_settings(broker: LocalBroker, tmp_path: Path) -> Settings:
    """Two reviewers, and a quota of one pair per user and day: reviewer pairs must not count against it."""
    return reviewing_settings(
        broker.bootstrap_servers, tmp_path, ["alice", "bob"], curation={"quota": {"per_user_per_day": 1}}
    )


def test_queue_stores_each_item_once_and_commits_after_storing(review_settings: Settings, store: ReviewStore) -> None:
    produce(
        review_settings,
        [
            event("down", Signal.THUMBS_DOWN, comment="wrong"),
            event("escalate", Signal.ESCALATION),
            event("rating-1", Signal.RATING, rating=1),
            event("rating-3", Signal.RATING, rating=3),
            event("toxic", Signal.EDIT, final_user_edit=ANSWER + " This shit is so damn slow."),
        ],
    )
    run_until_drained(review_settings.flow_config())
    assert intake(review_settings, store) == (4, 4)
    items = {s.item.event_id: s.item for s in store.list(QueueFilter(), 50)}
    assert {e: i.reason for e, i in items.items()} == {
        "down": "thumbs_down",
        "escalate": "escalation",
        "rating-1": "low_rating",
        "toxic": "held:toxicity",
    }
    assert items["toxic"].detail.startswith("toxicity:profanity")
    assert items["down"].source.startswith(f"{review_settings.topics.interactions}:")
    # The group's offsets were committed after the store: a new session reads nothing.
    assert intake(review_settings, store) == (0, 0)
    # A replay of the whole topic (another group, as after lost offsets) adds no duplicates.
    assert intake(review_settings, store, group="replay") == (4, 0)


def test_offsets_are_not_committed_when_the_store_fails(review_settings: Settings, store: ReviewStore) -> None:
    produce(review_settings, [event("down", Signal.THUMBS_DOWN), event("escalate", Signal.ESCALATION)])
    run_until_drained(review_settings.flow_config())
    config = review_settings.review_config()
    store.depth_by_reason()  # creates the schema; then every insert fails, as on a full disk
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON review_items BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="disk full"):
        QueueConsumer(config, store).run(until_drained=True)
    consumer = Consumer(review_settings.kafka.client(**{"group.id": config.review.consumer_group}))
    partitions = [TopicPartition(review_settings.topics.review, p) for p in range(3)]
    committed = consumer.committed(partitions, timeout=30)
    consumer.close()
    assert all(tp.offset < 0 for tp in committed), committed  # nothing stored, so nothing committed
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse")
    assert intake(review_settings, store) == (2, 2)  # the next session reads both again


@pytest.fixture
def reviewer(review_settings: Settings, store: ReviewStore) -> Iterator[TestClient]:
    """The review app logged in as alice, posting to the real gateway app in-process."""
    with review_app(review_settings, store) as app, TestClient(app) as client:
        log_in(client, "alice", password_of("alice"))
        yield client


def answer(client: TestClient, store: ReviewStore, event_id: str, **form: str) -> str:
    """Claim the item of ``event_id`` and submit ``form`` on it, as the logged-in reviewer."""
    item_id = next(s.item.item_id for s in store.list(QueueFilter(), 50) if s.item.event_id == event_id)
    page = client.post(f"/items/{item_id}/claim", data={"csrf_token": csrf(client.get("/").text)})
    response = client.post(f"/items/{item_id}/answer", data={"csrf_token": csrf(page.text), **form})
    assert response.status_code == 200
    return response.text


def test_reviewer_actions_become_trusted_pairs_and_audit_rows(
    review_settings: Settings, store: ReviewStore, reviewer: TestClient
) -> None:
    down = event("down", Signal.THUMBS_DOWN, comment="wrong")
    produce(
        review_settings,
        [
            down,
            event("down-2", Signal.THUMBS_DOWN),
            event("escalate", Signal.ESCALATION),
            event("toxic", Signal.EDIT, final_user_edit=ANSWER + " Also, this shit is so damn slow."),
            event("toxic-2", Signal.EDIT, final_user_edit=ANSWER + " Damn, this shit is slow."),
            # user-1's one pair of the day under the quota: reviewer pairs come on top of it
            event("edit-ok", Signal.EDIT, final_user_edit="Delete the old key after creating a new one."),
        ],
    )
    run_until_drained(review_settings.flow_config())
    intake(review_settings, store)

    assert "Sent: correct" in answer(reviewer, store, "down", action="correct", answer=BETTER)
    assert "Sent: correct" in answer(reviewer, store, "down-2", action="correct", answer=BETTER + " Test it first.")
    assert "Sent: dismiss" in answer(reviewer, store, "escalate", action="dismiss", note="duplicate ticket")
    assert "Sent: approve" in answer(reviewer, store, "toxic", action="approve")
    assert "Sent: reject" in answer(reviewer, store, "toxic-2", action="reject", note="insulting")
    # A later user edit of the answer the reviewer corrected: it must not override the reviewer.
    later = event("later", Signal.EDIT, prompt=down.prompt, final_user_edit=ANSWER + " Or just keep the old key.")
    # (reviews carry the wall-clock time of the answer; the user's edit comes four minutes after it:
    # a later dedup hold slot (dedup.hold_s 120 s), and within validation.max_future_s (300 s) of
    # the message's own timestamp, or the flow would send it to the DLQ as occurred_in_future)
    after_review = datetime.now(UTC) + timedelta(minutes=4)
    produce(review_settings, [later.__replace__(thread_id=down.thread_id, occurred_at=after_review)])
    run_until_drained(review_settings.flow_config())

    pairs = {row["event_id"]: row for row in read_table(review_settings, DPO_PAIRS).to_pylist()}
    reviewed = {e: p for e, p in pairs.items() if p["source"] == "reviewer"}
    assert set(reviewed) == {f"review-{store_item(store, e)}" for e in ("down", "down-2", "toxic")}
    corrected = reviewed[f"review-{store_item(store, 'down')}"]
    assert corrected["chosen"] == BETTER and corrected["rejected"] == ANSWER
    assert corrected["prompt"] == down.prompt and corrected["reviewer_id"] == "alice"
    assert corrected["thread_id"] == down.thread_id and corrected["user_id"] == "user-1"
    approved = reviewed[f"review-{store_item(store, 'toxic')}"]
    assert approved["chosen"] == ANSWER + " Also, this shit is so damn slow."
    assert pairs["edit-ok"]["source"] == "user" and pairs["edit-ok"]["reviewer_id"] is None
    assert "later" not in pairs

    audit = {
        (row["event_id"], row["stage"], row["reason"]) for row in read_table(review_settings, REJECTIONS).to_pylist()
    }
    assert (f"review-{store_item(store, 'escalate')}", "review", "dismissed_by_reviewer") in audit
    assert (f"review-{store_item(store, 'toxic-2')}", "review", "rejected_by_reviewer") in audit
    assert ("later", "review", "superseded_by_review") in audit
    done = {s.item.event_id: (s.resolved_by, s.action) for s in store.list(QueueFilter(status="done"), 50)}
    assert done == {
        e: ("alice", a)
        for e, a in [
            ("down", "correct"),
            ("down-2", "correct"),
            ("escalate", "dismiss"),
            ("toxic", "approve"),
            ("toxic-2", "reject"),
        ]
    }


def store_item(store: ReviewStore, event_id: str) -> str:
    return next(s.item.item_id for s in store.list(QueueFilter(status="done"), 50) if s.item.event_id == event_id)


def test_only_the_review_apps_key_may_send_review_events(broker: LocalBroker, tmp_path: Path) -> None:
    settings = make_settings(broker.bootstrap_servers, tmp_path, gateway={"api_keys": {"review": "r", "client": "c"}})
    ensure_topics(settings.kafka, settings.topics)
    body = event("x", Signal.REVIEW, final_user_edit=BETTER).__replace__(metadata={"review": {}})
    payload = msgspec.to_builtins(body)
    with TestClient(create_gateway(settings.gateway_config())) as gateway:
        refused = gateway.post("/v1/events", json=payload, headers={"X-API-Key": "c"})
        assert refused.status_code == 422 and "may not send review events" in refused.text
        batch = gateway.post("/v1/events", json={"events": [payload]}, headers={"X-API-Key": "c"})
        assert batch.status_code == 422
        # Nor a reviewer's event id under another signal: the flow would drop the real decision as its duplicate.
        squatted = {**msgspec.to_builtins(event("x", Signal.THUMBS_UP)), "event_id": "review-0123abcd"}
        taken = gateway.post("/v1/events", json=squatted, headers={"X-API-Key": "c"})
        assert taken.status_code == 422 and "are the review app's" in taken.text
        assert gateway.post("/v1/events", json=payload, headers={"X-API-Key": "r"}).status_code == 202
        # A decision on an item whose stored texts scrubbing made longer than the text limit (64 KiB)
        # is taken: the review app could otherwise never answer it.
        grown = {**payload, "event_id": "x-grown", "prompt": "[EMAIL] " * 12_000}  # 96 KB
        assert gateway.post("/v1/events", json=grown, headers={"X-API-Key": "r"}).status_code == 202
        as_edit = {**grown, "signal": "edit", "event_id": "x-edit", "metadata": {}}
        assert gateway.post("/v1/events", json=as_edit, headers={"X-API-Key": "c"}).status_code == 422


def test_the_review_app_signs_its_posts_for_a_gateway_that_requires_signatures(
    broker: LocalBroker, tmp_path: Path
) -> None:
    secret = "review-hmac-secret"
    settings = make_settings(
        broker.bootstrap_servers,
        tmp_path,
        gateway={"api_keys": {"review": REVIEW_KEY}, "require_signatures": True, "hmac_secrets": {"review": secret}},
        review={"gateway_api_key": REVIEW_KEY, "gateway_hmac_secret": secret},
    )
    ensure_topics(settings.kafka, settings.topics)
    item = review_item(3)
    decision = Decision(Action.CORRECT, "alice", answer=BETTER)
    gateway = create_gateway(settings.gateway_config())
    unsigned = settings.review_config().review.model_copy(update={"gateway_hmac_secret": SecretStr("")})

    async def post_both() -> None:
        signed_poster = ReviewPoster(settings.review_config().review, httpx.ASGITransport(app=gateway))
        unsigned_poster = ReviewPoster(unsigned, httpx.ASGITransport(app=gateway))
        try:
            await signed_poster.post(review_event_text(review_event(item, decision)))  # 202, or it raises
            with pytest.raises(ReviewDeliveryError, match=r"\(401\).*are required"):
                await unsigned_poster.post(review_event_text(review_event(item, decision)))
        finally:
            await signed_poster.close()
            await unsigned_poster.close()

    try:
        asyncio.run(post_both())
    finally:
        gateway.state.publisher.close()
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "t", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(settings.topics.interactions, p, 0) for p in range(settings.topics.partitions)])
        received = wait_for(lambda: [m for m in consumer.consume(100, 0.5) if m.error() is None], what="the post")
    finally:
        consumer.close()
    assert [msgspec.json.decode(m.value())["event_id"] for m in received] == [f"review-{item.item_id}"]
