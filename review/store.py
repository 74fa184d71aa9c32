"""The review queue's durable store: items, claims and resolutions in one SQL table.

Why SQL and not Iceberg: a claim is a compare-and-set on one row ("claim it if nobody holds an
unexpired claim"), done many times a minute; Iceberg gives append-only snapshots where every
update is a new commit. The default is SQLite under the state dir (WAL); any SQLAlchemy URL
(``FLYWHEEL_REVIEW__STORE_URL``, e.g. PostgreSQL) serves several app replicas.

Invariants:

* one row per event id (unique): storing the same message again is a no-op, so the consumer
  can replay freely and commits Kafka offsets only after :meth:`ReviewStore.add` returned;
* an item is answered by at most one reviewer: answering needs an unexpired claim, and claims
  are taken with a conditional UPDATE (one winner);
* an item is answered once: :meth:`ReviewStore.hold` moves it from ``open`` to ``answering``
  (a conditional UPDATE, one winner) before its answer is posted, so a second answer sent at
  the same time (another tab, a double submit) is refused before anything is posted. The hold
  renews the claim for the whole claim TTL, so it cannot expire mid-answer; a post that fails
  gives it back (:meth:`ReviewStore.unhold`: open, still claimed) and a hold left by a crash
  ends like a claim, when that TTL has passed (then anyone may claim the item again);
* an item has one review event: the hold keeps the event's text (``sent_event``), and once a
  post may have reached the topic (no answer, a 5xx, a crash) only that same text may be held
  and posted again, so the decision the store records is the one the flow keeps (its dedup
  keeps the first event of an id); only a post the gateway refused (4xx) forgets it;
* a login is a row of ``review_sessions`` (the hash of a random id kept in the signed
  cookie): logging out deletes it, so a copied cookie stops working at logout, not only when
  it expires;
* times are unix seconds (float) from the wall clock: queue ages are operational, never
  curation decisions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flywheel.errors import ClaimError
from flywheel.review.items import ReviewItem
from flywheel.review.stored import ANSWERING, DONE, OPEN, PENDING, Facets, QueueFilter, StoredItem

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
    sa.Column("sent_event", sa.Text),  # the review event held for posting (see ReviewStore.hold)
)
SESSIONS = sa.Table(
    "review_sessions",
    _metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),  # sha256 of the cookie's session id
    sa.Column("reviewer", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


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
            _add_missing_columns(engine)
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
                query = sa.select(column).where(ITEMS.c.status.in_(PENDING)).distinct().order_by(column)
                return [str(value) for value in conn.scalars(query)]

            return Facets(distinct(ITEMS.c.reason), distinct(ITEMS.c.segment), distinct(ITEMS.c.model_version))

    def claim(self, item_id: str, reviewer: str, now: float | None = None) -> float:
        """Claim an open item (or renew one's own claim); the claim's expiry. Raises :class:`ClaimError`.

        An item whose answer is being posted cannot be claimed, not even by its reviewer, until
        that hold expires (a crash mid-answer): then it is open again for anyone.
        """
        now = time.time() if now is None else now
        expires = now + self._claim_ttl_s
        free = sa.or_(ITEMS.c.claimed_by.is_(None), ITEMS.c.claim_expires_at <= now, ITEMS.c.claimed_by == reviewer)
        claimable = sa.or_(
            sa.and_(ITEMS.c.status == OPEN, free),
            sa.and_(ITEMS.c.status == ANSWERING, ITEMS.c.claim_expires_at <= now),
        )
        with self.engine.begin() as conn:
            taken = conn.execute(
                ITEMS.update()
                .where(ITEMS.c.item_id == item_id, claimable)
                .values(status=OPEN, claimed_by=reviewer, claim_expires_at=expires)
            ).rowcount
        if taken != 1:
            raise ClaimError(self._why_not(item_id, reviewer, now))
        return expires

    def hold(self, item_id: str, reviewer: str, event: str, now: float | None = None) -> None:
        """Before posting ``event`` (its JSON text): move the item to ``answering``, keeping the event.

        One conditional UPDATE (open, claimed by ``reviewer``, unexpired, and no other event kept
        from a post that may have reached the topic), its claim renewed for a whole TTL, so of two
        answers sent at once only one gets here; the other, like an answer without a claim or a
        different answer after an unconfirmed post, raises :class:`ClaimError` before anything is
        posted. Follow with :meth:`resolve` once the answer is posted, or :meth:`unhold` if it
        could not be.
        """
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            held = conn.execute(
                ITEMS.update()
                .where(
                    ITEMS.c.item_id == item_id,
                    ITEMS.c.status == OPEN,
                    ITEMS.c.claimed_by == reviewer,
                    ITEMS.c.claim_expires_at > now,
                    sa.or_(ITEMS.c.sent_event.is_(None), ITEMS.c.sent_event == event),
                )
                .values(status=ANSWERING, claim_expires_at=now + self._claim_ttl_s, sent_event=event)
            ).rowcount
        if held != 1:
            raise ClaimError(self._why_not(item_id, reviewer, now, answering=True))

    def unhold(self, item_id: str, reviewer: str, maybe_delivered: bool) -> None:
        """An answer that could not be posted: the item is open again, still claimed by ``reviewer``.

        ``maybe_delivered``: the post may have reached the topic all the same, so the event is
        kept and only it may be posted again; otherwise (refused) it is forgotten.
        """
        values: dict[str, Any] = {"status": OPEN} if maybe_delivered else {"status": OPEN, "sent_event": None}
        with self.engine.begin() as conn:
            conn.execute(
                ITEMS.update()
                .where(ITEMS.c.item_id == item_id, ITEMS.c.status == ANSWERING, ITEMS.c.claimed_by == reviewer)
                .values(**values)
            )

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
        """Mark an item answered by ``reviewer`` (who holds it, :meth:`hold`); raises :class:`ClaimError` otherwise."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            done = conn.execute(
                ITEMS.update()
                .where(ITEMS.c.item_id == item_id, ITEMS.c.status == ANSWERING, ITEMS.c.claimed_by == reviewer)
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

    # -- sessions -------------------------------------------------------------------------

    def open_session(self, reviewer: str, max_age_s: float, now: float | None = None) -> str:
        """Record a login of ``reviewer``; the session id for its cookie (expired sessions are dropped)."""
        now = time.time() if now is None else now
        session_id = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(SESSIONS.delete().where(SESSIONS.c.expires_at <= now))
            conn.execute(
                SESSIONS.insert(),
                {"session_hash": _session_hash(session_id), "reviewer": reviewer, "expires_at": now + max_age_s},
            )
        return session_id

    def session_reviewer(self, session_id: str, now: float | None = None) -> str | None:
        """The reviewer of an unexpired session that was not logged out, else None."""
        now = time.time() if now is None else now
        query = sa.select(SESSIONS.c.reviewer).where(
            SESSIONS.c.session_hash == _session_hash(session_id), SESSIONS.c.expires_at > now
        )
        with self.engine.connect() as conn:
            reviewer = conn.scalar(query)
        return None if reviewer is None else str(reviewer)

    def end_session(self, session_id: str) -> None:
        """Log a session out: its cookie no longer logs anyone in, wherever it was copied to."""
        with self.engine.begin() as conn:
            conn.execute(SESSIONS.delete().where(SESSIONS.c.session_hash == _session_hash(session_id)))

    # -- metrics --------------------------------------------------------------------------

    def depth_by_reason(self) -> dict[str, int]:
        """Unanswered items (open or being answered) per reason."""
        query = sa.select(ITEMS.c.reason, sa.func.count()).where(ITEMS.c.status.in_(PENDING)).group_by(ITEMS.c.reason)
        with self.engine.connect() as conn:
            return {str(reason): int(count) for reason, count in conn.execute(query)}

    def oldest_open_enqueued_at(self) -> float | None:
        """When the oldest open item entered the queue (unix seconds), or None when the queue is empty."""
        query = sa.select(sa.func.min(ITEMS.c.enqueued_at)).where(ITEMS.c.status.in_(PENDING))
        with self.engine.connect() as conn:
            value = conn.scalar(query)
        return None if value is None else float(value)

    def _why_not(self, item_id: str, reviewer: str, now: float, answering: bool = False) -> str:
        stored = self.get(item_id)
        if stored is None:
            return f"no review item {item_id}"
        if stored.status == DONE:
            return f"item {item_id} was already answered by {stored.resolved_by}"
        if stored.answering(now):
            if stored.claimed_by == reviewer:
                return f"another answer of yours to item {item_id} is already being sent; this one was not sent"
            return f"an answer to item {item_id} from {stored.claimed_by} is already being sent"
        if stored.claimed_by_other(reviewer, now):
            return f"item {item_id} is claimed by {stored.claimed_by}"
        if answering and stored.sent_event is not None and stored.claim_active(now):
            return (
                f"an earlier answer to item {item_id} may already have been published (the gateway did not "
                "confirm it), so the item keeps that answer: send it again unchanged; this one was not sent"
            )
        if answering:
            return f"claim the item before answering it (your claim on {item_id} expired or was never taken)"
        return f"item {item_id} cannot be claimed"


def _matching(statement: sa.Select[Any], query: QueueFilter, now: float) -> sa.Select[Any]:
    """``statement`` restricted to the items ``query`` asks for."""
    if query.status == DONE:
        statement = statement.where(ITEMS.c.status == DONE)
    elif query.status == "mine":
        statement = statement.where(
            ITEMS.c.status.in_(PENDING), ITEMS.c.claimed_by == query.reviewer, ITEMS.c.claim_expires_at > now
        )
    else:
        statement = statement.where(ITEMS.c.status.in_(PENDING))
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


def _session_hash(session_id: str) -> str:
    """What the store keeps of a session id: its hash (the id itself is only in the signed cookie)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


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
        sent_event=row["sent_event"],
    )


def _add_missing_columns(engine: Engine) -> None:
    """Columns added since a store was created (``create_all`` makes only missing tables)."""
    present = {column["name"] for column in sa.inspect(engine).get_columns(ITEMS.name)}
    with engine.begin() as conn:
        for column in ITEMS.columns:
            if column.name not in present:  # nullable, so existing rows need no value
                conn.exec_driver_sql(f"ALTER TABLE {ITEMS.name} ADD COLUMN {column.name} {column.type}")
