"""The review store (claims, expiry, replays) and review events, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from flywheel.config import ValidationSettings
from flywheel.errors import ClaimError, ReviewError
from flywheel.operators.decode import decode_event
from flywheel.operators.rows import scrub_event
from flywheel.review.actions import Action, Decision, review_event
from flywheel.review.items import UndecodableItem, item_from_message
from flywheel.review.metrics import QUEUE_DEPTH, QUEUE_OLDEST_AGE, refresh_queue_gauges
from flywheel.review.store import ANSWERING, DONE, ITEMS, OPEN, SESSIONS, QueueFilter, ReviewStore
from flywheel.schemas.events import Rejection, Signal, encode_event
from flywheel.schemas.review import REASON_HEADER
from tests.support.review import review_item, thumbs_down

TTL = 60.0
EVENT = '{"event_id": "review-x"}'  # the text of the event an answer posts (kept by the hold)


@pytest.fixture
def store(tmp_path: Path) -> ReviewStore:
    return ReviewStore(f"sqlite:///{tmp_path / 'queue.db'}", claim_ttl_s=TTL)


def test_storing_the_same_messages_again_adds_nothing(store: ReviewStore) -> None:
    assert store.add([review_item(1), review_item(2)], now=100.0) == 2
    assert store.add([review_item(2), review_item(3), review_item(3)], now=101.0) == 1
    assert [s.item.event_id for s in store.list(QueueFilter(), 10)] == ["td-1", "td-2", "td-3"]
    assert store.depth_by_reason() == {"thumbs_down": 3}
    assert store.oldest_open_enqueued_at() == 100.0


def test_two_reviewers_never_hold_the_same_item(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item], now=0.0)
    store.claim(item.item_id, "alice", now=10.0)
    with pytest.raises(ClaimError, match="claimed by alice"):
        store.claim(item.item_id, "bob", now=10.0 + TTL - 1)
    with pytest.raises(ClaimError, match="claimed by alice"):
        store.hold(item.item_id, "bob", EVENT, now=11.0)
    # the claim expires: bob may take it, and alice can no longer answer
    store.claim(item.item_id, "bob", now=10.0 + TTL + 1)
    with pytest.raises(ClaimError):
        store.hold(item.item_id, "alice", EVENT, now=10.0 + TTL + 2)
    store.hold(item.item_id, "bob", EVENT, now=10.0 + TTL + 2)
    store.resolve(item.item_id, "bob", "correct", None, "review-x", now=10.0 + TTL + 3)
    with pytest.raises(ClaimError, match="already answered by bob"):
        store.claim(item.item_id, "alice", now=10.0 + TTL + 4)
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == DONE and stored.resolved_by == "bob"
    assert store.depth_by_reason() == {}


def test_release_frees_the_item_at_once(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item], now=0.0)
    store.claim(item.item_id, "alice", now=1.0)
    store.release(item.item_id, "bob")  # not bob's claim: nothing happens
    with pytest.raises(ClaimError):
        store.claim(item.item_id, "bob", now=2.0)
    store.release(item.item_id, "alice")
    store.claim(item.item_id, "bob", now=2.0)


def test_an_item_is_answered_once_even_by_answers_sent_at_the_same_time(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item], now=0.0)
    with pytest.raises(ClaimError, match="claim the item before answering"):
        store.resolve(item.item_id, "alice", "dismiss", "x", "review-x", now=0.5)  # not held: nothing recorded
    store.claim(item.item_id, "alice", now=1.0)
    store.hold(item.item_id, "alice", EVENT, now=2.0)  # the first answer is being posted
    # A second answer (another tab, a double submit) is refused before anything is posted.
    with pytest.raises(ClaimError, match=r"another answer of yours to .* is already being sent; this one was not sent"):
        store.hold(item.item_id, "alice", EVENT, now=2.1)
    with pytest.raises(ClaimError, match="being sent"):
        store.claim(item.item_id, "alice", now=2.1)  # renewing the claim would reopen it: refused too
    with pytest.raises(ClaimError, match=r"an answer to .* from alice is already being sent"):
        store.claim(item.item_id, "bob", now=2.1)
    store.release(item.item_id, "alice")  # a release does not reopen it either
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == ANSWERING and stored.answering(2.2)
    assert not stored.claimable_by("alice", 2.2) and not stored.claimable_by("bob", 2.2)
    # Still in the queue (unanswered), shown as alice's.
    assert [s.item.item_id for s in store.list(QueueFilter(status="mine", reviewer="alice"), 10, now=2.2)] == [
        item.item_id
    ]
    assert store.count(QueueFilter(), now=2.2) == 1 and store.depth_by_reason() == {"thumbs_down": 1}
    # The gateway refused the post: open again, still alice's, so she can answer again.
    store.unhold(item.item_id, "alice", maybe_delivered=False)
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == OPEN and stored.claimed_by == "alice"
    store.hold(item.item_id, "alice", EVENT, now=3.0)
    store.resolve(item.item_id, "alice", "correct", None, "review-x", now=3.5)
    with pytest.raises(ClaimError, match="already answered by alice"):
        store.hold(item.item_id, "alice", EVENT, now=4.0)
    store.unhold(item.item_id, "alice", maybe_delivered=False)  # too late to give back: nothing happens
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == DONE and stored.action == "correct"


def test_a_hold_left_by_a_crash_ends_like_a_claim(store: ReviewStore) -> None:
    item = review_item(1)
    store.add([item], now=0.0)
    store.claim(item.item_id, "alice", now=1.0)
    store.hold(item.item_id, "alice", EVENT, now=10.0)  # ... and the app died before resolving or unholding
    with pytest.raises(ClaimError, match="being sent"):
        store.claim(item.item_id, "bob", now=10.0 + TTL - 1)
    stored = store.get(item.item_id)
    assert stored is not None and stored.claimable_by("bob", 10.0 + TTL + 1)
    store.claim(item.item_id, "bob", now=10.0 + TTL + 1)  # the hold expired: open again, for anyone
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == OPEN and stored.claimed_by == "bob"
    with pytest.raises(ClaimError, match="claimed by bob"):
        store.resolve(item.item_id, "alice", "dismiss", "late", "review-x", now=10.0 + TTL + 2)
    store.hold(item.item_id, "bob", EVENT, now=10.0 + TTL + 2)
    store.resolve(item.item_id, "bob", "dismiss", "noise", "review-x", now=10.0 + TTL + 3)
    stored = store.get(item.item_id)
    assert stored is not None and stored.resolved_by == "bob"


def test_after_a_post_that_may_have_arrived_only_that_event_can_be_sent(store: ReviewStore) -> None:
    item = review_item(1)
    dismissed, corrected = '{"action": "dismiss"}', '{"action": "correct"}'
    store.add([item], now=0.0)
    store.claim(item.item_id, "alice", now=1.0)
    store.hold(item.item_id, "alice", dismissed, now=2.0)
    store.unhold(item.item_id, "alice", maybe_delivered=True)  # e.g. the gateway's 503 "no delivery report"
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == OPEN and stored.sent_event == dismissed
    # The flow keeps the first event of an id: a different answer would be recorded here and dropped there.
    with pytest.raises(ClaimError, match=r"may already have been published .* send it again unchanged"):
        store.hold(item.item_id, "alice", corrected, now=3.0)
    stored = store.get(item.item_id)
    assert stored is not None and stored.status == OPEN and stored.sent_event == dismissed
    store.hold(item.item_id, "alice", dismissed, now=3.0)  # the same event again: allowed
    # A crash before the answer came: whoever takes the item over is held to that event too.
    store.claim(item.item_id, "bob", now=3.0 + TTL + 1)
    with pytest.raises(ClaimError, match="may already have been published"):
        store.hold(item.item_id, "bob", corrected, now=3.0 + TTL + 2)
    # A refusal (4xx) means nothing was published: the event is forgotten, another answer may go.
    store.hold(item.item_id, "bob", dismissed, now=3.0 + TTL + 2)
    store.unhold(item.item_id, "bob", maybe_delivered=False)
    stored = store.get(item.item_id)
    assert stored is not None and stored.sent_event is None
    store.hold(item.item_id, "bob", corrected, now=3.0 + TTL + 3)


def test_a_store_made_before_sent_event_existed_gets_the_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    ITEMS.create(engine)
    with engine.begin() as conn:  # the table as an earlier version made it
        conn.exec_driver_sql("ALTER TABLE review_items DROP COLUMN sent_event")
    engine.dispose()
    store = ReviewStore(url, claim_ttl_s=TTL)
    item = review_item(1)
    store.add([item], now=0.0)
    store.claim(item.item_id, "alice", now=1.0)
    store.hold(item.item_id, "alice", EVENT, now=2.0)
    stored = store.get(item.item_id)
    assert stored is not None and stored.sent_event == EVENT
    store.close()


def test_a_session_lasts_until_logout_or_expiry(store: ReviewStore) -> None:
    first = store.open_session("alice", max_age_s=100.0, now=0.0)
    second = store.open_session("alice", max_age_s=100.0, now=1.0)
    assert first != second
    assert store.session_reviewer(first, now=50.0) == "alice" and store.session_reviewer(second, now=50.0) == "alice"
    store.end_session(first)
    assert store.session_reviewer(first, now=50.0) is None  # logged out, wherever the cookie was copied
    assert store.session_reviewer(second, now=50.0) == "alice"  # other sessions are not
    assert store.session_reviewer(second, now=101.0) is None  # expired
    assert store.session_reviewer("made-up", now=50.0) is None
    store.open_session("bob", max_age_s=100.0, now=200.0)  # drops expired sessions
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(SESSIONS.c.reviewer)).scalars().all() == ["bob"]


def test_filters_by_reason_segment_model_version_age_and_claims(store: ReviewStore) -> None:
    store.add([review_item(i) for i in range(4)] + [review_item(9, model_version="2026.12")], now=0.0)
    now = review_item(0).occurred_at.timestamp() + 3600 * 30

    def ids(**query: object) -> list[str]:
        return [s.item.event_id for s in store.list(QueueFilter(**query), 50, now=now)]  # type: ignore[arg-type]

    assert ids(segment="pro") == ["td-1", "td-3", "td-9"]
    assert store.count(QueueFilter(segment="pro"), now=now) == 3 and store.count(QueueFilter(), now=now) == 5
    assert ids(model_version="2026.12") == ["td-9"]
    assert ids(reason="escalation") == []
    assert ids(older_than_s=86400.0) == ["td-0", "td-1", "td-2", "td-3", "td-9"]
    assert ids(newer_than_s=3600.0) == []
    store.claim(review_item(2).item_id, "alice", now=now)
    assert ids(status="mine", reviewer="alice") == ["td-2"]
    assert ids(status="mine", reviewer="bob") == []
    facets = store.facets()
    assert facets.segments == ["free", "pro"] and facets.model_versions == ["2026.11", "2026.12"]


def test_gauges_follow_the_store(store: ReviewStore) -> None:
    store.add([review_item(1)], now=1000.0)
    refresh_queue_gauges(store, now=1600.0)
    assert QUEUE_DEPTH.labels("thumbs_down")._value.get() == 1
    assert QUEUE_OLDEST_AGE._value.get() == 600.0
    item = review_item(1)
    store.claim(item.item_id, "a", now=1601.0)
    store.hold(item.item_id, "a", EVENT, now=1601.5)
    refresh_queue_gauges(store, now=1601.5)
    assert QUEUE_DEPTH.labels("thumbs_down")._value.get() == 1  # being answered: not answered yet
    store.resolve(item.item_id, "a", "dismiss", "noise", "review-1", now=1602.0)
    refresh_queue_gauges(store, now=1700.0)
    assert QUEUE_DEPTH.labels("thumbs_down")._value.get() == 0
    assert QUEUE_OLDEST_AGE._value.get() == 0.0


def test_reason_comes_from_the_flow_header_else_the_signal() -> None:
    edit = thumbs_down(5, signal=Signal.EDIT, final_user_edit="a user's edit")
    held = item_from_message(
        encode_event(edit), [(REASON_HEADER, b"toxicity:profanity")], "review:0:5", ValidationSettings()
    )
    assert held.reason == "toxicity:profanity" and held.user_edit == "a user's edit"
    low = item_from_message(
        encode_event(thumbs_down(6, signal=Signal.RATING, rating=1)), None, "review:0:6", ValidationSettings()
    )
    assert low.reason == "low_rating"
    with pytest.raises(UndecodableItem):
        item_from_message(b"{not json", None, "review:0:7", ValidationSettings())


def test_an_item_the_flow_scrubbed_past_the_size_limits_is_still_stored() -> None:
    # Within the limits as sent (64 KiB texts), but scrubbing makes every text longer: dates of
    # birth and e-mail addresses become longer placeholders.
    limits = ValidationSettings()
    births = ("born 1/2/90 " * (limits.max_text_bytes // 12))[: limits.max_text_bytes]
    emails = ("a@b.co " * (limits.max_text_bytes // 7))[: limits.max_text_bytes]
    raw = thumbs_down(8, prompt=births, response=emails, comment=emails)
    assert not isinstance(decode_event(encode_event(raw), limits), Rejection)
    scrubbed = encode_event(scrub_event(raw))
    assert isinstance(decode_event(scrubbed, limits), Rejection)  # what the review app used to refuse
    item = item_from_message(scrubbed, None, "review:0:8", limits)
    assert item.prompt.startswith("born [DATE_OF_BIRTH] born [DATE_OF_BIRTH]")
    assert "@" not in item.response and item.response.count("[EMAIL]") == limits.max_text_bytes // 7


def test_earlier_turns_are_read_from_metadata() -> None:
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    item = review_item(1, metadata={"turns": turns, "locale": "en"})
    assert item.turns == turns and item.other_metadata == {"locale": "en"}


def test_the_conversation_is_shown_and_travels_with_the_review_event() -> None:
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    item = review_item(1, metadata={"conversation": turns, "locale": "en"})
    assert item.turns == turns and item.other_metadata == {"locale": "en"}
    event = review_event(item, Decision(Action.CORRECT, "alice", answer="Rotate with a grace period."))
    assert event["metadata"]["conversation"] == turns and "locale" not in event["metadata"]
    assert "conversation" not in review_event(review_item(2), Decision(Action.DISMISS, "bob", note="x"))["metadata"]


def test_review_events_carry_the_reviewer_and_the_right_answer() -> None:
    item = review_item(1)
    event = review_event(item, Decision(Action.CORRECT, "alice", answer="Rotate with a grace period."))
    assert event["signal"] == "review" and event["event_id"] == f"review-{item.item_id}"
    assert event["final_user_edit"] == "Rotate with a grace period."
    assert event["response"] == item.response and event["prompt"] == item.prompt
    assert event["metadata"]["review"] == {
        "action": "correct",
        "reviewer_id": "alice",
        "item_id": item.item_id,
        "source_event_id": "td-1",
        "queue_reason": "thumbs_down",
        "source": "interactions:0:1",
    }
    dismissed = review_event(item, Decision(Action.DISMISS, "bob", note="spam"))
    assert dismissed["final_user_edit"] is None and dismissed["comment"] == "spam"
    with pytest.raises(ReviewError, match="reason"):
        review_event(item, Decision(Action.DISMISS, "bob"))
    with pytest.raises(ReviewError, match="unchanged"):
        review_event(item, Decision(Action.CORRECT, "bob", answer=item.response))
    with pytest.raises(ReviewError, match="unchanged"):
        review_event(item, Decision(Action.CORRECT, "bob", answer=f"  {item.response}\r\n"))
    with pytest.raises(ReviewError, match="write the corrected answer"):
        review_event(item, Decision(Action.CORRECT, "bob", answer=" \r\n "))


def test_a_correction_is_published_as_typed() -> None:
    item = review_item(1, prompt="Complete the method body", response="    return None\n")
    # As a browser sends a textarea: CRLF line breaks; the first line's indentation is code.
    typed = "    if x is None:\r\n        raise ValueError('x')\r\n    return x * 2\r\n"
    event = review_event(item, Decision(Action.CORRECT, "alice", answer=typed))
    assert event["final_user_edit"] == "    if x is None:\n        raise ValueError('x')\n    return x * 2\n"
    with pytest.raises(ReviewError, match="no user edit"):
        review_event(item, Decision(Action.APPROVE, "bob"))
