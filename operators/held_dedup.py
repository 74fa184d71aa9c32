"""Order-independent deduplication: duplicates wait a short event-time hold, then the best wins.

Which duplicate wins depends only on the events, never on how partitions interleave, batch
sizes, worker counts or restarts. For one hash bucket (the flow keys the step by
:func:`flywheel.operators.dedup.bucket_of`):

* every event waits in a group: its dedup key (content key of an edit, else the event id) and
  its event-time slot ``floor(occurred_at / hold)``, so which events share a group is fixed
  by the events alone;
* the bucket knows how far each source partition has got in event time: every progress
  marker of a partition reaches every bucket after the partition's earlier events (one
  ordered path) and carries the newest event time the partition delivered (:meth:`mark`).
  The watermark is the minimum over partitions; a partition with nothing new (a heartbeat)
  is idle and holds nothing back until it delivers again (when every partition is idle the
  source has caught up, and everything held is decided). A slot is decided once the
  watermark is ``hold`` past the slot's end (the lateness allowed within one partition), or
  at the end of the stream;
* the winner of a group is its best event by :func:`rank`: the tidiest text first (an edit not
  shouted, not padded around, fewest doubled spaces inside lines; indentation does not count),
  then the earliest ``occurred_at``, then the
  smallest ``event_id``; the others are duplicates (``duplicate_event_id`` when they share the
  winner's event id, else ``duplicate_content``);
* a winner is remembered for ``window`` of event time (:class:`WindowedDedup`): a group of a
  later slot of the same key loses to it (slots are decided in event-time order). Canonical
  text is preferred within a slot; across slots the earlier slot wins.

The guarantee: when no event is more than ``hold`` behind the events before it in its own
partition, decisions are the same in any interleaving of partitions, any batch size and any
worker count. A later event joins a group already decided and is a duplicate if its key was
kept (never a second copy). One window is left to arrival order: after the source has caught
up (all partitions idle) duplicates that arrive at the same moment on different partitions
are decided as they come. Progress markers wait too (:meth:`markers`): a marker for offset X
of a partition is released only when no event at or below X of that partition is held here,
so the exactly-once sink never records an offset whose row has not reached it yet.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from flywheel.operators.dedup import (
    DUPLICATE_CONTENT,
    DUPLICATE_EVENT_ID,
    SEAL_AT,
    Position,
    WindowedDedup,
    dedup_key,
)
from flywheel.operators.outcome import Drop, Stage
from flywheel.operators.winners import WindowSnapshot, WinnerJournal
from flywheel.schemas.events import InteractionEvent, Signal

T = TypeVar("T")
Partition = tuple[str, int]  # topic, partition
Rank = tuple[int, float, str, Position]


# Spaces or tabs doubled between two characters of a line, or left at a line's end. A line's
# indentation is not padding: code keeps its structure in it (``    data = json.load(f)``).
_INNER_PADDING = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)|(?<=\S)[ \t]+(?=\r?\n)")
_SHOUTED = 1 << 32
_OUTER_PADDING = 1 << 31


_ASCII_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LETTERS = _ASCII_UPPER + _ASCII_UPPER.lower()


def untidiness(text: str) -> int:
    """0 for canonical text; more the more it is shouted or padded.

    Shouting (mostly capitals) outweighs padding around the text, which outweighs spaces doubled
    inside lines (counted, so among copies that all align code comments the least spaced wins).
    """
    if text.isascii():
        # Counted in C: the characters a delete-translate removes (the general path below walks
        # the text in Python, a dozen times slower on a 1 KB edit).
        encoded = text.encode("ascii")
        letters = len(encoded) - len(encoded.translate(None, _ASCII_LETTERS))
        upper = len(encoded) - len(encoded.translate(None, _ASCII_UPPER))
    else:
        cased = [c for c in text if c.isalpha() and (c.isupper() or c.islower())]
        letters, upper = len(cased), sum(1 for c in cased if c.isupper())
    shouted = letters >= 8 and upper > 0.6 * letters
    # Inner padding needs a doubled space or tab, a tab, or a space before a line break.
    padded = "  " in text or "\t" in text or " \n" in text or " \r" in text
    inner = min(len(_INNER_PADDING.findall(text)), _OUTER_PADDING - 1) if padded else 0
    return (_SHOUTED if shouted else 0) + (_OUTER_PADDING if text != text.strip() else 0) + inner


def is_canonical(text: str) -> bool:
    """True when the text is neither padded (outer or doubled spaces in a line) nor shouted (mostly capitals)."""
    return untidiness(text) == 0


def rank(event: InteractionEvent, position: Position, timestamp: float | None = None) -> Rank:
    """Sort key of duplicates: the tidiest text, then earliest event time, smallest id, position.

    ``timestamp``: ``event.occurred_at.timestamp()``, when the caller has it.
    """
    text = event.final_user_edit if event.signal is Signal.EDIT and event.final_user_edit is not None else ""
    ts = event.occurred_at.timestamp() if timestamp is None else timestamp
    # Nine events in ten carry no edit: the empty text is canonical (0) without the checks.
    return (untidiness(text) if text else 0, ts, event.event_id, position)


@dataclass(frozen=True)
class HeldSnapshot(Generic[T]):
    """A bucket's recovery state: the held events (a copy, winners left out) and the winners' journal."""

    held: HeldDedup[T]
    winners: WindowSnapshot


@dataclass
class _Group(Generic[T]):
    start: float  # the slot's start, event time
    members: list[tuple[Rank, InteractionEvent, T]] = field(default_factory=list)

    def __getstate__(self) -> dict[str, Any]:
        # A member's event is pickled once: left out where the payload carries it (a SourcedEvent,
        # which pickles as its message bytes), so a snapshot does not encode it a second time.
        members = [
            (rank, None if getattr(payload, "event", None) is event else event, payload)
            for rank, event, payload in self.members
        ]
        return {"start": self.start, "members": members}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.start = state["start"]
        self.members = [
            (rank, payload.event if event is None else event, payload) for rank, event, payload in state["members"]
        ]


class HeldDedup(Generic[T]):
    """One bucket's held, order-independent dedup; ``T`` is whatever the caller carries along."""

    # Shortcuts, not decisions (class defaults: state restored from older snapshots lacks them).
    # The earliest start of a held group, or lower: ``release`` has nothing to do below it.
    _earliest: float = -math.inf
    # Whether a marker arrived or a held event left since ``markers`` last looked: only then can a
    # waiting marker have become safe (an event held later sits above the markers before it).
    _markers_changed: bool = True
    # The watermark as last worked out; it changes only when a marker arrives or an idle partition
    # delivers, and every event and marker asks for it (stale: work it out again).
    _watermark_stale: bool = True
    _watermark_value: float | None = None

    def __init__(
        self, window: timedelta, hold: timedelta, content: bool = True, partitions: Iterable[int] | None = None
    ) -> None:
        if hold <= timedelta(0):
            raise ValueError(f"dedup hold must be positive, got {hold}")
        self.hold_s = hold.total_seconds()
        self.content = content
        self.winners = WindowedDedup(window, DUPLICATE_CONTENT)
        # None: the partitions are those markers have named (a source that cannot list them).
        self.partitions = frozenset(partitions) if partitions is not None else None
        self._groups: dict[tuple[str, int], _Group[T]] = {}  # (key, slot) -> group
        self._held: dict[Position, str] = {}  # position -> key of every held event
        self._markers: dict[Partition, int] = {}  # highest marker offset waiting per partition
        self._released: dict[Partition, int] = {}  # highest progress released per partition
        self._clocks: dict[int, float | None] = {}  # partition -> newest event time (None: idle)
        self._last: dict[int, int] = {}  # partition -> highest offset a marker named
        self._awaiting: set[int] = set()  # idle partitions that delivered an event since their marker
        self._earliest = math.inf
        self._markers_changed = False

    def __len__(self) -> int:
        """Number of events held."""
        return len(self._held)

    def __deepcopy__(self, memo: dict[int, object]) -> HeldDedup[T]:
        """Copy the containers; events and items inside are immutable (snapshots copy often)."""
        return self._copy(copy.deepcopy(self.winners, memo))

    def snapshot(self, journal: WinnerJournal | None, seal_at: int = SEAL_AT) -> HeldSnapshot[T]:
        """Recovery state: the held events as a copy, the winners as their journal (``operators/winners.py``).

        Its size is bounded by what is held and by the winners not sealed yet, not by the window.
        """
        winners = self.winners.snapshot(journal, seal_at)
        return HeldSnapshot(self._copy(WindowedDedup(timedelta(seconds=winners.window_s), winners.reason)), winners)

    @classmethod
    def restore(cls, snapshot: HeldSnapshot[T], journal: WinnerJournal | None) -> HeldDedup[T]:
        """The dedup a :meth:`snapshot` recorded (``journal``: where its sealed winners are)."""
        return snapshot.held._copy(WindowedDedup.restore(snapshot.winners, journal))

    def _copy(self, winners: WindowedDedup) -> HeldDedup[T]:
        clone: HeldDedup[T] = HeldDedup.__new__(HeldDedup)
        clone.hold_s = self.hold_s
        clone.content = self.content
        clone.winners = winners
        clone.partitions = self.partitions
        clone._groups = {key: _Group(group.start, list(group.members)) for key, group in self._groups.items()}
        clone._held = dict(self._held)
        clone._markers = dict(self._markers)
        clone._released = dict(self._released)
        clone._clocks = dict(self._clocks)
        clone._last = dict(self._last)
        clone._awaiting = set(self._awaiting)
        clone._earliest = self._earliest
        clone._markers_changed = self._markers_changed
        return clone

    def __setstate__(self, state: dict[str, object]) -> None:
        """Unpickle; state of an older release lacks the progress it released (none: start over)."""
        self.__dict__.update(state)
        self.__dict__.setdefault("_released", {})

    def key_of(self, event: InteractionEvent, known: str | None = None) -> str:
        """The dedup key: the edit's content key when content dedup is on, else the event id.

        ``known``: the event's :func:`dedup_key` when the caller has worked it out already.
        """
        if not self.content:
            return event.event_id
        return known if known is not None else dedup_key(event)

    def observe(
        self, event: InteractionEvent, item: T, position: Position, known_key: str | None = None
    ) -> list[tuple[T, Drop | None]]:
        """Hold an event; return what is already due (only ever a late event's own group).

        ``known_key``: the event's :func:`dedup_key`, when the caller has it (saves hashing the texts twice).
        """
        if position in self._held:
            return []  # the same message again (at-least-once replay): decided once, on release
        ts = event.occurred_at.timestamp()
        key = self.key_of(event, known_key)
        slot = int(ts // self.hold_s)
        group = self._groups.get((key, slot))
        if group is None:  # not setdefault: that would build a group for every event
            group = self._groups[(key, slot)] = _Group(slot * self.hold_s)
            self._earliest = min(self._earliest, group.start)
        group.members.append((rank(event, position, ts), event, item))
        self._held[position] = key
        if self._clocks.get(position[1], 0.0) is None:
            # An idle partition delivers again: nothing is due until its marker says how far it got.
            self._awaiting.add(position[1])
            self._watermark_stale = True
        return self._release_due()

    def held_key(self) -> str | None:
        """The dedup key of some held event (None when nothing is held)."""
        return next(iter(self._held.values()), None)

    def remember(self, key: str, occurred_at: datetime, position: Position) -> None:
        """Remember an event kept before (read back from the tables at start) as its key's winner.

        A later duplicate within the window then loses to it, as it would have had the state
        survived; the same message replayed (same position) is still kept, as its first decision.
        """
        self.winners.observe(key, occurred_at, position)

    def mark(self, topic: str, partition: int, offset: int, event_time: float | None) -> list[tuple[T, Drop | None]]:
        """Record a partition's progress marker and event time; return the decisions it made due.

        ``event_time`` is the newest event time of everything the partition delivered before
        the marker (None if nothing since the start). A marker that does not advance the offset
        (a heartbeat: the partition has nothing new) or carries no event time makes the
        partition idle: it holds nothing back until it delivers again. The marker comes back
        from :meth:`markers` once no held event holds it back.
        """
        key = (topic, partition)
        advanced = offset > self._last.get(partition, -1)
        self._last[partition] = max(offset, self._last.get(partition, -1))
        self._markers[key] = max(offset, self._markers.get(key, -1))
        self._clocks[partition] = event_time if advanced else None
        self._awaiting.discard(partition)
        self._watermark_stale = True
        self._markers_changed = True
        return self._release_due()

    def watermark(self) -> float | None:
        """Event time every partition has reached (min over active ones); None while one is unheard."""
        if not self._watermark_stale:
            return self._watermark_value
        self._watermark_value = self._compute_watermark()
        self._watermark_stale = False
        return self._watermark_value

    def _compute_watermark(self) -> float | None:
        names = self.partitions if self.partitions is not None else frozenset(self._clocks)
        if not names or self._awaiting or any(name not in self._clocks for name in names):
            return None
        active = [clock for name in names if (clock := self._clocks[name]) is not None]
        return min(active) if active else math.inf

    def _release_due(self) -> list[tuple[T, Drop | None]]:
        mark = self.watermark()
        # A slot [start, start + hold) is complete once every partition is ``hold`` past its end.
        return [] if mark is None else self.release(mark - 2 * self.hold_s)

    def markers(self) -> list[Position]:
        """Progress no held event holds back, per partition with a marker waiting.

        The waiting marker's own offset once no event of the partition at or below it is held;
        before that, the offset just below the partition's lowest held event, when that has risen:
        the marker says everything up to its offset was delivered, and nothing below the lowest
        held event is held any more, so all of it is decided. Without this, a busy partition (whose
        newest events are always held for a slot) would hold its progress, and with it every row
        of the sink, back until the source went quiet.
        """
        if not self._markers or not self._markers_changed:
            return []
        self._markers_changed = False
        lowest: dict[Partition, int] = {}
        for topic, partition, offset in self._held:
            lowest[(topic, partition)] = min(offset, lowest.get((topic, partition), offset))
        safe: list[Position] = []
        for (topic, partition), offset in sorted(self._markers.items()):
            held = lowest.get((topic, partition))
            if held is None or held > offset:
                safe.append(Position(topic, partition, offset))
                del self._markers[(topic, partition)]
                self._released[(topic, partition)] = offset
            elif held - 1 > self._released.get((topic, partition), -1):
                safe.append(Position(topic, partition, held - 1))
                self._released[(topic, partition)] = held - 1
        return safe

    def release(self, up_to: float | None = None) -> list[tuple[T, Drop | None]]:
        """Decide every group that started at or before ``up_to`` (all groups when None)."""
        if up_to is not None and up_to < self._earliest:
            return []  # no held group started that early (the common case: one look, not a scan)
        # Slot order first: a later slot of a key must meet the earlier slot's remembered winner.
        due = sorted(
            (slot, key) for (key, slot), group in self._groups.items() if up_to is None or group.start <= up_to
        )
        decided: list[tuple[T, Drop | None]] = []
        for slot, key in due:
            decided.extend(self._decide(key, self._groups.pop((key, slot))))
        self._earliest = min((group.start for group in self._groups.values()), default=math.inf)
        return decided

    def _decide(self, key: str, group: _Group[T]) -> list[tuple[T, Drop | None]]:
        # Most groups hold one event (no duplicate): nothing to sort.
        members = group.members if len(group.members) == 1 else sorted(group.members, key=_rank_of)
        best_rank, best, best_item = members[0]
        position = best_rank[3]
        earlier = self.winners.observe(key, best.occurred_at, position)
        if earlier is not None and key == best.event_id:  # an id key: a retry of an event kept before
            earlier = Drop(Stage.DEDUP, DUPLICATE_EVENT_ID, earlier.detail)
        out: list[tuple[T, Drop | None]] = [(best_item, earlier)]
        for _, event, item in members[1:]:
            reason = DUPLICATE_EVENT_ID if event.event_id == best.event_id else DUPLICATE_CONTENT
            detail = f"duplicate of event {best.event_id} (canonical text, then earliest occurred_at, smallest id)"
            out.append((item, Drop(Stage.DEDUP, reason, detail)))
        for member_rank, _, _ in members:
            self._held.pop(member_rank[3], None)
        self._markers_changed = True
        return out


def _rank_of(member: tuple[Rank, InteractionEvent, object]) -> Rank:
    return member[0]
