"""Per-user and per-segment caps on accepted pairs per event-time day (UTC).

State for one key of the stateful step. Key the step by :func:`quota_key` (the segment):
segments are a small, bounded set of cohorts, so each ledger sees every event of its
segment and enforces both caps exactly (the per-user cap counts a user's pairs within that
segment). Memory is bounded by the users active in the retained days.

Days are event-time days. The newest day seen minus ``allowed_lateness_days`` is the
oldest day still counted; counts for older days are evicted and events of those days are
rejected (reason ``late``) so that backdating cannot bypass a cap. Deterministic for a
given input order, no wall clock; picklable for recovery snapshots.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime

from flywheel.operators.config import QuotaSettings
from flywheel.operators.outcome import Drop, Stage
from flywheel.schemas.events import InteractionEvent
from flywheel.schemas.records import Position

QUOTA = "quota"
LATE = "late"


def quota_key(event: InteractionEvent) -> str:
    """The key the quota step is keyed by: the event's segment."""
    return event.segment


class QuotaLedger:
    """Counts admitted pairs per (day, user) and per (day, segment); rejects the excess."""

    def __init__(self, cfg: QuotaSettings) -> None:
        self.cfg = cfg
        self._users: dict[date, dict[str, int]] = defaultdict(dict)
        self._segments: dict[date, dict[str, int]] = defaultdict(dict)
        # Source positions admitted per day: a replayed message is not counted twice.
        self._admitted: dict[date, set[Position]] = defaultdict(set)
        self._newest: date | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> QuotaLedger:
        """Bytewax deep-copies state at every snapshot; counts are immutable ints, so copying
        the containers is a full copy (the config is shared, it never changes)."""
        clone = QuotaLedger(self.cfg)
        clone._users.update({day: dict(counts) for day, counts in self._users.items()})
        clone._segments.update({day: dict(counts) for day, counts in self._segments.items()})
        clone._admitted.update({day: set(positions) for day, positions in self._admitted.items()})
        clone._newest = self._newest
        return clone

    @property
    def days_retained(self) -> list[date]:
        """Days with counts currently held (for tests and introspection)."""
        return sorted(set(self._users) | set(self._segments))

    def admit(self, user_id: str, segment: str, occurred_at: datetime, position: Position | None = None) -> Drop | None:
        """Count one accepted pair, or return a Drop (stage ``quota``) when a cap is reached.

        ``position`` (source topic, partition, offset) makes the call idempotent: a message
        admitted before and replayed after a crash is admitted again without a second count.
        """
        if occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        day = occurred_at.astimezone(UTC).date()
        if self._newest is None or day > self._newest:
            self._newest = day
            self._evict()
        oldest = self._oldest_day()
        if day < oldest:
            return Drop(Stage.QUOTA, LATE, f"event day {day} is before the oldest counted day {oldest}")
        if position is not None and position in self._admitted.get(day, ()):
            return None
        users = self._users[day]
        segments = self._segments[day]
        user_count = users.get(user_id, 0)
        segment_count = segments.get(segment, 0)
        cap = self.cfg.per_user_per_day
        if cap is not None and user_count >= cap:
            return Drop(
                Stage.QUOTA,
                QUOTA,
                f"user reached {cap} accepted pairs on {day}",
                {"user_count": float(user_count), "user_cap": float(cap)},
            )
        cap = self.cfg.per_segment_per_day
        if cap is not None and segment_count >= cap:
            return Drop(
                Stage.QUOTA,
                QUOTA,
                f"segment {segment!r} reached {cap} accepted pairs on {day}",
                {"segment_count": float(segment_count), "segment_cap": float(cap)},
            )
        users[user_id] = user_count + 1
        segments[segment] = segment_count + 1
        if position is not None:
            self._admitted[day].add(position)
        return None

    def recall(self, user_id: str, segment: str, occurred_at: datetime, position: Position) -> None:
        """Count a pair already stored (read back from the table at start), whatever the caps say.

        After a restart without recovery state (or with state older than the table) the stored
        pairs are what the caps have promised; a position counted already is not counted again.
        """
        day = occurred_at.astimezone(UTC).date()
        if self._newest is None or day > self._newest:
            self._newest = day
            self._evict()
        if day < self._oldest_day() or position in self._admitted.get(day, ()):
            return
        users, segments = self._users[day], self._segments[day]
        users[user_id] = users.get(user_id, 0) + 1
        segments[segment] = segments.get(segment, 0) + 1
        self._admitted[day].add(position)

    def user_counts_on(self, occurred_at: datetime) -> dict[str, int]:
        """Accepted pairs per user on the event-time day of ``occurred_at`` (for the share gauge)."""
        return dict(self._users.get(occurred_at.astimezone(UTC).date(), {}))

    def _oldest_day(self) -> date:
        assert self._newest is not None
        return date.fromordinal(self._newest.toordinal() - self.cfg.allowed_lateness_days)

    def _evict(self) -> None:
        oldest = self._oldest_day()
        for table in (self._users, self._segments, self._admitted):
            for day in [d for d in table if d < oldest]:
                del table[day]
