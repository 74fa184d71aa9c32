"""The human-review contract shared by the flow and the review app.

Review-topic messages carry the interaction event (the topic contract) and these headers.
A reviewer's decision comes back as an interaction event with ``signal="review"`` whose
``metadata["review"]`` is a :class:`ReviewMetadata` object.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

# Headers of review-topic messages.
SOURCE_HEADER = "flywheel.source"  # topic:partition:offset of the interaction that was queued
REASON_HEADER = "flywheel.review.reason"  # why it is queued, when not implied by the signal
DETAIL_HEADER = "flywheel.review.detail"  # the gate's verdict, for held-back edits
HELD_PREFIX = "held:"  # reason of an edit a gate held back for a human: held:<stage>

REVIEW_METADATA_KEY = "review"
# Event ids of reviewers' decisions: review-<item id>, the same on every post of one item. Only the
# review app's keys may send them (a squatted id would make the flow drop the real decision).
REVIEW_EVENT_ID_PREFIX = "review-"


class ReviewAction(StrEnum):
    """What a reviewer decided about one queued item."""

    CORRECT = "correct"  # final_user_edit = the reviewer's answer -> trusted pair
    APPROVE = "approve"  # final_user_edit = the held-back user edit -> trusted pair
    REJECT = "reject"  # the held-back user edit stays out -> audit row
    DISMISS = "dismiss"  # nothing to learn -> audit row


class ReviewMetadata(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """``metadata["review"]`` of a review event: who decided what about which item."""

    action: ReviewAction
    reviewer_id: str
    item_id: str
    source_event_id: str
    queue_reason: str = ""
    source: str = ""
