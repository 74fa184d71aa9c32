"""The dedup journal on disk: written once, read back, removed only after its grace period or, once
no kept snapshot references it, by the sweep at start."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from flywheel.config import RecoverySettings, revised
from flywheel.errors import RecoveryStateDamaged
from flywheel.flows.chain import CurationChain
from flywheel.flows.config import FlowConfig
from flywheel.flows.curation import FLOW_ID, build_flow
from flywheel.flows.runner import sweep_dedup_journal
from flywheel.flows.winner_files import MIN_GRACE_S, WinnerFiles, referenced_by_store
from flywheel.operators.winners import encode_block
from flywheel.sample import sample_events
from flywheel.schemas.records import Position
from flywheel.schemas.tables import contracts
from tests.support.curation_flow import as_source_items

DEDUP_STEPS = f"{FLOW_ID}.dedup."


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_sealed_segment_reads_back_and_outlives_its_retirement_by_the_grace(tmp_path: Path) -> None:
    clock = Clock()
    files = WinnerFiles(tmp_path / "dedup-winners", grace_s=30, clock=clock)
    blocks = [encode_block([("a", 1.0, Position("t", 0, 1))]), encode_block([("b", 2.0, None)])]
    segment = files.seal(blocks)
    assert (segment.newest, segment.count) == (2.0, 2)
    assert files.read(segment) == blocks
    assert files.seal(blocks) == segment  # same bytes, same file: written once
    assert [path.name for path in files.directory.iterdir()] == [segment.name]
    files.retire([segment])
    clock.now = 29
    files.seal([encode_block([("c", 3.0, None)])])
    assert files.read(segment) == blocks  # an older snapshot may still be resumed from
    clock.now = 31
    files.seal([encode_block([("d", 4.0, None)])])
    with pytest.raises(RecoveryStateDamaged, match="missing; restore the recovery directory"):
        files.read(segment)
    assert not list(files.directory.glob("*.partial"))


def test_the_journal_lives_in_the_recovery_directory_with_a_grace_past_backups(tmp_path: Path) -> None:
    files = WinnerFiles.for_recovery(
        RecoverySettings(directory=tmp_path / "recovery", snapshot_interval_s=10, backup_interval_s=300)
    )
    assert files.directory == tmp_path / "recovery" / "dedup-winners"
    assert files._grace_s == 300 + max(MIN_GRACE_S, 600)
    assert not files.directory.exists()  # nothing is written before the first seal


def _aged(path: Path, seconds: float, data: bytes | None = None) -> Path:
    """``path`` (written with ``data`` when given) last modified ``seconds`` ago."""
    if data is not None:
        path.write_bytes(data)
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def test_a_sweep_removes_only_old_files_no_snapshot_references(tmp_path: Path) -> None:
    files = WinnerFiles(tmp_path / "dedup-winners", grace_s=300)
    assert files.sweep(set()) == []  # nothing sealed yet: no directory
    kept = files.seal([encode_block([("a", 1.0, None)])])
    orphan = files.seal([encode_block([("b", 2.0, None)])])
    young = files.seal([encode_block([("c", 3.0, None)])])
    for segment in (kept, orphan):
        _aged(files.directory / segment.name, 301)
    _aged(files.directory / "y.seg.17.partial", 10, b"being written")
    _aged(files.directory / "z.seg.18.partial", 301, b"cut short")
    _aged(files.directory / "notes.txt", 301, b"not the journal's")

    removed = files.sweep({kept.name})

    assert removed == sorted([orphan.name, "z.seg.18.partial"])
    assert files.read(kept) == [encode_block([("a", 1.0, None)])]
    assert files.read(young) == [encode_block([("c", 3.0, None)])]  # may be a seal not snapshotted yet
    left = sorted(path.name for path in files.directory.iterdir())
    assert left == sorted([kept.name, young.name, "y.seg.17.partial", "notes.txt"])


def test_the_recovery_store_names_the_files_its_snapshots_reference(tmp_path: Path) -> None:
    # a name a URI must escape: the store is opened read-only by URI
    recovery = RecoverySettings(directory=tmp_path / "recovery #1?", snapshot_interval_s=1)
    config = revised(FlowConfig(), curation={"dedup": {"seal_at": 2}})
    recovery.directory.mkdir()
    init_db_dir(recovery.directory, 2)
    journal = WinnerFiles.for_recovery(recovery)
    assert referenced_by_store(recovery.directory, DEDUP_STEPS) == set()  # no snapshot yet

    def run() -> None:
        chain = CurationChain.build(config.curation, config.validation, config.topics).journaling(journal)
        values = [value for _, value in sample_events(300, seed=3)]
        flow = build_flow(
            chain,
            TestingSource(as_source_items(values), batch_size=20),
            TestingSink([]),
            TestingSink([]),
            sorted(contracts()),
        )
        run_main(flow, epoch_interval=timedelta(seconds=0), recovery_config=RecoveryConfig(recovery.directory))

    run()
    sealed = {path.name for path in journal.directory.glob("*.seg")}
    referenced = referenced_by_store(recovery.directory, DEDUP_STEPS)
    assert sealed and referenced == sealed

    # A crash's leftover, old enough to go; every referenced file aged too: only the leftover goes.
    _aged(journal.directory / ("0" * 32 + ".seg"), 0, b"left by a crash")
    for path in journal.directory.iterdir():
        _aged(path, 10 * MIN_GRACE_S)
    assert journal.sweep(referenced) == ["0" * 32 + ".seg"]
    run()  # resumes from the store: each file it references is still there


def test_a_store_that_cannot_tell_sweeps_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "recovery"
    directory.mkdir()
    init_db_dir(directory, 2)
    (directory / "part-1.sqlite3").unlink()  # a cluster whose processes keep their own partitions
    assert referenced_by_store(directory, DEDUP_STEPS) is None
    (directory / "part-0.sqlite3").write_bytes(b"not a database")
    assert referenced_by_store(directory, DEDUP_STEPS) is None


def test_only_a_flow_of_one_process_sweeps(tmp_path: Path) -> None:
    # A cluster's process may hold an unused copy of a partition whose used copy (another pod's)
    # references its files: it must keep them.
    config = revised(FlowConfig(), recovery={"directory": tmp_path / "recovery"})
    config.recovery.directory.mkdir()
    init_db_dir(config.recovery.directory, 2)
    journal = WinnerFiles.for_recovery(config.recovery)
    leftover = journal.seal([encode_block([("a", 1.0, None)])])
    _aged(journal.directory / leftover.name, 10 * MIN_GRACE_S)
    assert sweep_dedup_journal(config, journal, processes=2) == []
    assert (journal.directory / leftover.name).exists()
    assert sweep_dedup_journal(config, journal, processes=1) == [leftover.name]
