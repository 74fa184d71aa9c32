"""The dedup journal on disk: written once, read back, removed only after its grace period."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.config import RecoverySettings
from flywheel.errors import RecoveryStateDamaged
from flywheel.flows.winner_files import MIN_GRACE_S, WinnerFiles
from flywheel.operators.winners import encode_block
from flywheel.schemas.records import Position


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
