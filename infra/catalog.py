"""The Iceberg catalog and every access to its tables, on pyiceberg's own primitives.

* The catalog: open it from settings (:func:`open_catalog`), check that it answers
  (:func:`check_catalog_reachable`), create or drop the namespace's tables.
* Refs and history: a branch's head is ``snapshot_by_name`` (``main`` included), its history
  is ``ancestors_of``; tags are set with ``manage_snapshots`` and retried on conflict.
* The offsets ledger: every flow commit stores, under :data:`OFFSETS_PROPERTY` in its snapshot
  summary, the last source offset (inclusive) it has accounted for on every partition. Rows at
  or below it are already in the table; a restart resumes after it.
* Row filters are typed expressions (``And``, ``EqualTo``, ``GreaterThan``, ...), never text.

Tables are created with pyiceberg's automatic commit retry off: the flow's sink retries
itself after re-reading the committed offsets, because pyiceberg's retry would re-apply a
snapshot whose offsets were computed before the conflict.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Reference,
)
from pyiceberg.expressions.literals import literal
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from flywheel.config import CatalogSettings
from flywheel.errors import CatalogUnreachable, TagConflictError
from flywheel.infra.retry import wait_at_start
from flywheel.schemas.records import Position
from flywheel.schemas.tables import TableContract, contracts

log = logging.getLogger(__name__)

NO_AUTOMATIC_RETRY = {"commit.retry.num-retries": "0"}
TABLE_PROPERTIES = {
    **NO_AUTOMATIC_RETRY,
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
}
OFFSETS_PROPERTY = "flywheel.source-offsets"
ROWS_PROPERTY = "flywheel.rows"
LINEAGE_COLUMNS = ("source_topic", "source_partition", "source_offset")

# (topic, partition) -> last offset accounted for, inclusive.
Offsets = dict[tuple[str, int], int]


# --- the catalog


def open_catalog(settings: CatalogSettings) -> Catalog:
    """Open the configured catalog (SQLite SqlCatalog by default, REST or SQL by config).

    A local SQLite file and a local warehouse folder are created here, on first use,
    never when settings are built.
    """
    properties = settings.catalog_properties()
    uri, warehouse = properties.get("uri", ""), properties.get("warehouse", "")
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if warehouse.startswith("file://"):
        Path(urlparse(warehouse).path).mkdir(parents=True, exist_ok=True)
    return load_catalog(settings.name, **properties)


def check_catalog_reachable(settings: CatalogSettings) -> None:
    """Raise :class:`CatalogUnreachable` (one line) unless the catalog answers within its timeout."""
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            open_catalog(settings).list_namespaces()
            outcome.append(None)
        except Exception as exc:  # whatever the catalog's client raises is the reason we report
            outcome.append(exc)

    # A daemon thread: a catalog that never answers must not keep the process alive.
    thread = threading.Thread(target=probe, name="catalog-probe", daemon=True)
    thread.start()
    thread.join(settings.connect_timeout_s)
    if outcome and outcome[0] is None:
        return
    reason = _innermost(outcome[0]) if outcome else "no answer"
    raise CatalogUnreachable(
        f"cannot reach the Iceberg catalog at {settings.shown_uri} ({settings.type}) within "
        f"{settings.connect_timeout_s:g}s ({reason}); check FLYWHEEL_CATALOG__URI (and "
        "FLYWHEEL_CATALOG__TYPE, FLYWHEEL_CATALOG__PROPERTIES)"
    )


def wait_for_catalog(settings: CatalogSettings) -> None:
    """:func:`check_catalog_reachable`, tried again with backoff for up to ``settings.startup_wait_s``.

    The catalog's twin of :func:`flywheel.infra.kafka.wait_for_broker` (the flow, ``stack tables``).
    """
    wait_at_start(
        lambda: check_catalog_reachable(settings),
        CatalogUnreachable,
        "catalog",
        settings.startup_wait_s,
        "FLYWHEEL_CATALOG__STARTUP_WAIT_S",
    )


def _innermost(exc: BaseException | None) -> str:
    """The root cause's message on one line ("[Errno 111] Connection refused", not three wrappers)."""
    while exc is not None and (exc.__cause__ or exc.__context__) is not None:
        exc = exc.__cause__ or exc.__context__
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def table_identifier(settings: CatalogSettings, name: str) -> str:
    """``namespace.table`` for a table name."""
    return f"{settings.namespace}.{name}"


