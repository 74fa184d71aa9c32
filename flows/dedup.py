"""Dedup as stateful steps: held, order-independent dedup of event ids and edit content; optional
near-duplicates.

State is keyed by a hash bucket, so memory is bounded by the window, and Bytewax snapshots it
for recovery. :func:`held_dedup` (``operators/held_dedup.py``) decides which duplicate wins from
the events alone; it holds events for a short event-time slot, so it also holds the source
progress markers back (the exactly-once sink must not record an offset before its row).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple, TypeGuard

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Stream, operator
from bytewax.operators import StatefulLogic

from flywheel.flows.decisions import Candidate, Decision, Dropped, is_candidate, is_dropped, position_of
from flywheel.flows.gates import split
from flywheel.flows.recall import KeptEvent
from flywheel.operators.config import DedupSettings
from flywheel.operators.dedup import bucket_of, dedup_key
from flywheel.operators.held_dedup import HeldDedup, HeldSnapshot
from flywheel.operators.near_dup import NearDuplicateDetector, near_dup_group
from flywheel.operators.outcome import Drop
from flywheel.operators.winners import WinnerJournal
from flywheel.schemas.records import SourcedEvent, SourceProgress


class Dedup:
    """Dedup steps bound to the dedup settings."""

    def __init__(
        self,
        cfg: DedupSettings,
        recalled: dict[str, list[KeptEvent]] | None = None,
        journal: WinnerJournal | None = None,
    ) -> None:
        self._cfg = cfg
        self.recalled: dict[str, list[KeptEvent]] = recalled if recalled is not None else {}
        # Where sealed winners go (``flows/winner_files.py``); None keeps them in the snapshots.
        self.journal = journal

    def recalling(self, recalled: dict[str, list[KeptEvent]]) -> Dedup:
        """The same dedup, remembering the events the tables already hold (``flows/recall.py``) as winners."""
        return Dedup(self._cfg, recalled, self.journal)

    def journaling(self, journal: WinnerJournal) -> Dedup:
        """The same dedup, sealing its winners into ``journal`` (recovery snapshots stay small)."""
        return Dedup(self._cfg, self.recalled, journal)

    @property
    def settings(self) -> DedupSettings:
        """The dedup settings (the held dedup step is built from them)."""
        return self._cfg

    @property
    def near_duplicates(self) -> bool:
        """Whether the MinHash near-duplicate step runs on edits."""
        return self._cfg.near_duplicate

    def near_bucket(self, candidate: Candidate) -> str:
        """Key an edit by the hash bucket of its prompt group."""
        group = near_dup_group(candidate.sourced.event) or candidate.sourced.event.event_id
        return bucket_of(group, self._cfg.buckets)

    def check_near(
        self, state: NearDuplicateDetector | None, candidate: Candidate
    ) -> tuple[NearDuplicateDetector, Decision]:
        """Drop an edit whose text is a MinHash near-duplicate of a recent edit to the same prompt."""
        cfg = self._cfg
        state = state or NearDuplicateDetector(
            timedelta(seconds=cfg.window_s),
            cfg.near_duplicate_threshold,
            cfg.near_duplicate_num_perm,
            cfg.near_duplicate_shingle_size,
        )
        sourced = candidate.sourced
        group = near_dup_group(sourced.event)
        if group is None:
            return state, candidate
        drop = state.observe(group, candidate.chosen, sourced.event.occurred_at, position_of(sourced))
        return state, candidate if drop is None else Dropped(sourced, drop)


class PartitionClock(msgspec.Struct, frozen=True):
    """A source progress marker stamped with the newest event time its partition delivered before it."""

    topic: str
    partition: int
    offset: int
    event_time: float | None


class BucketMarker(msgspec.Struct, frozen=True):
    """A progress marker a dedup bucket has released: no event of the bucket at or below it is held."""

    topic: str
    partition: int
    offset: int


class KeyedEvent(NamedTuple):
    """An event on its way to its dedup bucket, with the key the bucket was chosen by.

    The content key hashes three normalised texts: worked out once, where the bucket is chosen.
    """

    key: str
    sourced: SourcedEvent


HeldItem = KeyedEvent | PartitionClock
HeldOut = Decision | BucketMarker
# What a bucket's recovery snapshot is: its journalled form, or (state of older releases) the whole dedup.
HeldState = HeldSnapshot[SourcedEvent] | HeldDedup[SourcedEvent]


class EventClock:
    """Stamps progress markers with their partition's newest event time so far.

    It runs in the keying step before the held dedup, on the one ordered stream of a source
    partition's events and markers (a partition is read by one worker), so a marker's time
    covers every event before it. An event's time counts at most ``allowance_s`` past its Kafka
    timestamp. Not recovery state: after a restart a partition is idle until it delivers again.
    """

    def __init__(self, allowance_s: float) -> None:
        self._newest: dict[tuple[str, int], float] = {}
        self._allowance_s = allowance_s

    def stamp(self, item: SourcedEvent | SourceProgress) -> SourcedEvent | PartitionClock:
        """Note an event's time; turn a marker into a :class:`PartitionClock`."""
        if isinstance(item, SourceProgress):
            return PartitionClock(
                item.topic, item.partition, item.offset, self._newest.get((item.topic, item.partition))
            )
        where = (item.coordinates.topic, item.coordinates.partition)
        moment = item.event.occurred_at.timestamp()
        if item.coordinates.timestamp_ms > 0:
            # An event cannot have happened (much) after Kafka received it: a forged future
            # occurred_at must not drag the partition's clock, and with it every decision, ahead.
            moment = min(moment, item.coordinates.timestamp_ms / 1000 + self._allowance_s)
        if moment > self._newest.get(where, -math.inf):
            self._newest[where] = moment
        return item


