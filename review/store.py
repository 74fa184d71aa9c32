"""The review queue's durable store: items, claims and resolutions in one SQL table.

Why SQL and not Iceberg: a claim is a compare-and-set on one row ("claim it if nobody holds an
unexpired claim"), done many times a minute; Iceberg gives append-only snapshots where every
update is a new commit. The default is SQLite under the state dir (WAL); any SQLAlchemy URL
(``FLYWHEEL_REVIEW__STORE_URL``, e.g. PostgreSQL) serves several app replicas.

Invariants:

* one row per event id (unique): storing the same message again is a no-op, so the consumer
  can replay freely and commits Kafka offsets only after :meth:`ReviewStore.add` returned;
* an item is answered by at most one reviewer: answering needs an unexpired claim, and claims
  are taken with a conditional UPDATE (one winner); :meth:`ReviewStore.hold` renews the claim
  for the whole claim TTL before the answer is posted, so it cannot expire mid-answer;
* times are unix seconds (float) from the wall clock: queue ages are operational, never
  curation decisions.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flywheel.errors import ClaimError
from flywheel.review.items import ReviewItem

OPEN = "open"
DONE = "done"

_metadata = sa.MetaData()
ITEMS = sa.Table(
    "review_items",
    _metadata,
    sa.Column("item_id", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(512), nullable=False, unique=True),
    sa.Column("reason", sa.String(200), nullable=False, index=True),
    sa.Column("segment", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(200), nullable=False),
    sa.Column("occurred_at", sa.Float, nullable=False),
    sa.Column("enqueued_at", sa.Float, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claim_expires_at", sa.Float),
    sa.Column("resolved_by", sa.String(200)),
    sa.Column("resolved_at", sa.Float),
    sa.Column("action", sa.String(32)),
    sa.Column("note", sa.Text),
    sa.Column("review_event_id", sa.String(512)),
)


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

    def claimed_by_other(self, reviewer: str, now: float) -> bool:
        """True when someone else holds an unexpired claim."""
        return self.claim_active(now) and self.claimed_by != reviewer

    def claim_active(self, now: float) -> bool:
        """True when a claim is held and not expired."""
        return self.claimed_by is not None and (self.claim_expires_at or 0.0) > now


@dataclass(frozen=True)
class Facets:
    """Values the filters offer, from the open items."""

    reasons: list[str]
    segments: list[str]
    model_versions: list[str]


class ReviewStore:
    """Items and claims in an SQL database (SQLite by default)."""

    def __init__(self, url: str, claim_ttl_s: float) -> None:
        self._url = url
        self._claim_ttl_s = claim_ttl_s
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The engine, created with the schema on first use (no I/O in the constructor)."""
        if self._engine is None:
            if self._url.startswith("sqlite:///"):
                Path(self._url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(self._url)
            if engine.dialect.name == "sqlite":
                with engine.begin() as conn:
                    conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            _metadata.create_all(engine)
            self._engine = engine
        return self._engine

    def close(self) -> None:
        """Release the connection pool."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- the consumer's side --------------------------------------------------------------

    def add(self, items: Sequence[ReviewItem], now: float | None = None) -> int:
        """Store items not stored yet (by event id), durably, in one transaction; the count added."""
        if not items:
            return 0
        enqueued = time.time() if now is None else now
        unique = {item.event_id: item for item in items}
        with self.engine.begin() as conn:
            known = set(conn.scalars(sa.select(ITEMS.c.event_id).where(ITEMS.c.event_id.in_(list(unique)))))
            rows = [_row(item, enqueued) for event_id, item in unique.items() if event_id not in known]
            if rows:
                conn.execute(ITEMS.insert(), rows)
        return len(rows)

    # -- the reviewer's side --------------------------------------------------------------

    def list(self, query: QueueFilter, limit: int, now: float | None = None) -> list[StoredItem]:
        """Items matching ``query``, oldest event first."""
        now = time.time() if now is None else now
        statement = _matching(sa.select(ITEMS), query, now)
        statement = statement.order_by(ITEMS.c.occurred_at, ITEMS.c.item_id).limit(limit)
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(statement).mappings()]

    def count(self, query: QueueFilter, now: float | None = None) -> int:
        """How many items match ``query``."""
        now = time.time() if now is None else now
        statement = _matching(sa.select(sa.func.count()).select_from(ITEMS), query, now)
        with self.engine.connect() as conn:
            return int(conn.scalar(statement) or 0)

    def get(self, item_id: str) -> StoredItem | None:
        """One item by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ITEMS).where(ITEMS.c.item_id == item_id)).mappings().first()
        return None if row is None else _stored(row)

    def facets(self) -> Facets:
        """Distinct reasons, segments and model versions of the open items."""
        with self.engine.connect() as conn:

            def distinct(column: sa.Column[Any]) -> list[str]:
                query = sa.select(column).where(ITEMS.c.status == OPEN).distinct().order_by(column)
                return [str(value) for value in conn.scalars(query)]

            return Facets(distinct(ITEMS.c.reason), distinct(ITEMS.c.segment), distinct(ITEMS.c.model_version))

    def claim(self, item_id: str, reviewer: str, now: float | None = None) -> float:
        """Claim an open item (or renew one's own claim); the claim's expiry. Raises :class:`ClaimError`."""
        now = time.time() if now is None else now
        expires = now + self._claim_ttl_s
        free = sa.or_(ITEMS.c.claimed_by.is_(None), ITEMS.c.claim_expires_at <= now, ITEMS.c.claimed_by == reviewer)
        with self.engine.begin() as conn:
            taken = conn.execute(
                ITEMS.update()
                .where(ITEMS.c.item_id == item_id, ITEMS.c.status == OPEN, free)
                .values(claimed_by=reviewer, claim_expires_at=expires)
            ).rowcount
        if taken != 1:
            raise ClaimError(self._why_not(item_id, reviewer, now))
        return expires

    def hold(self, item_id: str, reviewer: str, now: float | None = None) -> None:
        """Renew ``reviewer``'s unexpired claim before answering; raises :class:`ClaimError` without one."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            held = conn.execute(
                ITEMS.update()
                .where(
                    ITEMS.c.item_id == item_id,
                    ITEMS.c.status == OPEN,
                    ITEMS.c.claimed_by == reviewer,
                    ITEMS.c.claim_expires_at > now,
                )
                .values(claim_expires_at=now + self._claim_ttl_s)
            ).rowcount
        if held != 1:
            raise ClaimError(self._why_not(item_id, reviewer, now, answering=True))

    def release(self, item_id: str, reviewer: str) -> None:
        """Give a claim back so others may take the item at once."""
        with self.engine.begin() as conn:
            conn.execute(
                ITEMS.update()
                .where(ITEMS.c.item_id == item_id, ITEMS.c.status == OPEN, ITEMS.c.claimed_by == reviewer)
                .values(claimed_by=None, claim_expires_at=None)
            )

    def resolve(
        self, item_id: str, reviewer: str, action: str, note: str | None, event_id: str, now: float | None = None
    ) -> None:
        """Mark an item answered by ``reviewer`` (who holds its claim); raises :class:`ClaimError` otherwise."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            done = conn.execute(
                ITEMS.update()
                .where(ITEMS.c.item_id == item_id, ITEMS.c.status == OPEN, ITEMS.c.claimed_by == reviewer)
                .values(
                    status=DONE,
                    resolved_by=reviewer,
                    resolved_at=now,
                    action=action,
                    note=note,
                    review_event_id=event_id,
                    claim_expires_at=None,
                )
            ).rowcount
        if done != 1:
            raise ClaimError(self._why_not(item_id, reviewer, now, answering=True))

    # -- metrics --------------------------------------------------------------------------

    def depth_by_reason(self) -> dict[str, int]:
        """Open items per reason."""
        query = sa.select(ITEMS.c.reason, sa.func.count()).where(ITEMS.c.status == OPEN).group_by(ITEMS.c.reason)
        with self.engine.connect() as conn:
            return {str(reason): int(count) for reason, count in conn.execute(query)}

    def oldest_open_enqueued_at(self) -> float | None:
        """When the oldest open item entered the queue (unix seconds), or None when the queue is empty."""
        query = sa.select(sa.func.min(ITEMS.c.enqueued_at)).where(ITEMS.c.status == OPEN)
        with self.engine.connect() as conn:
            value = conn.scalar(query)
        return None if value is None else float(value)

    def _why_not(self, item_id: str, reviewer: str, now: float, answering: bool = False) -> str:
        stored = self.get(item_id)
        if stored is None:
            return f"no review item {item_id}"
        if stored.status == DONE:
            return f"item {item_id} was already answered by {stored.resolved_by}"
        if stored.claimed_by_other(reviewer, now):
            return f"item {item_id} is claimed by {stored.claimed_by}"
        if answering:
            return f"claim the item before answering it (your claim on {item_id} expired or was never taken)"
        return f"item {item_id} cannot be claimed"


