"""Keyed steps receive one list per key per batch: same decisions, same order, same state as one by one.

What crosses between processes at a keyed step is pickled; a list per key per batch is one
pickle instead of one per item. These tests hold the batched wiring to the per-item meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from flywheel.flows.decisions import Candidate, Decision, Dropped
from flywheel.flows.gates import keyed_gate
from flywheel.flows.rows import for_tables
from flywheel.operators.outcome import Drop, Stage
from flywheel.schemas.events import Signal
from flywheel.schemas.records import (
    SinkItem,
    SourceCoordinates,
    SourcedEvent,
    SourceProgress,
    TableRow,
    TableRows,
    sink_entries,
)
from tests.support.curation_events import make_event


def candidate(offset: int, user: str) -> Candidate:
    event = make_event(Signal.EDIT, event_id=f"e{offset}", user_id=user)
    return Candidate(SourcedEvent(SourceCoordinates("t", 0, offset, 0), event), "chosen")


def second_and_later_dropped(seen: int | None, item: Candidate) -> tuple[int, Decision]:
    count = (seen or 0) + 1
    if count == 1:
        return count, item
    return count, Dropped(item.sourced, Drop(Stage.QUOTA, "seen", f"#{count} of {item.sourced.event.user_id}"))


def run_keyed(items: list[Candidate], batch_size: int) -> tuple[list[Candidate], list[Dropped]]:
    flow = Dataflow("keyed")
    up = op.input("in", flow, TestingSource(items, batch_size=batch_size))
    out = keyed_gate("per_user", up, lambda c: c.sourced.event.user_id, second_and_later_dropped)
    kept: list[Candidate] = []
    dropped: list[Dropped] = []
    op.output("kept", out.kept, TestingSink(kept))
    op.output("dropped", out.dropped, TestingSink(dropped))
    run_main(flow)
    return kept, dropped


def test_a_keyed_gate_decides_batched_items_in_arrival_order_per_key() -> None:
    users = ["ann", "bob", "ann", "cid", "bob", "ann", "bob"]
    items = [candidate(offset, user) for offset, user in enumerate(users)]
    for batch_size in (1, 3, 100):
        kept, dropped = run_keyed(items, batch_size)
        assert sorted(c.sourced.coordinates.offset for c in kept) == [0, 1, 3], batch_size
        details = sorted((d.sourced.coordinates.offset, d.drop.detail) for d in dropped)
        assert details == [(2, "#2 of ann"), (4, "#2 of bob"), (5, "#3 of ann"), (6, "#3 of bob")], batch_size


def test_rows_reach_each_table_as_one_batch_and_progress_reaches_every_table() -> None:
    def row(table: str, offset: int) -> TableRow:
        return TableRow(table, SourceCoordinates("t", 0, offset, 0), {"at": datetime(2026, 1, 1, tzinfo=UTC)})

    rows = [row("a", 0), row("b", 1), row("a", 2), row("a", 3)]
    flow = Dataflow("tables")
    keyed = for_tables(
        "for_tables",
        op.input("rows", flow, TestingSource(rows, batch_size=10)),
        op.input("progress", flow, TestingSource([SourceProgress("t", 0, 3)])),
        ["a", "b"],
    )
    out: list[tuple[str, SinkItem]] = []
    op.output("out", keyed, TestingSink(out))
    run_main(flow)

    assert sorted((table, type(item).__name__) for table, item in out) == [
        ("a", "SourceProgress"),
        ("a", "TableRows"),
        ("b", "SourceProgress"),
        ("b", "TableRows"),
    ]
    by_table = {
        table: list(sink_entries([item])) for table, item in out if isinstance(item, TableRows) and item.table == table
    }
    assert by_table == {"a": [rows[0], rows[2], rows[3]], "b": [rows[1]]}
