"""Windowed deduplication on event time, one instance per hash bucket.

The flow keys the stateful step by :func:`bucket_of` (a stable hash of the dedup key into
``buckets`` values), so the number of state objects is fixed and each one's memory is
bounded by the keys seen within the window, not by history.

Semantics of :meth:`WindowedDedup.observe`, for one bucket:

* watermark = (max event time seen) - window; keys whose first event time is older than
  the watermark are forgotten (evicted) — event time only, never the wall clock;
* a key already remembered, with an event time within ``window`` of the remembered one, is
  a duplicate: dropped with the instance's reason; the first occurrence is the one kept;
* an event older than the watermark that is not remembered is kept but not remembered
  (it cannot be told apart from a key already evicted; remembering it would let state grow
  with late data).

Given the same events in the same order, decisions are identical (replay-safe). For Bytewax
recovery, :meth:`WindowedDedup.snapshot` records each remembered key once (``operators/winners.py``),
so a snapshot's cost does not grow with the window; :meth:`WindowedDedup.restore` rebuilds it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from datetime import UTC, datetime, timedelta

from flywheel.operators.normalize import content_key
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.winners import (
    Block,
    SegmentRef,
    WindowSnapshot,
    Winner,
    WinnerJournal,
    decode_block,
    encode_block,
)
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.records import Position

DUPLICATE_EVENT_ID = "duplicate_event_id"
DUPLICATE_CONTENT = "duplicate_content"
# Winners a bucket's snapshot carries before they are sealed into its journal: bounds what every
# epoch pickles (64 buckets x ~60 bytes x at most this many) and the number of segment files.
SEAL_AT = 1024


def bucket_of(key: str, buckets: int) -> str:
    """Stable bucket (``"0"`` .. ``str(buckets - 1)``) of a key: blake2b, not Python's ``hash()``."""
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}")
    value = int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
    return str(value % buckets)


def content_key_of(event: InteractionEvent) -> str | None:
    """The content dedup key of an edit (prompt, chosen=y_user, rejected=y_model); None otherwise."""
    if event.signal is not Signal.EDIT or event.final_user_edit is None:
        return None
    return content_key(event.prompt, event.final_user_edit, event.response)


