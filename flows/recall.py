"""Rebuild the promises of the quota and the dedup window from what the tables already hold.

Bytewax recovery state keeps the quota ledgers and the dedup windows across a restart, but
only from its first snapshot on, and only while the recovery directory lives. The tables are
committed when an epoch closes, before Bytewax writes that epoch's snapshot, so a SIGKILL in
between (at the very first epoch, say) leaves committed rows and no state: the source resumes
after the tables' offsets with empty quota and dedup state, and a capped user could get a
second full quota, a retried event a second row. Lost or reset recovery state does the same.

So at every start the flow reads back, for the event-time days the quota still counts and the
dedup window still remembers:

* every user pair in ``dpo_pairs`` (user, segment, day, source position): the quota step counts
  them before it decides anything (``QuotaLedger.recall``);
* every row that won dedup (every row but the dedup step's own duplicate rejections), by its
  ``dedup_key`` column: the dedup step remembers them as winners (``HeldDedup.remember``).

Both are idempotent per source position, so recalled rows that recovery state already counts
are not counted twice. Rows written before the ``dedup_key`` column existed fall back to the
event id (an edit's content repeat is then not recognised across the restart).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyiceberg.expressions import AlwaysTrue
from pyiceberg.table import Table

from flywheel.infra.catalog import branch_head, occurred_since, read_rows
from flywheel.operators.config import CurationSettings
from flywheel.operators.dedup import DUPLICATE_CONTENT, DUPLICATE_EVENT_ID, bucket_of
from flywheel.operators.outcome import Stage
from flywheel.schemas.records import Position
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS

log = logging.getLogger(__name__)

_LINEAGE = ("source_topic", "source_partition", "source_offset", "occurred_at")
_DEDUP_DROPS = frozenset({DUPLICATE_EVENT_ID, DUPLICATE_CONTENT})


@dataclass(frozen=True)
class StoredPair:
    """A user pair the quota has already admitted."""

    user_id: str
    segment: str
    occurred_at: datetime
    position: Position


@dataclass(frozen=True)
class KeptEvent:
    """An event the dedup step kept: the winner of its dedup key."""

    key: str
    occurred_at: datetime
    position: Position


@dataclass(frozen=True)
class Recalled:
    """Stored pairs by quota segment and kept events by dedup bucket, each in event-time order."""

    # Mutable on purpose: each step takes (pops) its key's list once it has counted it, so the
    # process does not keep a second copy of the dedup window for as long as it runs.
    pairs: dict[str, list[StoredPair]] = field(default_factory=dict)
    kept: dict[str, list[KeptEvent]] = field(default_factory=dict)


def recall(
    tables: Mapping[str, Table],
    branch: str,
    curation: CurationSettings,
    before: Mapping[tuple[str, int], int] | None = None,
) -> Recalled:
    """Read back what the quota and dedup steps must remember from the tables' ``branch`` heads.

    ``before``: only rows from below these source positions (a replay from mid-stream remembers what
    main decided before its start, as main's flow did when it reached it); the window is then
    counted back from the newest of those rows, which takes reading them all.
    """
    started = time.perf_counter()
    if before is None:
        newest = _newest_day(tables.values(), branch)
        candidates: dict[str, list[dict[str, Any]]] | None = None
    else:
        candidates = {name: _below(_rows(table, branch, None, name), before) for name, table in tables.items()}
        days = [row["occurred_at"].date() for rows in candidates.values() for row in rows]
        newest = max(days) if days else None
    if newest is None:
        return Recalled()
    lateness = timedelta(days=curation.quota.allowed_lateness_days)
    # Dedup remembers ``window`` before the newest event time (on the newest day or earlier);
    # the quota counts ``allowed_lateness_days`` before the newest day. The ledgers evict the rest.
    since = datetime.combine(newest, datetime.min.time(), UTC) - max(
        timedelta(seconds=curation.dedup.window_s), lateness
    )
    pairs: dict[str, list[StoredPair]] = {}
    kept: dict[str, list[KeptEvent]] = {}
    for name, table in tables.items():
        rows = _rows(table, branch, since, name) if candidates is None else candidates[name]
        for row in rows:
            if candidates is not None and _aware(row["occurred_at"]) < since:
                continue
            position = Position(row["source_topic"], row["source_partition"], row["source_offset"])
            if name == DPO_PAIRS and row.get("source") != "reviewer":
                pair = StoredPair(row["user_id"], row["segment"], row["occurred_at"], position)
                pairs.setdefault(pair.segment, []).append(pair)
            if name == REJECTIONS and row["stage"] == Stage.DEDUP and row["reason"] in _DEDUP_DROPS:
                continue  # a duplicate: its key's winner is stored elsewhere
            key = row.get("dedup_key") if curation.dedup.content else None
            event = KeptEvent(key or row["event_id"], row["occurred_at"], position)
            kept.setdefault(bucket_of(event.key, curation.dedup.buckets), []).append(event)
    for stored in pairs.values():
        stored.sort(key=lambda pair: (pair.occurred_at, pair.position))
    for winners in kept.values():
        winners.sort(key=lambda event: (event.occurred_at, event.position))
    log.info(
        "recalled quota and dedup state from the tables",
        extra={
            "since": since.isoformat(),
            "pairs": sum(map(len, pairs.values())),
            "kept": sum(map(len, kept.values())),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return Recalled(pairs, kept)


def _below(rows: list[dict[str, Any]], before: Mapping[tuple[str, int], int]) -> list[dict[str, Any]]:
    """The rows from source positions below ``before`` (a partition it does not name: none)."""
    return [
        row for row in rows if row["source_offset"] < before.get((row["source_topic"], row["source_partition"]), -1)
    ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rows(table: Table, branch: str, since: datetime | None, name: str) -> list[dict[str, Any]]:
    head = branch_head(table, branch)
    if head is None:
        return []
    columns = {field.name for field in table.schema().fields}
    wanted = ["event_id", *_LINEAGE, "dedup_key"]
    if name == DPO_PAIRS:
        wanted += ["user_id", "segment", "source"]
    if name == REJECTIONS:
        wanted += ["stage", "reason"]
    columns_read = tuple(column for column in wanted if column in columns)
    return read_rows(table, head, AlwaysTrue() if since is None else occurred_since(since), columns_read)


def _newest_day(tables: Iterable[Table], branch: str) -> date | None:
    """The newest event-time day any table holds a row of (from partition metadata, no data read)."""
    newest: date | None = None
    for table in tables:
        head = branch_head(table, branch)
        if head is None:
            continue
        stats = table.inspect.partitions(snapshot_id=head.snapshot_id)
        if "partition" not in stats.column_names:  # no data file yet (commits of progress only)
            continue
        for partition in stats.column("partition").to_pylist():
            day = partition.get("occurred_day")
            if isinstance(day, int):  # days since the epoch, as the day transform stores it
                day = date(1970, 1, 1) + timedelta(days=day)
            if day is not None and (newest is None or day > newest):
                newest = day
    return newest