def ensure_tables(catalog: Catalog, settings: CatalogSettings) -> dict[str, Table]:
    """Create the namespace and every table if missing; returns the tables by name."""
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(settings.namespace)
    return {name: _ensure_table(catalog, settings, contract) for name, contract in contracts().items()}


def _ensure_table(catalog: Catalog, settings: CatalogSettings, contract: TableContract) -> Table:
    identifier = table_identifier(settings, contract.name)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            table = catalog.create_table(
                identifier,
                schema=contract.schema,
                partition_spec=contract.partition_spec,
                properties=TABLE_PROPERTIES,
            )
            log.info("created table", extra={"table": identifier})
        except TableAlreadyExistsError:
            table = catalog.load_table(identifier)
    if _missing_columns(table, contract):
        # Contracts only ever add optional columns; tables created by an older release get them.
        with table.update_schema() as update:
            update.union_by_name(contract.schema)
        table = catalog.load_table(identifier)
        log.info("added columns", extra={"table": identifier})
    if table.properties.get("commit.retry.num-retries") != "0":
        with table.transaction() as transaction:
            transaction.set_properties(NO_AUTOMATIC_RETRY)
        table = catalog.load_table(identifier)
    return table


def _missing_columns(table: Table, contract: TableContract) -> list[str]:
    present = {field.name for field in table.schema().fields}
    return [field.name for field in contract.schema.fields if field.name not in present]


def load_tables(catalog: Catalog, settings: CatalogSettings) -> dict[str, Table]:
    """Load every flywheel table by name; raises NoSuchTableError with the identifier if missing."""
    return {name: catalog.load_table(table_identifier(settings, name)) for name in contracts()}


def drop_tables(catalog: Catalog, settings: CatalogSettings) -> list[str]:
    """Drop every flywheel table that exists, with its files; returns the names dropped."""
    dropped: list[str] = []
    for name in contracts():
        try:
            catalog.purge_table(table_identifier(settings, name))
        except NoSuchTableError:
            continue
        dropped.append(name)
    return dropped


# --- refs and history


def branch_head(table: Table, branch: str = "main") -> Snapshot | None:
    """The snapshot a branch points at (``None`` for an empty table or a missing branch)."""
    return table.snapshot_by_name(branch)


def history(table: Table, branch: str = "main") -> Iterator[Snapshot]:
    """The branch's head and its ancestors, newest first."""
    return iter(ancestors_of(branch_head(table, branch), table.metadata))


def total_records(snapshot: Snapshot | None) -> int:
    """Rows in the table as of ``snapshot`` (its summary's ``total-records``), 0 for none."""
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.get("total-records") or 0)


def resolve_snapshot(table: Table, ref: str) -> Snapshot:
    """A snapshot by id, tag or branch name; ``LookupError`` with a clear message if there is none."""
    if ref.lstrip("-").isdigit():
        snapshot = table.snapshot_by_id(int(ref))
        if snapshot is not None:
            return snapshot
    snapshot = table.snapshot_by_name(ref)
    if snapshot is None:
        known = sorted(table.metadata.refs)
        raise LookupError(f"no snapshot or tag {ref!r} in {'.'.join(table.name())}; refs: {known}")
    return snapshot


def ensure_tag(catalog: Catalog, identifier: str, tag: str, snapshot_id: int, attempts: int = 10) -> Table:
    """Create tag ``tag`` on ``snapshot_id`` unless it already points there; returns the fresh table."""
    for attempt in range(attempts):
        table = catalog.load_table(identifier)
        ref = table.metadata.refs.get(tag)
        if ref is not None:
            if ref.snapshot_id != snapshot_id:
                raise TagConflictError(f"tag {tag} on {identifier} points at {ref.snapshot_id}, not {snapshot_id}")
            return table
        try:
            table.manage_snapshots().create_tag(snapshot_id, tag).commit()
            return catalog.load_table(identifier)
        except CommitFailedException:
            log.info("tag commit conflicted; retrying", extra={"tag": tag, "attempt": attempt + 1})
            time.sleep(0.05 * (attempt + 1))
    raise CommitFailedException(f"could not tag {identifier}@{snapshot_id} as {tag} in {attempts} attempts")


# --- the offsets ledger