def _matching(statement: sa.Select[Any], query: QueueFilter, now: float) -> sa.Select[Any]:
    """``statement`` restricted to the items ``query`` asks for."""
    if query.status == DONE:
        statement = statement.where(ITEMS.c.status == DONE)
    elif query.status == "mine":
        statement = statement.where(
            ITEMS.c.status == OPEN, ITEMS.c.claimed_by == query.reviewer, ITEMS.c.claim_expires_at > now
        )
    else:
        statement = statement.where(ITEMS.c.status == OPEN)
    for column, value in (
        (ITEMS.c.reason, query.reason),
        (ITEMS.c.segment, query.segment),
        (ITEMS.c.model_version, query.model_version),
    ):
        if value:
            statement = statement.where(column == value)
    if query.older_than_s is not None:
        statement = statement.where(ITEMS.c.occurred_at <= now - query.older_than_s)
    if query.newer_than_s is not None:
        statement = statement.where(ITEMS.c.occurred_at >= now - query.newer_than_s)
    return statement


def _row(item: ReviewItem, enqueued_at: float) -> dict[str, Any]:
    payload = dataclasses.asdict(item)
    payload["occurred_at"] = item.occurred_at.isoformat()
    return {
        "item_id": item.item_id,
        "event_id": item.event_id,
        "reason": item.reason,
        "segment": item.segment,
        "model_version": item.model_version,
        "occurred_at": item.occurred_at.timestamp(),
        "enqueued_at": enqueued_at,
        "payload": orjson.dumps(payload).decode(),
        "status": OPEN,
    }


def _stored(row: Any) -> StoredItem:
    payload = orjson.loads(row["payload"])
    payload["occurred_at"] = datetime.fromisoformat(payload["occurred_at"]).astimezone(UTC)
    return StoredItem(
        item=ReviewItem(**payload),
        status=row["status"],
        enqueued_at=row["enqueued_at"],
        claimed_by=row["claimed_by"],
        claim_expires_at=row["claim_expires_at"],
        resolved_by=row["resolved_by"],
        action=row["action"],
        note=row["note"],
    )
