"""The curation flow's human-review steps: reviewer decisions in, held-back edits out.

``flows/curation.py`` wires them; business rules are in ``operators/review.py``.

* a ``review`` event with a correction or an approval becomes a trusted DPO pair
  (chosen = the reviewer's answer, rejected = the model's answer, ``source=reviewer``): it
  passes dedup and the policy gate (PII scrubbing) like any edit, but not the distance band,
  the model-based gates or the per-user quota; a rejection or a dismissal is an audit row;
* the reviewed-answers ledger, keyed by the item (thread + answer), sees reviewer answers and
  user edits as one stream, so a user edit after a reviewer's answer to the same item is dropped
  (``review:superseded_by_review``);
* an edit dropped by a gate listed in ``curation.hold_for_review`` is also sent to the review
  topic, where a reviewer may approve it (a trusted pair) or reject it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from flywheel.flows.decisions import Candidate, Decision, Dropped
from flywheel.operators.config import CurationSettings
from flywheel.operators.dedup import bucket_of
from flywheel.operators.distance import measure_edit
from flywheel.operators.outcome import Drop
from flywheel.operators.policy import PolicyEngine
from flywheel.operators.review import ReviewedAnswers, answer_key, held_for_review, review_verdict
from flywheel.operators.rows import pair_row, scrub_event, scrub_text
from flywheel.schemas.events import Signal
from flywheel.schemas.records import OutboundMessage, TableRow
from flywheel.schemas.review import DETAIL_HEADER, HELD_PREFIX, REASON_HEADER, SOURCE_HEADER

_encoder = msgspec.json.Encoder()


class Review:
    """Review steps bound to the curation settings, the policy (its version) and the review topic."""

    def __init__(self, curation: CurationSettings, policy: PolicyEngine, review_topic: str) -> None:
        self._window = timedelta(seconds=curation.dedup.window_s)
        self._buckets = curation.dedup.buckets
        self._hold = curation.hold_for_review
        self._policy = policy
        self._review_topic = review_topic

    @staticmethod
    def is_user_edit(candidate: Candidate) -> bool:
        """User edits go on to the edit chain."""
        return candidate.sourced.event.signal is not Signal.REVIEW

    @staticmethod
    def is_review(candidate: Candidate) -> bool:
        """Reviewer decisions take the review branch."""
        return candidate.sourced.event.signal is Signal.REVIEW

    def item_bucket(self, candidate: Candidate) -> str:
        """The ledger's key: a hash bucket of the item (thread + answer) under review."""
        return bucket_of(answer_key(candidate.sourced.event), self._buckets)

    def check_superseded(self, state: ReviewedAnswers | None, candidate: Candidate) -> tuple[ReviewedAnswers, Decision]:
        """Record reviewer answers; drop a user edit of an item a reviewer already answered."""
        state = state or ReviewedAnswers(self._window)
        event = candidate.sourced.event
        if event.signal is Signal.REVIEW and isinstance(review_verdict(event), Drop):
            return state, candidate  # a rejection or dismissal answers nothing; the verdict drops it
        drop = state.observe(event, answer_key(event))
        return state, candidate if drop is None else Dropped(candidate.sourced, drop)

    @staticmethod
    def verdict(candidate: Candidate) -> Decision:
        """Keep a correction or approval (chosen = the final answer); drop a rejection, dismissal or bad input."""
        verdict = review_verdict(candidate.sourced.event)
        return Dropped(candidate.sourced, verdict) if isinstance(verdict, Drop) else candidate

    def pair(self, candidate: Candidate) -> TableRow:
        """Build the trusted pair: chosen = the reviewer's (scrubbed) answer, rejected = the model's answer."""
        verdict = review_verdict(candidate.sourced.event)
        if isinstance(verdict, Drop):
            raise TypeError("a reviewer pair needs a correction or approval; the review skipped its verdict")
        measure = measure_edit(candidate.sourced.event.response, candidate.chosen)
        now = datetime.now(UTC)  # curated_at only, never a decision
        sourced, version, reviewer = candidate.sourced, self._policy.version, verdict.reviewer_id
        return pair_row(sourced, candidate.chosen, measure, candidate.scores, version, now, reviewer)

    def held_messages(self, dropped: Dropped) -> list[OutboundMessage]:
        """Build the review-topic message of an edit a gate held back for a human (possibly none)."""
        event = dropped.sourced.event
        if event.signal is not Signal.EDIT or not held_for_review(dropped.drop, self._hold):
            return []
        source = dropped.sourced.coordinates
        headers = [
            (SOURCE_HEADER, f"{source.topic}:{source.partition}:{source.offset}".encode()),
            (REASON_HEADER, f"{HELD_PREFIX}{dropped.drop.stage}".encode()),
            # Masked as the rejection row's detail is: a judge's reason may quote the phone number.
            (DETAIL_HEADER, scrub_text(f"{dropped.drop.reason}: {dropped.drop.detail}").encode()),
        ]
        value = _encoder.encode(scrub_event(event))  # reviewers see no raw PII, as for every review item
        return [OutboundMessage(self._review_topic, event.thread_id.encode(), value, headers)]