class WindowedDedup:
    """First-occurrence-wins dedup of string keys within an event-time window (one bucket)."""

    def __init__(self, window: timedelta, reason: str = DUPLICATE_EVENT_ID) -> None:
        if window <= timedelta(0):
            raise ValueError(f"dedup window must be positive, got {window}")
        self.window_s = window.total_seconds()
        self.reason = reason
        self._first_seen: dict[str, float] = {}
        # Source position of each key's first occurrence: seeing it again from the same
        # position is an at-least-once replay of that message, not a duplicate.
        self._first_position: dict[str, Position] = {}
        self._expiry: list[tuple[float, str]] = []  # min-heap of (event time, key)
        self._max_seen: float | None = None
        # The recovery journal: remembered since the last snapshot, encoded, sealed.
        self._fresh: list[Winner] = []
        self._blocks: list[Block] = []
        self._sealed: list[SegmentRef] = []

    def __deepcopy__(self, memo: dict[int, object]) -> WindowedDedup:
        """Bytewax deep-copies state at every snapshot; everything inside is immutable, so
        copying the containers is a full copy at a fraction of ``copy.deepcopy``'s cost."""
        clone = WindowedDedup.__new__(WindowedDedup)
        clone.window_s = self.window_s
        clone.reason = self.reason
        clone._first_seen = dict(self._first_seen)
        clone._first_position = dict(self._first_position)
        clone._expiry = list(self._expiry)
        clone._max_seen = self._max_seen
        clone._fresh = list(self._fresh)
        clone._blocks = list(self._blocks)
        clone._sealed = list(self._sealed)
        return clone

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickle; a window pickled whole by an older release journals everything it remembers."""
        self.__dict__.update(state)
        if "_fresh" not in state:
            self._fresh = [(key, ts, self._first_position.get(key)) for key, ts in self._first_seen.items()]
            self._blocks, self._sealed = [], []

    def snapshot(self, journal: WinnerJournal | None, seal_at: int = SEAL_AT) -> WindowSnapshot:
        """The window's recovery state; what it remembered since the last snapshot is encoded once.

        Blocks and segments whose newest key is below the watermark are dropped (retired from
        ``journal``); once the unsealed blocks hold ``seal_at`` keys, ``journal`` seals them.
        Without a journal every block stays in the snapshot (tests, runs without recovery).
        """
        if self._fresh:
            self._blocks.append(encode_block(self._fresh))
            self._fresh = []
        floor = self._floor()
        self._blocks = [block for block in self._blocks if block.newest >= floor]
        dead = [segment for segment in self._sealed if segment.newest < floor]
        if dead and journal is not None:
            self._sealed = [segment for segment in self._sealed if segment.newest >= floor]
            journal.retire(dead)
        if journal is not None and sum(block.count for block in self._blocks) >= seal_at:
            self._sealed.append(journal.seal(self._blocks))
            self._blocks = []
        return WindowSnapshot(self.window_s, self.reason, self._max_seen, tuple(self._sealed), tuple(self._blocks))

    @classmethod
    def restore(cls, snapshot: WindowSnapshot, journal: WinnerJournal | None) -> WindowedDedup:
        """The window a snapshot recorded: every journalled key at or above its watermark."""
        window = cls(timedelta(seconds=snapshot.window_s), snapshot.reason)
        window._max_seen = snapshot.max_seen
        floor = window._floor()
        if snapshot.sealed and journal is None:
            raise ValueError("dedup window: the snapshot references sealed segments but no journal was given")
        blocks = [block for segment in snapshot.sealed for block in journal.read(segment)] if journal else []
        for block in [*blocks, *snapshot.blocks]:
            if block.newest < floor:
                continue
            for key, moment, position in decode_block(block):
                if moment >= floor:
                    window._first_seen[key] = moment
                    window._expiry.append((moment, key))
                    if position is not None:
                        window._first_position[key] = position
        heapq.heapify(window._expiry)
        window._sealed = list(snapshot.sealed)
        window._blocks = list(snapshot.blocks)
        return window

    def _floor(self) -> float:
        """The watermark in seconds: keys below it are forgotten (-inf before the first event)."""
        return -math.inf if self._max_seen is None else self._max_seen - self.window_s

    def __len__(self) -> int:
        """Number of keys currently remembered."""
        return len(self._first_seen)

    @property
    def watermark(self) -> datetime | None:
        """Max event time seen minus the window (None before the first event)."""
        if self._max_seen is None:
            return None
        return datetime.fromtimestamp(self._max_seen - self.window_s, tz=UTC)

    def observe(self, key: str, occurred_at: datetime, position: Position | None = None) -> Drop | None:
        """Record ``key`` at event time ``occurred_at``; return a Drop when it is a duplicate.

        ``position`` (source topic, partition, offset) makes the call idempotent: the same
        message observed twice, as after a crash and replay, keeps its first decision.
        """
        if occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        ts = occurred_at.timestamp()
        if self._max_seen is None or ts > self._max_seen:
            self._max_seen = ts
            self._evict(self._max_seen - self.window_s)
        first = self._first_seen.get(key)
        if first is not None and position is not None and self._first_position.get(key) == position:
            return None
        if first is not None and abs(ts - first) <= self.window_s:
            return Drop(
                Stage.DEDUP,
                self.reason,
                f"key {key} first seen {abs(ts - first):.0f}s apart, within the {self.window_s:.0f}s window",
            )
        if first is None and ts >= self._max_seen - self.window_s:
            self._first_seen[key] = ts
            if position is not None:
                self._first_position[key] = position
            heapq.heappush(self._expiry, (ts, key))
            self._fresh.append((key, ts, position))
        return None

    def _evict(self, watermark: float) -> None:
        while self._expiry and self._expiry[0][0] < watermark:
            ts, key = heapq.heappop(self._expiry)
            if self._first_seen.get(key) == ts:
                del self._first_seen[key]
                self._first_position.pop(key, None)


def dedup_key(event: InteractionEvent) -> str:
    """What the dedup step is keyed by: the content key for edits, the event id otherwise.

    One step, one key: a keyed step reorders items of different keys, so running the id and
    content checks as two differently keyed steps would make "first occurrence" depend on
    batch timing. A client retry resends the same payload, so it lands on the same key.
    """
    return content_key_of(event) or event.event_id


class InteractionDedup:
    """Both dedup checks for one bucket, first occurrence wins (arrival order).

    The flow uses :class:`flywheel.operators.held_dedup.HeldDedup`, whose decisions do not
    depend on arrival order; this remains for callers that see one ordered stream.
    """

    def __init__(self, window: timedelta, content: bool = True) -> None:
        self.event_ids = WindowedDedup(window, DUPLICATE_EVENT_ID)
        self.contents = WindowedDedup(window, DUPLICATE_CONTENT)
        self.content = content

    def observe(self, event: InteractionEvent, position: Position | None = None) -> Drop | None:
        """A Drop for a repeated event id or (edits) repeated normalised content, else None."""
        drop = self.event_ids.observe(event.event_id, event.occurred_at, position)
        if drop is None and self.content:
            key = content_key_of(event)
            if key is not None:
                drop = self.contents.observe(key, event.occurred_at, position)
        return drop
