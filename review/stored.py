"""What the review store hands out: an item with its queue state, the queue's filters and facets.

The statuses an item goes through: ``open`` (in the queue, maybe claimed), ``answering`` (an
answer is being posted, :meth:`flywheel.review.store.ReviewStore.hold`) and ``done``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flywheel.review.items import ReviewItem

OPEN = "open"
ANSWERING = "answering"  # an answer is being posted (see ReviewStore.hold)
DONE = "done"
PENDING = (OPEN, ANSWERING)  # not answered yet: in the queue


@dataclass(frozen=True)
class QueueFilter:
    """What the queue page asks for; empty strings mean "any"."""

    reason: str = ""
    segment: str = ""
    model_version: str = ""
    older_than_s: float | None = None  # event age, from occurred_at
    newer_than_s: float | None = None
    status: str = OPEN  # open | mine | done
    reviewer: str = ""  # for status=mine


@dataclass(frozen=True)
class StoredItem:
    """An item with its queue state."""

    item: ReviewItem
    status: str
    enqueued_at: float
    claimed_by: str | None
    claim_expires_at: float | None
    resolved_by: str | None
    action: str | None
    note: str | None
    sent_event: str | None = None  # the review event that may already be on the topic, as posted

    def claimed_by_other(self, reviewer: str, now: float) -> bool:
        """True when someone else holds an unexpired claim."""
        return self.claim_active(now) and self.claimed_by != reviewer

    def claim_active(self, now: float) -> bool:
        """True when a claim is held and not expired."""
        return self.claimed_by is not None and (self.claim_expires_at or 0.0) > now

    def answering(self, now: float) -> bool:
        """True while an answer is being posted (a hold that has not expired)."""
        return self.status == ANSWERING and self.claim_active(now)

    def claimable_by(self, reviewer: str, now: float) -> bool:
        """True when ``reviewer`` may claim the item now (what :meth:`ReviewStore.claim` allows)."""
        if self.status == ANSWERING:
            return not self.claim_active(now)  # a hold left by a crash, expired
        return self.status == OPEN and (not self.claim_active(now) or self.claimed_by == reviewer)


@dataclass(frozen=True)
class Facets:
    """Values the filters offer, from the open items."""

    reasons: list[str]
    segments: list[str]
    model_versions: list[str]
