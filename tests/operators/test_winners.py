"""The dedup window's journal: snapshots stay small as the window fills, and restore it exactly."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

from flywheel.operators.dedup import WindowedDedup
from flywheel.operators.winners import MemoryJournal, decode_block, encode_block
from flywheel.schemas.records import Position

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def remembered(window: WindowedDedup) -> dict[str, tuple[float, Position | None]]:
    """What a window remembers: every key's first event time and source position."""
    return {key: (ts, window._first_position.get(key)) for key, ts in window._first_seen.items()}


def fill(window: WindowedDedup, start: int, count: int, spacing_s: float) -> None:
    for index in range(start, start + count):
        window.observe(f"event-{index:06d}", T0 + timedelta(seconds=index * spacing_s), Position("t", index % 3, index))


def test_blocks_round_trip_keys_times_and_positions() -> None:
    winners = [("a", 1.5, Position("t", 0, 7)), ("b", 2.0, None), ("c", 3.25, Position("other", 4, 9))]
    block = encode_block(winners)
    assert decode_block(block) == winners
    assert (block.newest, block.count) == (3.25, 3)


def test_snapshots_stay_small_while_the_window_fills_and_restore_it_exactly() -> None:
    journal = MemoryJournal()
    window = WindowedDedup(timedelta(hours=24))
    sizes = []
    for epoch in range(40):
        fill(window, epoch * 500, 500, spacing_s=1.0)  # 20,000 keys, all inside the window
        snapshot = window.snapshot(journal, seal_at=2000)
        sizes.append(len(pickle.dumps(snapshot)))
    assert len(window) == 20_000
    # Bounded by the unsealed winners (< 2000), not by the 20,000 remembered: a whole-window
    # pickle is ~30x the largest of these.
    assert max(sizes) < 2000 * 40 < len(pickle.dumps(window))
    assert sizes[-1] < 4 * sizes[1]
    restored = WindowedDedup.restore(pickle.loads(pickle.dumps(snapshot)), journal)
    assert remembered(restored) == remembered(window)
    # ... and decides alike: a repeat is a duplicate, the same message again is not.
    again = T0 + timedelta(seconds=19_999)
    assert restored.observe("event-019999", again, Position("t", 0, 1)) is not None
    assert restored.observe("event-019999", again, Position("t", 19_999 % 3, 19_999)) is None


def test_segments_that_left_the_window_are_retired_and_the_rest_restores() -> None:
    journal = MemoryJournal()
    window = WindowedDedup(timedelta(hours=1))
    for epoch in range(30):  # 3 hours of event time, 6 minutes an epoch
        fill(window, epoch * 360, 360, spacing_s=1.0)
        snapshot = window.snapshot(journal, seal_at=720)
    assert journal.retired, "no segment left the window"
    assert all(segment.newest >= window._floor() for segment in snapshot.sealed)
    # One hour is 3,600 keys: five segments of 720, and one the watermark is inside of.
    assert len(journal.segments) <= 6 < 30 * 360 // 720
    restored = WindowedDedup.restore(snapshot, journal)
    assert remembered(restored) == remembered(window)
    assert len(restored) == len(window) <= 3601


def test_a_window_pickled_whole_by_an_older_release_journals_what_it_remembers() -> None:
    window = WindowedDedup(timedelta(hours=24))
    fill(window, 0, 300, spacing_s=1.0)
    state = dict(window.__dict__)
    for name in ("_fresh", "_blocks", "_sealed"):
        del state[name]
    older = WindowedDedup.__new__(WindowedDedup)
    older.__setstate__(state)
    journal = MemoryJournal()
    restored = WindowedDedup.restore(older.snapshot(journal, seal_at=100), journal)
    assert remembered(restored) == remembered(window)


def test_sealed_segments_need_their_journal() -> None:
    journal = MemoryJournal()
    window = WindowedDedup(timedelta(hours=1))
    fill(window, 0, 10, spacing_s=1.0)
    snapshot = window.snapshot(journal, seal_at=5)
    assert snapshot.sealed and not snapshot.blocks
    with pytest.raises(ValueError, match="no journal"):
        WindowedDedup.restore(snapshot, None)
    journal.segments.clear()
    with pytest.raises(LookupError, match="segment-0"):
        WindowedDedup.restore(snapshot, journal)
