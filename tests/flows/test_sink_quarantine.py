"""A quarantine rule that lands while the sink is committing: the rows it holds do not stay.

A catalog applies an append onto the table as it is at commit time, checking only the branch
head (pyiceberg's SQL catalog as its REST one), so a rule committed while the sink wrote its
files does not stop the append; and a quarantine that found nothing to delete moved no head.
The sink reads the rules of the metadata its commit returned and deletes what they hold.
Real SQLite catalog, one sink partition driven as Bytewax drives it; no broker.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.infra.dataset import QUARANTINE_PROPERTY, quarantine
from flywheel.schemas.records import SourceProgress, TableRow
from flywheel.schemas.tables import DPO_PAIRS
from tests.flows.test_sink_teardown import TOPIC, partition, rows, sink_settings, written

pytestmark = pytest.mark.integration


def test_rows_committed_while_a_rule_lands_are_deleted_right_after(tmp_path: Path) -> None:
    settings = sink_settings(tmp_path)
    sink = partition(settings)
    batch = rows(4)
    attacker = batch[1].values["user_id"]
    moment = batch[1].values["occurred_at"]
    sink.write_batch([*batch, SourceProgress(TOPIC, 0, 3)])
    sink.snapshot()  # the epoch closes; the commit comes at close
    committer = sink.committer  # type: ignore[attr-defined]
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    append = committer._append
    quarantined: list[int] = []

    def append_as_the_rule_lands(chunk: list[TableRow], offsets: dict[tuple[str, int], int]) -> int:
        # The rules were read a moment ago (none); the quarantine runs while the files are written.
        removal = quarantine(table, moment - timedelta(minutes=1), moment + timedelta(minutes=1), "attack", attacker)
        quarantined.append(removal.rows)
        return append(chunk, offsets)

    committer._append = append_as_the_rule_lands
    left_out = REGISTRY.get_sample_value("flywheel_iceberg_rows_quarantined_total", {"table": DPO_PAIRS}) or 0.0
    sink.close()

    assert quarantined == [0]  # nothing was in the table yet: the quarantine's delete moved no head
    offsets, committed = written(settings)
    assert offsets == [0, 2, 3] and committed == {(TOPIC, 0): 3}
    assert REGISTRY.get_sample_value("flywheel_iceberg_rows_quarantined_total", {"table": DPO_PAIRS}) == left_out + 1
    table.refresh()
    head = table.current_snapshot()
    assert head is not None and head.summary is not None
    assert "rows committed as they landed" in head.summary.additional_properties[QUARANTINE_PROPERTY]

    # A restart that replays the batch (no recovery state) writes neither the row nor any other twice.
    replay = partition(settings)
    replay.write_batch([*rows(4), SourceProgress(TOPIC, 0, 3)])
    replay.snapshot()
    replay.close()
    assert written(settings) == ([0, 2, 3], {(TOPIC, 0): 3})