class _HeldLogic(StatefulLogic[list[HeldItem], HeldOut, HeldState]):
    """One bucket's :class:`HeldDedup` as Bytewax stateful logic: held events, markers, EOF flush.

    Its items are lists: a source batch's events and markers for this bucket, in source order.

    Before its first decision it remembers the bucket's events the tables already hold
    (``flows/recall.py``). Bytewax does not tell the builder its key, so the bucket is found
    from the first event it holds: nothing can be decided before an event is held.
    """

    def __init__(
        self,
        dedup: HeldDedup[SourcedEvent],
        recalled: dict[str, list[KeptEvent]],
        buckets: int,
        journal: WinnerJournal | None,
        seal_at: int,
    ):
        self._dedup = dedup
        self._recalled = recalled
        self._buckets = buckets
        self._journal = journal
        self._seal_at = seal_at
        self._caught_up = not recalled

    def _catch_up(self, key: str | None) -> None:
        if key is None:
            return
        self._caught_up = True
        # Taken, not read: the bucket's logic is built once per run, and the list is freed.
        for kept in self._recalled.pop(bucket_of(key, self._buckets), ()):
            self._dedup.remember(kept.key, kept.occurred_at, kept.position)

    def on_item(self, value: list[HeldItem]) -> tuple[Iterable[HeldOut], bool]:
        decided: list[tuple[SourcedEvent, Drop | None]] = []
        for item in value:
            if not self._caught_up:
                self._catch_up(
                    self._dedup.held_key()
                    if isinstance(item, PartitionClock)
                    else self._dedup.key_of(item.sourced.event, item.key)
                )
            if isinstance(item, PartitionClock):
                decided += self._dedup.mark(item.topic, item.partition, item.offset, item.event_time)
            else:
                sourced = item.sourced
                decided += self._dedup.observe(sourced.event, sourced, position_of(sourced), item.key)
        return self._emit(decided), StatefulLogic.RETAIN

    def on_eof(self) -> tuple[Iterable[HeldOut], bool]:
        if not self._caught_up:
            self._catch_up(self._dedup.held_key())
        return self._emit(self._dedup.release()), StatefulLogic.RETAIN

    def snapshot(self) -> HeldSnapshot[SourcedEvent]:
        # Not a copy of the whole window: its winners are journalled once (``operators/winners.py``).
        return self._dedup.snapshot(self._journal, self._seal_at)

    def _emit(self, decided: list[tuple[SourcedEvent, Drop | None]]) -> list[HeldOut]:
        out: list[HeldOut] = [
            Candidate(sourced, sourced.event.final_user_edit or "") if drop is None else Dropped(sourced, drop)
            for sourced, drop in decided
        ]
        out.extend(BucketMarker(topic, partition, offset) for topic, partition, offset in self._dedup.markers())
        return out


class ProgressBarrier:
    """Per source partition: pass progress on once every dedup bucket has released a marker.

    The progress passed on is the lowest offset over the buckets. Every full round of bucket
    markers is passed on, even at an unchanged offset: a quiet source's heartbeats are what
    lets the sink commit rows buffered just before it went quiet. A rise of the lowest offset
    is passed on at once, round or not: at the end of input a bucket that already released the
    last marker has nothing more to send, so a round would never complete.
    """

    passed: int = -1  # class default: barriers restored from older recovery state lack it

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self.released: dict[str, int] = {}
        self.round: set[str] = set()
        self.passed = -1

    def advance(self, bucket: str, marker: BucketMarker) -> list[SourceProgress]:
        """Record a bucket's marker; a progress marker on a full round or when the lowest offset rises."""
        self.released[bucket] = max(marker.offset, self.released.get(bucket, -1))
        self.round.add(bucket)
        if len(self.released) < self.buckets:
            return []
        lowest = min(self.released.values())
        if len(self.round) < self.buckets and lowest <= self.passed:
            return []
        self.round.clear()
        self.passed = max(self.passed, lowest)
        return [SourceProgress(marker.topic, marker.partition, lowest)]


