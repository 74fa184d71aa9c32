"""Reviewer decisions in the curation chain: verdicts, the reviewed-answers ledger, held-back edits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.review import (
    DISMISSED_BY_REVIEWER,
    INVALID_REVIEW,
    REJECTED_BY_REVIEWER,
    SUPERSEDED_BY_REVIEW,
    ReviewedAnswers,
    answer_key,
    held_for_review,
    review_verdict,
)
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.review import ReviewMetadata
from tests.support.curation_events import T0, make_event


def review(action: str, **overrides: Any) -> InteractionEvent:
    metadata = {"review": {"action": action, "reviewer_id": "alice", "item_id": "i1", "source_event_id": "e0"}}
    fields: dict[str, Any] = {"metadata": metadata, "final_user_edit": "def better(): return 1"}
    fields.update(overrides)
    return make_event(Signal.REVIEW, **fields)


def test_corrections_and_approvals_yield_pairs_the_rest_audit_rows() -> None:
    for action in ("correct", "approve"):
        verdict = review_verdict(review(action))
        assert isinstance(verdict, ReviewMetadata) and verdict.reviewer_id == "alice"
    rejected = review_verdict(review("reject", comment="insulting"))
    assert rejected == Drop(Stage.REVIEW, REJECTED_BY_REVIEWER, "alice: insulting")
    dismissed = review_verdict(review("dismiss", final_user_edit=None))
    assert isinstance(dismissed, Drop) and dismissed.reason == DISMISSED_BY_REVIEWER


def test_malformed_reviews_are_dropped_with_a_reason() -> None:
    anonymous = {"review": {"action": "correct", "reviewer_id": "", "item_id": "i", "source_event_id": "e"}}
    for event in (
        review("correct", metadata={}),
        review("promote"),
        review("correct", final_user_edit=None),
        review("correct", final_user_edit="def foo(): pass"),  # the response unchanged
        review("correct", metadata=anonymous),
    ):
        verdict = review_verdict(event)
        assert isinstance(verdict, Drop) and verdict.reason == INVALID_REVIEW, event


def test_a_user_edit_after_a_review_of_the_same_answer_is_dropped() -> None:
    ledger = ReviewedAnswers(timedelta(hours=24))
    edit = make_event(Signal.EDIT, prompt="  Write a PYTHON function ", occurred_at=T0 + timedelta(minutes=5))
    before = make_event(Signal.EDIT, event_id="e-0", occurred_at=T0 - timedelta(minutes=5))
    assert ledger.observe(before, answer_key(before)) is None  # before any review: kept
    assert ledger.observe(review("correct"), answer_key(review("correct"))) is None
    assert ledger.observe(before, answer_key(before)) is None  # made before the review, even if seen after
    assert answer_key(edit) == answer_key(review("correct"))
    drop = ledger.observe(edit, answer_key(edit))
    assert drop is not None and drop.reason == SUPERSEDED_BY_REVIEW
    other = make_event(Signal.EDIT, response="def bar(): pass")
    assert ledger.observe(other, answer_key(other)) is None
    elsewhere = make_event(Signal.EDIT, thread_id="t-2")  # the same answer in another conversation
    assert ledger.observe(elsewhere, answer_key(elsewhere)) is None
    # beyond the window (event time) the review is forgotten
    late = make_event(Signal.EDIT, occurred_at=T0 + timedelta(hours=30))
    assert ledger.observe(late, answer_key(late)) is None and len(ledger) == 0


def test_hold_for_review_matches_a_stage_or_a_stage_and_reason() -> None:
    toxic = Drop(Stage.TOXICITY, "toxicity:profanity")
    assert held_for_review(toxic, ("toxicity",))
    assert held_for_review(toxic, ("toxicity:toxicity:profanity",))
    assert not held_for_review(toxic, ("judge",))
    assert not held_for_review(Drop(Stage.POLICY, "pii:email"), ("toxicity", "judge"))
