"""Human review in the curation chain (pure, replay-safe).

* :func:`review_verdict` reads a ``review`` event: a correction or an approval becomes a pair
  candidate (chosen = ``final_user_edit``), a rejection or a dismissal an audit drop
  (stage ``review``); a malformed review event is dropped with reason ``invalid_review``.
* :class:`ReviewedAnswers` is the ledger that keeps a reviewer's answer from being overridden:
  keyed by the item reviewed (thread, normalised prompt and model response), it records every
  reviewer answer and drops a user edit of an item a reviewer answered earlier in event time
  (``superseded_by_review``), within an event-time window, deterministically.
* :func:`held_for_review` says whether a gate's drop of an edit also goes to the review queue.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import timedelta

import msgspec

from flywheel.operators.normalize import normalize_text
from flywheel.operators.outcome import Drop, Stage
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.review import REVIEW_METADATA_KEY, ReviewAction, ReviewMetadata

INVALID_REVIEW = "invalid_review"
REJECTED_BY_REVIEWER = "rejected_by_reviewer"
DISMISSED_BY_REVIEWER = "dismissed_by_reviewer"
SUPERSEDED_BY_REVIEW = "superseded_by_review"
REVIEWER_SOURCE = "reviewer"
USER_SOURCE = "user"


def review_verdict(event: InteractionEvent) -> ReviewMetadata | Drop:
    """The review of a ``review`` event when it yields a pair; a Drop for reject, dismiss or bad input."""
    try:
        review = msgspec.convert(event.metadata.get(REVIEW_METADATA_KEY), ReviewMetadata)
    except msgspec.ValidationError as exc:
        return Drop(Stage.REVIEW, INVALID_REVIEW, f"metadata.{REVIEW_METADATA_KEY}: {exc}")
    if not review.reviewer_id:
        return Drop(Stage.REVIEW, INVALID_REVIEW, "a review event needs a reviewer_id")
    note = f"{review.reviewer_id}: {event.comment}" if event.comment else review.reviewer_id
    if review.action is ReviewAction.REJECT:
        return Drop(Stage.REVIEW, REJECTED_BY_REVIEWER, note)
    if review.action is ReviewAction.DISMISS:
        return Drop(Stage.REVIEW, DISMISSED_BY_REVIEWER, note)
    if not event.final_user_edit or event.final_user_edit == event.response:
        return Drop(Stage.REVIEW, INVALID_REVIEW, f"{review.action.value} needs a final_user_edit unlike the response")
    return review


def answer_key(event: InteractionEvent) -> str:
    """What the ledger is keyed by: the item, i.e. the thread and the answer in it (normalised prompt, response).

    The thread is part of the key: another conversation that got the same answer is another item,
    and its user's edit is evidence of its own.
    """
    digest = hashlib.blake2b(digest_size=16, person=b"flywheel-review")
    for part in (event.thread_id, event.prompt, event.response):
        encoded = normalize_text(part).encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


class ReviewedAnswers:
    """Answers a reviewer answered, per hash bucket, remembered for ``window`` of event time."""

    def __init__(self, window: timedelta) -> None:
        if window <= timedelta(0):
            raise ValueError(f"review window must be positive, got {window}")
        self.window_s = window.total_seconds()
        self._reviewed: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []
        self._max_seen: float | None = None

    def __len__(self) -> int:
        """Answers currently remembered."""
        return len(self._reviewed)

    def observe(self, event: InteractionEvent, key: str) -> Drop | None:
        """Record a reviewer's answer; for a user edit, a Drop when a reviewer answered the item before it."""
        ts = event.occurred_at.timestamp()
        if self._max_seen is None or ts > self._max_seen:
            self._max_seen = ts
            self._evict(ts - self.window_s)
        if event.signal is Signal.REVIEW:
            if key not in self._reviewed:
                self._reviewed[key] = ts
                heapq.heappush(self._expiry, (ts, key))
            return None
        reviewed_at = self._reviewed.get(key)
        # Event time, not arrival: the held dedup before this step releases events by event-time
        # slot, so "later" is decided by the events alone. An edit made before the review stays.
        if reviewed_at is not None and ts >= reviewed_at:
            return Drop(Stage.REVIEW, SUPERSEDED_BY_REVIEW, "a reviewer answered this item before this edit")
        return None

    def _evict(self, watermark: float) -> None:
        while self._expiry and self._expiry[0][0] < watermark:
            ts, key = heapq.heappop(self._expiry)
            if self._reviewed.get(key) == ts:
                del self._reviewed[key]


def held_for_review(drop: Drop, hold: tuple[str, ...]) -> bool:
    """True when ``drop`` (of an edit) matches a ``stage`` or ``stage:reason`` entry of ``hold``."""
    return drop.stage in hold or f"{drop.stage}:{drop.reason}" in hold
