"""``GET /v1/flywheel/training-candidates``: curated DPO pairs read from Iceberg, paginated.

Keyset pagination over ``(occurred_at, pair_id)``, pinned to one table snapshot: the first
page reads the configured branch's current snapshot and the cursor carries its id, so later
pages neither skip nor repeat rows while the flow keeps committing. Texts are scrubbed of PII
again on the way out (the flow stores them scrubbed; this also covers rows written before
a detector existed), the earlier turns of a conversation (``dpo_pairs.metadata``) included.

A catalog outage (unreachable, busy) is retried briefly with :class:`infra.retry.Outage`, then
raised as :class:`flywheel.errors.CatalogUnavailable` (the app answers 503).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    LessThanOrEqual,
    Reference,
)
from pyiceberg.expressions.literals import Literal, literal

from flywheel.config import CatalogSettings
from flywheel.errors import CatalogUnavailable, InvalidCursor
from flywheel.gateway.models import CandidatePage, TrainingCandidate
from flywheel.infra.catalog import branch_head, open_catalog, table_identifier
from flywheel.infra.retry import Outage, is_transient, one_line
from flywheel.operators.rows import scrub_text
from flywheel.schemas.conversation import stored_turns
from flywheel.schemas.tables import DPO_PAIRS

log = logging.getLogger(__name__)

CONVERSATION = "conversation"
COLUMNS = tuple(name for name in TrainingCandidate.model_fields if name != CONVERSATION)
# Read when the table has it (tables created before it read without): the stored earlier turns.
METADATA = "metadata"
# How long one request retries a catalog outage before answering 503 (a client retries later).
CATALOG_RETRY_S = 1.0
_SNAPSHOT_IDS = range(-(2**63), 2**63)  # Iceberg snapshot ids are signed 64-bit
_KEYS = ("occurred_at", "pair_id")
_ORDER = [("occurred_at", "ascending"), ("pair_id", "ascending")]


@dataclass(frozen=True)
class CandidateQuery:
    """Filters and page position."""

    limit: int
    segment: str | None = None
    model_id: str | None = None
    model_version: str | None = None
    min_similarity: float | None = None
    since: datetime | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class _Cursor:
    snapshot_id: int
    occurred_at: datetime
    pair_id: str

    def encode(self) -> str:
        raw = json.dumps({"s": self.snapshot_id, "t": self.occurred_at.isoformat(), "p": self.pair_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> _Cursor:
        """The cursor :meth:`encode` wrote, or :class:`InvalidCursor` for anything else."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if not isinstance(raw, dict) or set(raw) != {"s", "t", "p"}:
                raise ValueError("not a cursor object")
            snapshot_id, moment, pair_id = raw["s"], datetime.fromisoformat(raw["t"]), raw["p"]
            if type(snapshot_id) is not int or snapshot_id not in _SNAPSHOT_IDS or not isinstance(pair_id, str):
                raise ValueError("bad cursor fields")
            if moment.tzinfo is None:
                raise ValueError("cursor time without an offset")
            pair_id.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate
            # OverflowError past year 1 or 9999 in UTC; the cursor then holds UTC, as encode wrote it.
            return cls(snapshot_id, moment.astimezone(UTC), pair_id)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise InvalidCursor("cursor is malformed") from exc


