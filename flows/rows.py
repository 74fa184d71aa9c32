"""Build what leaves the flow: table rows (pairs, positives, feedback, rejections) and review messages.

``curated_at`` is processing time, stored only; no decision ever reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Stream, operator

from flywheel.flows.decisions import Candidate, Dropped, Sampled
from flywheel.flows.gates import grouped
from flywheel.operators.policy import PolicyEngine
from flywheel.operators.routing import needs_review
from flywheel.operators.rows import feedback_row, pair_row, positive_row, rejection_row, scrub_event
from flywheel.schemas.records import OutboundMessage, SinkItem, SourceProgress, TableRow, TableRows

_review_encoder = msgspec.json.Encoder()


class Rows:
    """Row builders bound to the policy (its version on every row, its scrubber on audit texts)."""

    def __init__(self, policy: PolicyEngine, review_topic: str) -> None:
        self._policy = policy
        self._review_topic = review_topic

    def pair(self, candidate: Candidate) -> TableRow:
        """Build the accepted DPO pair: chosen = the (scrubbed) user edit, rejected = the model answer."""
        if candidate.measure is None:
            raise TypeError("a DPO pair needs the distance band's measure; the edit skipped the band")
        return pair_row(
            candidate.sourced, candidate.chosen, candidate.measure, candidate.scores, self._policy.version, _now()
        )

    def positive(self, sampled: Sampled) -> TableRow:
        """Build a positive example with its stratum and sampling rate (its response passed the policy)."""
        return positive_row(sampled.sourced, sampled.stratum, sampled.sampling_rate, self._policy.version, _now())

    def feedback(self, candidate: Candidate) -> TableRow:
        """Build an analytics row; thumbs_down and escalation are marked as sent to review."""
        review = self._review_topic if needs_review(candidate.sourced.event) else None
        return feedback_row(candidate.sourced, review, _now())

    def review_messages(self, candidate: Candidate) -> list[OutboundMessage]:
        """Build the review-queue message for events a human should look at (possibly none)."""
        sourced = candidate.sourced
        if not needs_review(sourced.event):
            return []
        source = sourced.coordinates
        headers = [("flywheel.source", f"{source.topic}:{source.partition}:{source.offset}".encode())]
        key = sourced.event.thread_id.encode()
        value = _review_encoder.encode(scrub_event(sourced.event))  # reviewers see no raw PII either
        return [OutboundMessage(self._review_topic, key, value, headers)]

    def rejection(self, dropped: Dropped) -> TableRow:
        """Build the audit row of a drop: stage, reason, scores, policy version; texts PII-scrubbed."""
        event = dropped.sourced.event
        scrubbed = {
            "prompt": self._policy.scrub(event.prompt),
            "chosen": self._policy.scrub(event.final_user_edit) if event.final_user_edit is not None else None,
            "rejected": self._policy.scrub(event.response),
        }
        return rejection_row(dropped.sourced, dropped.drop, self._policy.version, scrubbed, _now())


@operator
def for_tables(
    step_id: str, rows: Stream[TableRow], progress: Stream[SourceProgress], tables: Sequence[str]
) -> Stream[tuple[str, SinkItem]]:
    """Key rows by their table, and copy each progress marker to every table's committer.

    A table that gets no row still records how far the flow has read.
    """
    keyed = op.flat_map_batch("key_by_table", rows, _by_table)
    fanned = op.flat_map("progress_for_every_table", progress, lambda marker: [(table, marker) for table in tables])
    return op.merge("rows_and_progress", keyed, fanned)


def _by_table(rows: list[TableRow]) -> list[tuple[str, SinkItem]]:
    # One item per table per batch: where the table's committer is in another process, one
    # list crosses (one pickle), not every row on its own.
    return [(table, TableRows(table, batch)) for table, batch in grouped(rows, _table_of)]


def _table_of(row: TableRow) -> str:
    return row.table


def _now() -> datetime:
    # Processing time, stored as curated_at only; never used in a decision.
    return datetime.now(UTC)
