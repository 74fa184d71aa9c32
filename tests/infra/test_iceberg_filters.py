"""The typed row filters of ``infra/iceberg.py``, evaluated by pyiceberg and pyarrow on the real table schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.expressions.visitors import bind
from pyiceberg.io.pyarrow import expression_to_pyarrow

from flywheel.infra.catalog import from_source, occurred_between
from flywheel.schemas.tables import DPO_PAIRS, contracts

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def matching(expression: BooleanExpression, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows an Iceberg scan with ``expression`` keeps, evaluated by pyarrow."""
    schema = contracts()[DPO_PAIRS].schema
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    frame = pa.table(columns, schema=pa.schema([schema.as_arrow().field(name) for name in columns]))
    kept = frame.filter(expression_to_pyarrow(bind(schema, expression, case_sensitive=True), schema))
    return kept.to_pylist()


def source_row(topic: str, partition: int, offset: int) -> dict[str, Any]:
    return {"source_topic": topic, "source_partition": partition, "source_offset": offset}


def test_from_source_keeps_one_partitions_half_open_offset_range() -> None:
    rows = [source_row("t", 0, offset) for offset in range(8)] + [source_row("t", 1, 3), source_row("u", 0, 3)]
    kept = matching(from_source("t", 0, after=1, through=5), rows)
    assert [(r["source_topic"], r["source_partition"], r["source_offset"]) for r in kept] == [
        ("t", 0, 2),
        ("t", 0, 3),
        ("t", 0, 4),
        ("t", 0, 5),
    ]
    assert len(matching(from_source("t"), rows)) == 9


def test_occurred_between_is_half_open_and_matches_user_ids_exactly() -> None:
    rows = [
        {"occurred_at": T0 + timedelta(hours=hour), "user_id": user}
        for hour in range(4)
        for user in ("alice", "o'brien")
    ]
    kept = matching(occurred_between(T0 + timedelta(hours=1), T0 + timedelta(hours=3)), rows)
    assert sorted({r["occurred_at"] for r in kept}) == [T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    # A quote in a value is data, not syntax: no escaping, no stripping.
    only = matching(occurred_between(T0, T0 + timedelta(hours=4), user_id="o'brien"), rows)
    assert len(only) == 4 and {r["user_id"] for r in only} == {"o'brien"}
