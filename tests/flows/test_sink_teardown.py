"""The Iceberg sink closed mid-epoch (SIGINT, an exception) commits only what closed epochs delivered.

Drives one sink partition the way Bytewax does (``write_batch``, ``snapshot`` at each epoch
end, ``close`` at teardown) against a real SQLite catalog; no broker.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from bytewax.outputs import StatefulSinkPartition
from pyiceberg.exceptions import ForbiddenError

from flywheel.config import revised
from flywheel.flows.iceberg_sink import IcebergSink, TableCommitter
from flywheel.flows.sink_state import CommitterState, PackedState, SinkState
from flywheel.infra.catalog import Offsets, committed_offsets, ensure_tables, open_catalog, table_identifier
from flywheel.schemas.records import SinkItem, SourceCoordinates, SourceProgress, TableRow, TableRows
from flywheel.schemas.tables import DPO_PAIRS, contracts
from flywheel.settings import Settings
from tests.conftest import make_settings
from tests.support.synthetic import pair_rows

pytestmark = pytest.mark.integration

TOPIC = "interactions"
LINEAGE = ("source_topic", "source_partition", "source_offset")


def rows(count: int) -> list[TableRow]:
    """Pair rows at offsets 0..count-1 of partition 0."""
    found = []
    for offset, values in enumerate(pair_rows(count).to_pylist()):
        coordinates = SourceCoordinates(TOPIC, 0, offset, 0)
        found.append(TableRow(DPO_PAIRS, coordinates, {k: v for k, v in values.items() if k not in LINEAGE}))
    return found


def sink_settings(tmp_path: Path) -> Settings:
    # Commits only at close: the interval is never reached within the test.
    return revised(make_settings("127.0.0.1:9", tmp_path), sink={"commit_interval_s": 3600.0})


def written(settings: Settings) -> tuple[list[int], dict[tuple[str, int], int]]:
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    offsets = sorted(table.scan(selected_fields=("source_offset",)).to_arrow().column("source_offset").to_pylist())
    return offsets, committed_offsets(table)


def partition(
    settings: Settings, state: SinkState | None = None, on_commit: Callable[[str, Offsets], None] | None = None
) -> StatefulSinkPartition[SinkItem, SinkState]:
    catalog = open_catalog(settings.catalog)
    ensure_tables(catalog, settings.catalog)
    sink = IcebergSink(
        lambda name: catalog.load_table(table_identifier(settings.catalog, name)),
        contracts(),
        "main",
        settings.flow_config().sink,
        on_commit=on_commit,
    )
    return sink.build_part("write_iceberg", DPO_PAIRS, state)


def test_close_mid_epoch_commits_closed_epochs_only(tmp_path: Path) -> None:
    settings = sink_settings(tmp_path)
    part = partition(settings)
    batch = rows(10)
    first: list[SinkItem] = [*batch[:6], SourceProgress(TOPIC, 0, 7)]
    part.write_batch(first)
    part.snapshot()  # epoch 1 closed: all of it arrived
    rest: list[SinkItem] = [*batch[6:], SourceProgress(TOPIC, 0, 12)]
    part.write_batch(rest)
    part.close()  # torn down during epoch 2
    assert written(settings) == ([0, 1, 2, 3, 4, 5], {(TOPIC, 0): 7})


def test_close_after_the_last_epoch_commits_everything(tmp_path: Path) -> None:
    settings = sink_settings(tmp_path)
    part = partition(settings)
    items: list[SinkItem] = [*rows(10), SourceProgress(TOPIC, 0, 12)]
    part.write_batch(items)
    part.snapshot()  # end of input: Bytewax closes the last epoch first
    part.close()
    assert written(settings) == (list(range(10)), {(TOPIC, 0): 12})


def test_rows_above_the_progress_wait_until_a_marker_covers_them(tmp_path: Path) -> None:
    # The held dedup releases by event-time slot: rows 6..9 can reach the sink while rows
    # 0..5 are still held upstream, and progress (released behind held rows) is only at 3.
    settings = sink_settings(tmp_path)
    part = partition(settings)
    batch = rows(10)
    part.write_batch([*batch[6:], SourceProgress(TOPIC, 0, 3)])
    state = copy.deepcopy(part.snapshot())
    part.close()
    # Committing rows 6..9 would record offset 9 and mark the held rows 0..5 as decided.
    assert written(settings) == ([], {(TOPIC, 0): 3})

    # The restart restores the waiting rows; the held rows arrive with the marker covering all.
    catalog = open_catalog(settings.catalog)
    sink = IcebergSink(
        lambda name: catalog.load_table(table_identifier(settings.catalog, name)),
        contracts(),
        "main",
        settings.flow_config().sink,
    )
    resumed = sink.build_part("write_iceberg", DPO_PAIRS, state)
    resumed.write_batch([*batch[:6], SourceProgress(TOPIC, 0, 9)])
    resumed.snapshot()
    resumed.close()
    assert written(settings) == (list(range(10)), {(TOPIC, 0): 9})


def test_a_snapshot_is_not_changed_by_the_next_epoch(tmp_path: Path) -> None:
    # Bytewax may serialise a snapshot after the next epoch started writing to the partition.
    part = partition(sink_settings(tmp_path))
    batch = rows(10)
    part.write_batch([*batch[6:], SourceProgress(TOPIC, 0, 3)])
    state = part.snapshot()
    part.write_batch(batch[:6])
    assert isinstance(state, PackedState)
    assert [row.coordinates.offset for row in state.rows()] == [6, 7, 8, 9]


def test_a_buffered_row_is_pickled_once_for_every_snapshot_it_waits_through(tmp_path: Path) -> None:
    # One snapshot a second, a commit every few: re-pickling the buffer each second would cost
    # every waiting row several encodings. A row snapshotted before keeps its encoding.
    part = partition(sink_settings(tmp_path))
    batch = rows(10)
    part.write_batch([*batch[6:], SourceProgress(TOPIC, 0, 3)])
    first = part.snapshot()
    part.write_batch(batch[:3])
    second = part.snapshot()
    assert isinstance(first, PackedState) and isinstance(second, PackedState)
    assert all(again is before for again, before in zip(second.packed, first.packed, strict=False))
    assert [row.coordinates.offset for row in second.rows()] == [6, 7, 8, 9, 0, 1, 2]
    assert second.rows() == [*batch[6:], *batch[:3]]


def test_after_a_commit_the_snapshot_holds_exactly_the_waiting_rows(tmp_path: Path) -> None:
    # A commit takes the covered rows out of the middle of the buffer: the encodings kept must
    # still be those of the rows that wait, in order, or a restart would restore the wrong rows.
    settings = revised(make_settings("127.0.0.1:9", tmp_path), sink={"commit_interval_s": 0.001})
    part = partition(settings)
    batch = rows(10)
    part.write_batch([batch[7], batch[2], batch[8]])
    part.snapshot()  # packed, nothing covered yet
    part.write_batch([batch[1], batch[9], SourceProgress(TOPIC, 0, 4)])
    state = part.snapshot()  # commits rows 1 and 2 (covered by offset 4); 7, 8, 9 wait
    assert written(settings) == ([1, 2], {(TOPIC, 0): 4})
    assert isinstance(state, PackedState)
    assert state.rows() == [batch[7], batch[8], batch[9]]

    # The restart restores those rows from the packed snapshot and commits them once covered.
    resumed = partition(settings, copy.deepcopy(state))
    resumed.write_batch([*batch[3:7], SourceProgress(TOPIC, 0, 9)])
    resumed.snapshot()
    resumed.close()
    assert written(settings) == (list(range(1, 10)), {(TOPIC, 0): 9})


def test_a_snapshot_of_an_older_release_still_resumes(tmp_path: Path) -> None:
    # Recovery stores written before packed snapshots hold the rows themselves.
    settings = sink_settings(tmp_path)
    batch = rows(4)
    resumed = partition(settings, CommitterState(rows=batch[2:], progress={}))
    resumed.write_batch([*batch[:2], SourceProgress(TOPIC, 0, 3)])
    resumed.snapshot()
    resumed.close()
    assert written(settings) == ([0, 1, 2, 3], {(TOPIC, 0): 3})


def test_rows_batched_per_table_are_written_like_single_rows(tmp_path: Path) -> None:
    # The flow hands the sink one TableRows per table per batch (one pickle where it crosses processes).
    settings = sink_settings(tmp_path)
    part = partition(settings)
    batch = rows(10)
    items: list[SinkItem] = [TableRows(DPO_PAIRS, batch[:4]), batch[4], TableRows(DPO_PAIRS, batch[5:])]
    part.write_batch([*items, SourceProgress(TOPIC, 0, 12)])
    part.snapshot()
    part.close()
    assert written(settings) == (list(range(10)), {(TOPIC, 0): 12})


def test_a_failing_lag_report_after_a_commit_neither_fails_the_sink_nor_repeats_the_rows(tmp_path: Path) -> None:
    # The consumer-group report runs after the Iceberg commit landed; a catalog that refuses it
    # (403 reading another table's offsets) is lag tooling's fault, logged, not the sink's.
    settings = revised(make_settings("127.0.0.1:9", tmp_path), sink={"commit_interval_s": 1e-9})
    reported: list[str] = []

    def refuse(table: str, offsets: Offsets) -> None:
        reported.append(table)
        raise ForbiddenError("403 from the REST catalog")

    part = partition(settings, on_commit=refuse)
    part.write_batch([*rows(5), SourceProgress(TOPIC, 0, 4)])
    part.snapshot()  # epoch end: the commit lands, the report raises
    part.close()
    assert reported == [DPO_PAIRS]
    assert written(settings) == ([0, 1, 2, 3, 4], {(TOPIC, 0): 4})


def test_rows_a_landed_commit_left_buffered_are_not_appended_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever raises after an append landed (here: the step after it), the epoch fails and
    # Bytewax closes the sink, which commits what closed epochs delivered: not those rows again.
    settings = revised(make_settings("127.0.0.1:9", tmp_path), sink={"commit_interval_s": 1e-9})
    part = partition(settings)

    def broken(self: object, landed: list[TableRow], offsets: Offsets) -> None:
        raise RuntimeError("after the commit")

    monkeypatch.setattr(TableCommitter, "_after_commit", broken)
    part.write_batch([*rows(5), SourceProgress(TOPIC, 0, 4)])
    with pytest.raises(RuntimeError, match="after the commit"):
        part.snapshot()
    part.close()
    assert written(settings) == ([0, 1, 2, 3, 4], {(TOPIC, 0): 4})
