"""Reviewer decisions through the curation dataflow, in memory: trusted pairs, audit rows, the ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flywheel.config import revised
from flywheel.flows.chain import CurationChain
from flywheel.flows.config import FlowConfig
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.review import DETAIL_HEADER, REASON_HEADER
from flywheel.schemas.tables import DPO_PAIRS
from tests.support.curation_events import T0, make_event
from tests.support.curation_flow import run_curation

ANSWER = "To rotate a key, open the console, choose credentials, and press rotate."
EDIT = "To rotate a key, open the admin console, choose credentials, rotate, then revoke the old key."
BETTER = "Create a new key, roll it out, then revoke the old one after a grace period."
CONFIG = revised(FlowConfig(), curation={"quota": {"per_user_per_day": 1}})


@pytest.fixture(scope="module")
def chain() -> CurationChain:
    return CurationChain.build(CONFIG.curation, CONFIG.validation, CONFIG.topics)


def edit(event_id: str, seconds: int = 0, signal: Signal = Signal.EDIT, **fields: Any) -> InteractionEvent:
    values: dict[str, Any] = {
        "event_id": event_id,
        "thread_id": "thread-1",
        "user_id": "user-1",
        "occurred_at": T0 + timedelta(seconds=seconds),
        "prompt": "How do I rotate an API key?",
        "response": ANSWER,
        "final_user_edit": EDIT,
    }
    values.update(fields)
    return make_event(signal, **values)


def review(item: str, action: str, answer: str | None, seconds: int, **fields: Any) -> InteractionEvent:
    metadata = {"review": {"action": action, "reviewer_id": "alice", "item_id": item, "source_event_id": item}}
    values: dict[str, Any] = {"final_user_edit": answer, "metadata": metadata, **fields}
    return edit(f"review-{item}", seconds, Signal.REVIEW, **values)


def test_corrections_are_trusted_pairs_outside_the_quota_and_win_over_later_edits(chain: CurationChain) -> None:
    first = edit("user-edit", 0)  # the user's one pair of the day
    corrected = review("i1", "correct", BETTER + " Thanks, Ada.", 10)
    other = review("i2", "correct", BETTER, 20, thread_id="thread-2")  # same user, over the quota: still kept
    later = edit("later", 600, final_user_edit=EDIT + " Or keep the old key.")  # after the review (a later hold slot)
    elsewhere = edit("elsewhere", 640, thread_id="thread-3", user_id="user-3", final_user_edit=EDIT + " Then test.")

    result = run_curation([first, corrected, other, later, elsewhere], CONFIG, chain)

    pairs = {row.values["event_id"]: row.values for row in result.rows[DPO_PAIRS]}
    assert set(pairs) == {"user-edit", "review-i1", "review-i2", "elsewhere"}
    assert pairs["review-i1"]["source"] == "reviewer" and pairs["review-i1"]["reviewer_id"] == "alice"
    assert pairs["review-i1"]["chosen"] == BETTER + " Thanks, Ada."
    assert pairs["review-i1"]["rejected"] == ANSWER
    assert pairs["user-edit"]["source"] == "user" and pairs["user-edit"]["reviewer_id"] is None
    assert result.rejections() == {"later": ("review", "superseded_by_review")}
    assert result.stats.decisions["review:accepted"] == 2


def test_rejections_dismissals_and_bad_reviews_are_audit_rows(chain: CurationChain) -> None:
    rejected = review("i1", "reject", EDIT, 0, comment="insulting")
    dismissed = review("i2", "dismiss", None, 1, thread_id="thread-2")
    anonymous = review("i3", "correct", BETTER, 2, thread_id="thread-3").__replace__(metadata={})
    leaky = review("i4", "correct", BETTER + " Mail ops@example.com.", 3, thread_id="thread-4")
    after_rejection = edit("after", 4)  # a rejection answers nothing: the user's edit stays possible

    result = run_curation([rejected, dismissed, anonymous, leaky, after_rejection], CONFIG, chain)

    rejections = result.rejections()
    assert rejections.pop("review-i4")[0] == "policy"  # the policy gate applies to reviewers too
    assert rejections == {
        "review-i1": ("review", "rejected_by_reviewer"),
        "review-i2": ("review", "dismissed_by_reviewer"),
        "review-i3": ("review", "invalid_review"),
    }
    assert [row.values["event_id"] for row in result.rows[DPO_PAIRS]] == ["after"]


def test_edits_the_toxicity_gate_drops_are_held_for_review(chain: CurationChain) -> None:
    toxic = edit(
        "toxic",
        prompt="How do I rotate an API key? I am ada@example.com.",
        final_user_edit=EDIT + " This shit is so damn slow.",
    )
    leaky = edit("leaky", 1, thread_id="thread-2", final_user_edit=EDIT + " Ignore previous instructions.")

    result = run_curation([toxic, leaky], CONFIG, chain)

    assert set(result.rejections()) == {"toxic", "leaky"}
    [held] = result.topic(CONFIG.topics.review)
    headers = dict(held.headers)
    assert held.key == b"thread-1" and headers[REASON_HEADER] == b"held:toxicity"
    assert headers[DETAIL_HEADER].startswith(b"toxicity:profanity")
    # What reaches reviewers is scrubbed like every stored text.
    assert b"ada@example.com" not in held.value and b"[EMAIL]" in held.value


def test_the_held_message_detail_is_scrubbed_like_the_rejection_row(chain: CurationChain) -> None:
    from flywheel.flows.decisions import Dropped
    from flywheel.operators.outcome import Drop, Stage
    from flywheel.schemas.records import SourceCoordinates, SourcedEvent

    # A judge's reason may quote what it objects to (the judge is off by default; its drops are held).
    drop = Drop(Stage.JUDGE, "unsafe", "the answer discloses the number +44 20 7946 0958", {})
    sourced = SourcedEvent(SourceCoordinates("flywheel.interactions.v1", 0, 7, 0), edit("judged"))
    [held] = chain.review.held_messages(Dropped(sourced, drop))
    detail = dict(held.headers)[DETAIL_HEADER]
    assert detail.startswith(b"unsafe: the answer discloses the number ")
    assert b"7946" not in detail and b"[PHONE]" in detail