@dataclass(frozen=True)
class HeldDedupOut:
    """The dedup gate's decisions, and the source progress it lets through (never ahead of a held event)."""

    kept: Stream[Candidate]
    dropped: Stream[Dropped]
    decisions: Stream[Decision]
    released: Stream[SourceProgress]


@operator
def held_dedup(
    step_id: str,
    up: Stream[SourcedEvent | SourceProgress],
    cfg: DedupSettings,
    partitions: Sequence[int] | None = None,
    recalled: dict[str, list[KeptEvent]] | None = None,
    journal: WinnerJournal | None = None,
) -> HeldDedupOut:
    """Order-independent dedup of events held per bucket; progress markers released behind them.

    ``up`` must be the source's own order (events and markers on one path, no merge), so a
    marker reaches each bucket after the partition's events before it. Every marker is copied
    to every bucket; a bucket releases it once no event of its partition at or below the offset
    is held; the barrier passes it on once every bucket has. So the exactly-once sink never
    records an offset whose row is still held here. ``partitions``: the source's partition ids
    (None: the ones markers name); ``recalled``: events the tables hold, by bucket, remembered
    as winners before the first decision (``flows/recall.py``); ``journal``: where each bucket
    seals its winners so that its recovery snapshot does not grow with the window (None: they
    stay in the snapshot).
    """
    clock = EventClock(allowance_s=cfg.hold_s)

    bucket_names = [str(bucket) for bucket in range(cfg.buckets)]

    def to_buckets(items: list[SourcedEvent | SourceProgress]) -> list[tuple[str, list[HeldItem]]]:
        # One item per bucket per source batch, its events and markers in source order: where the
        # bucket lives on another worker, one list crosses (one pickle), not every event on its own.
        # Stamped here, on the source's ordered path, in the same step that keys it.
        by_bucket: dict[str, list[HeldItem]] = {}
        for item in items:
            stamped = clock.stamp(item)
            if isinstance(stamped, PartitionClock):
                for bucket in bucket_names:
                    by_bucket.setdefault(bucket, []).append(stamped)
                continue
            key = dedup_key(stamped.event)
            by_bucket.setdefault(bucket_of(key, cfg.buckets), []).append(KeyedEvent(key, stamped))
        return list(by_bucket.items())

    def build(resume: HeldState | None) -> StatefulLogic[list[HeldItem], HeldOut, HeldState]:
        window, hold = timedelta(seconds=cfg.window_s), timedelta(seconds=cfg.hold_s)
        if isinstance(resume, HeldSnapshot):
            dedup = HeldDedup.restore(resume, journal)
        else:  # nothing to resume, or a whole dedup pickled by an older release
            dedup = resume or HeldDedup(window, hold, content=cfg.content, partitions=partitions)
        return _HeldLogic(dedup, recalled if recalled is not None else {}, cfg.buckets, journal, cfg.seal_at)

    def advance(
        barrier: ProgressBarrier | None, item: tuple[str, BucketMarker]
    ) -> tuple[ProgressBarrier, list[SourceProgress]]:
        barrier = barrier or ProgressBarrier(cfg.buckets)
        return barrier, barrier.advance(*item)

    held = op.stateful("hold", op.flat_map_batch("to_buckets", up, to_buckets), build)
    # One branch, not a filter per side: every decision crosses one step here, not three.
    outs = op.branch("markers", held, _is_bucket_marker)
    by_partition = op.key_on("key_by_partition", outs.trues, lambda item: f"{item[1].topic}:{item[1].partition}")
    barrier = op.key_rm("unkey_partition", op.stateful_map("barrier", by_partition, advance))
    released = op.flat_map("released", barrier, _identity)
    decisions: Stream[Decision] = op.map("unkey", outs.falses, _decision)
    sides = split("split", decisions, is_candidate, is_dropped)
    return HeldDedupOut(sides.trues, sides.falses, decisions, released)


def _is_bucket_marker(item: tuple[str, HeldOut]) -> TypeGuard[tuple[str, BucketMarker]]:
    return isinstance(item[1], BucketMarker)


def _decision(item: tuple[str, HeldOut]) -> Decision:
    out = item[1]
    if isinstance(out, BucketMarker):  # the branch before sent every marker the other way
        raise TypeError("dedup: a bucket marker on the decisions side")
    return out


def _identity(items: list[SourceProgress]) -> list[SourceProgress]:
    return items