class CandidateReader:
    """Reads DPO pairs; opens the catalog once, lazily (thread-safe)."""

    def __init__(self, settings: CatalogSettings, retry_s: float = CATALOG_RETRY_S) -> None:
        self._settings = settings
        self._retry_s = retry_s
        self._catalog: Catalog | None = None
        self._lock = threading.Lock()

    def page(self, query: CandidateQuery) -> CandidatePage:
        """One page of pairs matching ``query``; empty while the table has no snapshot.

        Raises :class:`InvalidCursor` for a cursor this endpoint did not issue (or whose snapshot
        expired), and :class:`CatalogUnavailable` when the catalog stays unreachable or busy for
        ``retry_s`` (backoff from 0.5 s; a page is read-only, so it is simply read again).
        """
        cursor = _Cursor.decode(query.cursor) if query.cursor else None
        outage = Outage(DPO_PAIRS, "read", self._retry_s)
        while True:
            try:
                page = self._read(query, cursor)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                try:
                    outage.wait(exc)
                except CatalogUnavailable:
                    raise CatalogUnavailable(
                        f"the Iceberg catalog at {self._settings.shown_uri} is unavailable ({one_line(exc)}); "
                        "no training candidates can be read now, retry later"
                    ) from exc
                continue
            outage.cleared()
            return page

    def _read(self, query: CandidateQuery, cursor: _Cursor | None) -> CandidatePage:
        try:
            table = self._open().load_table(table_identifier(self._settings, DPO_PAIRS))
        except NoSuchTableError:
            return CandidatePage(candidates=[], count=0)
        if cursor is not None:
            snapshot_id: int | None = cursor.snapshot_id
            if table.snapshot_by_id(cursor.snapshot_id) is None:
                raise InvalidCursor("the cursor's snapshot has expired; start again without a cursor")
        else:
            snapshot = branch_head(table, self._settings.branch) or branch_head(table)
            snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        if snapshot_id is None:
            return CandidatePage(candidates=[], count=0)
        names = {field.name for field in table.schema().fields}
        columns = COLUMNS + ((METADATA,) if METADATA in names else ())
        matching = _row_filter(query, cursor)
        # Two reads: the keys of every row after the cursor (two small columns), then the page's
        # rows with their texts, up to the last key of the page. Reading every remaining row's
        # texts for each page made walking the table quadratic in its texts.
        keys = table.scan(row_filter=matching, selected_fields=_KEYS, snapshot_id=snapshot_id).to_arrow()
        keys = _after(keys, cursor).sort_by(_ORDER)
        if keys.num_rows == 0:
            return CandidatePage(candidates=[], count=0, snapshot_id=snapshot_id)
        upper = _aware(keys["occurred_at"][min(query.limit, keys.num_rows) - 1].as_py())
        through = LessThanOrEqual(term=Reference("occurred_at"), value=_literal(upper.isoformat()))
        rows = table.scan(row_filter=And(matching, through), selected_fields=columns, snapshot_id=snapshot_id)
        page = _after(rows.to_arrow(), cursor).sort_by(_ORDER).slice(0, query.limit).to_pylist()
        next_cursor = None
        if keys.num_rows > query.limit and page:
            last = page[-1]
            next_cursor = _Cursor(snapshot_id, _aware(last["occurred_at"]), last["pair_id"]).encode()
        candidates = [TrainingCandidate.model_validate(_scrubbed(row)) for row in page]
        return CandidatePage(
            candidates=candidates, count=len(candidates), next_cursor=next_cursor, snapshot_id=snapshot_id
        )

    def _open(self) -> Catalog:
        with self._lock:
            if self._catalog is None:
                self._catalog = open_catalog(self._settings)
            return self._catalog


def _scrubbed(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its free-text columns and earlier turns scrubbed of PII; ``metadata`` becomes ``conversation``."""
    fields = {key: value for key, value in row.items() if key != METADATA}
    scrubbed = {
        key: scrub_text(value) if isinstance(value, str) and key in _TEXTS else value for key, value in fields.items()
    }
    turns = stored_turns(row.get(METADATA))
    if turns is None:  # the flow stores only well-formed turns: a row written by something else
        log.warning(
            "a pair's stored conversation is malformed: served without it", extra={"pair_id": row.get("pair_id")}
        )
    scrubbed[CONVERSATION] = [{"role": turn["role"], "content": scrub_text(turn["content"])} for turn in turns or []]
    return scrubbed


_TEXTS = frozenset({"prompt", "chosen", "rejected"})


def _row_filter(query: CandidateQuery, cursor: _Cursor | None) -> BooleanExpression:
    clauses: list[BooleanExpression] = []
    for column in ("segment", "model_id", "model_version"):
        value = getattr(query, column)
        if value is not None:
            clauses.append(EqualTo(term=Reference(column), value=_literal(value)))
    if query.min_similarity is not None:
        clauses.append(GreaterThanOrEqual(term=Reference("similarity"), value=_literal(query.min_similarity)))
    lower = max(
        (moment for moment in (query.since, cursor.occurred_at if cursor else None) if moment is not None),
        default=None,
    )
    if lower is not None:
        moment = lower.astimezone(UTC).isoformat()
        clauses.append(GreaterThanOrEqual(term=Reference("occurred_at"), value=_literal(moment)))
    expression: BooleanExpression = AlwaysTrue()
    for clause in clauses:
        expression = And(expression, clause)
    return expression


def _after(rows: pa.Table, cursor: _Cursor | None) -> pa.Table:
    """Rows strictly after the cursor position in (occurred_at, pair_id) order."""
    if cursor is None or rows.num_rows == 0:
        return rows
    moment = pa.scalar(cursor.occurred_at, type=rows.schema.field("occurred_at").type)
    later = pc.greater(rows["occurred_at"], moment)
    same = pc.and_(pc.equal(rows["occurred_at"], moment), pc.greater(rows["pair_id"], cursor.pair_id))
    return rows.filter(pc.or_(later, same))


def _literal(value: Any) -> Literal[Any]:
    return literal(value)


def _aware(moment: Any) -> datetime:
    value: datetime = moment
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