def encode_offsets(offsets: Offsets) -> str:
    """Serialise offsets for a snapshot summary: ``{"topic": {"partition": offset}}``."""
    nested: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in sorted(offsets.items()):
        nested.setdefault(topic, {})[str(partition)] = offset
    return json.dumps(nested, separators=(",", ":"), sort_keys=True)


def decode_offsets(text: str) -> Offsets:
    """Inverse of :func:`encode_offsets`."""
    nested = json.loads(text)
    return {
        (topic, int(partition)): int(offset)
        for topic, partitions in nested.items()
        for partition, offset in partitions.items()
    }


def merge_offsets(*maps: Offsets) -> Offsets:
    """Per-partition maximum of several offset maps."""
    merged: Offsets = {}
    for offsets in maps:
        for key, offset in offsets.items():
            if offset > merged.get(key, -1):
                merged[key] = offset
    return merged


def committed_offsets(table: Table, branch: str = "main") -> Offsets:
    """Offsets stored by the most recent flow commit on ``branch``.

    Walks back through ancestors so snapshots made by other writers (maintenance,
    quarantine deletes) do not hide the ledger.
    """
    return offsets_as_of(table, branch_head(table, branch))


def offsets_as_of(table: Table, snapshot: Snapshot | None) -> Offsets:
    """Offsets stored by the most recent flow commit at or before ``snapshot``."""
    for ancestor in ancestors_of(snapshot, table.metadata):
        summary = ancestor.summary
        if summary is not None and OFFSETS_PROPERTY in summary.additional_properties:
            return decode_offsets(summary.additional_properties[OFFSETS_PROPERTY])
    return {}


# --- row filters and reads


def from_source(
    topic: str, partition: int | None = None, after: int | None = None, through: int | None = None
) -> BooleanExpression:
    """Rows from ``topic`` (and ``partition``) with ``after < source_offset <= through``."""
    clauses: list[BooleanExpression] = [EqualTo(term=Reference("source_topic"), value=literal(topic))]
    if partition is not None:
        clauses.append(EqualTo(term=Reference("source_partition"), value=literal(partition)))
    if after is not None:
        clauses.append(GreaterThan(term=Reference("source_offset"), value=literal(after)))
    if through is not None:
        clauses.append(LessThanOrEqual(term=Reference("source_offset"), value=literal(through)))
    return _all_of(clauses)


def occurred_between(start: datetime, end: datetime, user_id: str | None = None) -> BooleanExpression:
    """Rows whose event time is in ``[start, end)`` (optionally one user's)."""
    clauses: list[BooleanExpression] = [
        GreaterThanOrEqual(term=Reference("occurred_at"), value=literal(start.isoformat())),
        LessThan(term=Reference("occurred_at"), value=literal(end.isoformat())),
    ]
    if user_id is not None:
        clauses.append(EqualTo(term=Reference("user_id"), value=literal(user_id)))
    return _all_of(clauses)


def occurred_since(start: datetime) -> BooleanExpression:
    """Rows whose event time is at or after ``start``."""
    return GreaterThanOrEqual(term=Reference("occurred_at"), value=literal(start.isoformat()))


def _all_of(clauses: list[BooleanExpression]) -> BooleanExpression:
    expression: BooleanExpression = AlwaysTrue()
    for clause in clauses:
        expression = And(expression, clause)
    return expression


def read_rows(
    table: Table, snapshot: Snapshot, row_filter: BooleanExpression, fields: tuple[str, ...] = ("*",)
) -> list[dict[str, Any]]:
    """The rows of ``snapshot`` that match ``row_filter``, with ``fields`` only."""
    scan = table.scan(row_filter=row_filter, selected_fields=fields, snapshot_id=snapshot.snapshot_id)
    return scan.to_arrow().to_pylist()


def source_positions(table: Table, snapshot: Snapshot, row_filter: BooleanExpression) -> set[Position]:
    """The source position of every row of ``snapshot`` that matches ``row_filter``."""
    frame = table.scan(row_filter=row_filter, selected_fields=LINEAGE_COLUMNS, snapshot_id=snapshot.snapshot_id)
    arrow = frame.to_arrow()
    columns = (arrow.column(name).to_pylist() for name in LINEAGE_COLUMNS)
    return {Position(*values) for values in zip(*columns, strict=True)}
