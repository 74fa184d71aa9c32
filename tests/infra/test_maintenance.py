"""`flywheel data maintain`: compaction and snapshot expiry on a real SQLite catalog, ledger intact.

The flow writes a few small commits; compaction swaps their files for one, expiry drops old
snapshots but keeps the training tag; then the stream goes on and every event is in the table
exactly once (the offsets ledger survived both).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from pyiceberg.table import Table
from typer.testing import CliRunner, Result

from flywheel.cli import app
from flywheel.config import MaintenanceSettings
from flywheel.flows.runner import run_until_drained
from flywheel.infra.catalog import OFFSETS_PROPERTY, committed_offsets, open_catalog, table_identifier
from flywheel.infra.dataset import quarantine
from flywheel.infra.maintenance import (
    COMPACTED_PROPERTY,
    Replan,
    compact,
    expire_snapshots,
    plan_compaction,
    rewrite,
)
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.flows.test_curation_paths import T0
from tests.infra.test_dataset_versioning import pairs, produce_edits
from tests.support.flow_helpers import write_config

pytestmark = pytest.mark.integration
EAGER = MaintenanceSettings(compact_min_files=2, retain_last=1, snapshot_max_age_h=1)


def _data_files(settings: Settings) -> int:
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    return len(list(table.scan().plan_files()))


def _warehouse_files(settings: Settings) -> set[str]:
    return {str(p) for p in Path(settings.catalog.warehouse).rglob("*") if p.is_file()}


def _referenced(table: Table) -> set[str]:
    """Local paths of every file a kept snapshot reads: manifest lists, manifests, live data files."""
    paths: set[str] = set()
    for snapshot in table.metadata.snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            paths.add(manifest.manifest_path)
            paths.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io))
    return {urlparse(p).path for p in paths}


def test_compact_and_expire_keep_tags_and_exactly_once(settings: Settings) -> None:
    batches = [[f"m{b}-{i}" for i in range(2)] for b in range(3)]
    for number, batch in enumerate(batches):
        produce_edits(settings, batch)
        run_until_drained(settings.flow_config())
        if number == 0:
            table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
            first = table.current_snapshot()
            assert first is not None
            table.manage_snapshots().create_tag(first.snapshot_id, "train-r1").commit()
    expected = sorted(e for batch in batches for e in batch)
    assert pairs(settings) == expected
    files_before = _data_files(settings)
    assert files_before >= 3, "one small file per commit"
    ledger = committed_offsets(table.refresh())

    done = compact(table, EAGER)

    assert (done.files_before, done.files_after, done.rows) == (files_before, 1, len(expected))
    assert _data_files(settings) == 1 and pairs(settings) == expected
    head = table.current_snapshot()
    assert head is not None and head.snapshot_id == done.snapshot_id
    assert head.summary is not None and head.summary.operation.value == "overwrite"
    assert head.summary.additional_properties[COMPACTED_PROPERTY] == str(files_before)
    assert OFFSETS_PROPERTY in head.summary.additional_properties, "the ledger is carried forward"
    assert committed_offsets(table) == ledger

    snapshots_before = len(table.metadata.snapshots)
    on_disk = _warehouse_files(settings)
    expiry = expire_snapshots(table, EAGER, now=datetime.now(UTC) + timedelta(days=30))

    assert expiry.expired > 0 and expiry.kept == snapshots_before - expiry.expired
    tagged = table.snapshot_by_name("train-r1")
    assert tagged is not None and tagged.snapshot_id == first.snapshot_id, "training tags are never expired"
    assert committed_offsets(table) == ledger
    assert sorted(r["event_id"] for r in table.scan(snapshot_id=tagged.snapshot_id).to_arrow().to_pylist()) == sorted(
        batches[0]
    )
    # The small files of batches 1 and 2 (and the expired snapshots' manifests) are gone from
    # the warehouse; every kept snapshot still reads in full.
    assert expiry.files_deleted >= 2 + expiry.expired
    assert len(on_disk - _warehouse_files(settings)) == expiry.files_deleted
    assert all(Path(p).exists() for p in _referenced(table))
    for snapshot in table.metadata.snapshots:
        table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()

    # The stream goes on: nothing is re-ingested, new events land once.
    produce_edits(settings, ["after-1"])
    run_until_drained(settings.flow_config())
    assert pairs(settings) == sorted([*expected, "after-1"])


def test_nothing_to_do_leaves_the_table_alone(settings: Settings) -> None:
    produce_edits(settings, ["solo-1"])
    run_until_drained(settings.flow_config())
    table = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    head = table.current_snapshot()
    done = compact(table, MaintenanceSettings())
    assert done.snapshot_id is None and table.current_snapshot() == head
    assert expire_snapshots(table, MaintenanceSettings()).expired == 0


def _commit_each(settings: Settings, event_ids: list[str]) -> None:
    """One flow run per event: one small file per commit."""
    for event_id in event_ids:
        produce_edits(settings, [event_id])
        run_until_drained(settings.flow_config())


def _maintain(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Result:
    """``flywheel data maintain`` on ``settings``, compacting from 2 small files."""
    config = write_config(settings, settings.state_dir / "maintain.yaml")
    monkeypatch.setenv("FLYWHEEL_CONFIG_FILE", str(config))
    monkeypatch.setenv("FLYWHEEL_MAINTENANCE__COMPACT_MIN_FILES", "2")
    return CliRunner().invoke(app, ["data", "maintain"])


def test_cli_maintains_every_table(settings: Settings, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    _commit_each(settings, ["c-1", "c-2"])
    result = _maintain(settings, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "dpo_pairs: compacted 2 files into 1 (2 rows)" in result.output
    assert "rejections:" in result.output and "expired 0 snapshots" in result.output
    assert _data_files(settings) == 1 and pairs(settings) == ["c-1", "c-2"]


def test_cli_goes_on_past_a_table_it_cannot_maintain(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _commit_each(settings, ["d-1", "d-2"])
    # feedback_signals' metadata file is gone (a bucket lifecycle rule, a bad restore): loading it fails.
    broken = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, "feedback_signals"))
    Path(urlparse(broken.metadata_location).path).unlink()
    result = _maintain(settings, monkeypatch)
    assert result.exit_code == 2, result.output
    assert "feedback_signals: cannot be loaded" in result.output
    assert "maintenance failed for: feedback_signals (load)" in result.output
    # The tables before and after it in order were still maintained.
    assert "dpo_pairs: compacted 2 files into 1 (2 rows)" in result.output
    assert "rejections: expired" in result.output
    assert _data_files(settings) == 1 and pairs(settings) == ["d-1", "d-2"]


def test_a_compaction_the_flow_commits_under_is_committed_again_without_rewriting(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    _commit_each(settings, ["o-1", "o-2"])
    stale = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    groups = plan_compaction(stale, EAGER)
    assert sum(len(group) for group in groups) == 2
    # The flow commits after the compaction planned: its first commit conflicts.
    produce_edits(settings, ["o-3"])
    run_until_drained(settings.flow_config())
    flow_ledger = committed_offsets(open_catalog(settings.catalog).load_table(stale.name()))

    with caplog.at_level(logging.INFO, logger="flywheel.infra.maintenance"):
        done = rewrite(stale, groups, EAGER)

    assert [r.message for r in caplog.records].count("compaction conflicted; committing on the new head") == 1
    # Committed on the flow's snapshot with the files written once: o-3's file stays beside the
    # compacted one, and the head carries the flow's offsets, not the ones the plan saw.
    assert (done.files_before, done.files_after) == (2, 1)
    assert pairs(settings) == ["o-1", "o-2", "o-3"] and _data_files(settings) == 2
    assert committed_offsets(stale) == flow_ledger
    assert {p for p in _warehouse_files(settings) if p.endswith(".parquet")} <= _referenced(stale)


def test_a_compaction_whose_files_were_rewritten_meanwhile_leaves_nothing_behind(settings: Settings) -> None:
    produce_edits(settings, ["q-1"], user_id="user-bad")
    produce_edits(settings, ["q-2"])
    run_until_drained(settings.flow_config())
    produce_edits(settings, ["q-3"])
    run_until_drained(settings.flow_config())
    stale = open_catalog(settings.catalog).load_table(table_identifier(settings.catalog, DPO_PAIRS))
    groups = plan_compaction(stale, EAGER)
    # A quarantine rewrites a file the compaction would replace.
    fresh = open_catalog(settings.catalog).load_table(stale.name())
    assert quarantine(fresh, T0 - timedelta(days=1), T0 + timedelta(days=1), "test", user_id="user-bad").rows == 1
    parquet_before = {p for p in _warehouse_files(settings) if p.endswith(".parquet")}

    with pytest.raises(Replan, match="no longer live"):
        rewrite(stale, groups, EAGER)

    # The file it wrote is gone again; the quarantined row does not come back through it.
    assert {p for p in _warehouse_files(settings) if p.endswith(".parquet")} == parquet_before
    assert pairs(settings) == ["q-2", "q-3"]
    done = compact(stale, EAGER)  # planned again on the new head, it goes through
    assert done.files_after == 1 and pairs(settings) == ["q-2", "q-3"]
