"""The flow's garbage-collector setting is scoped to the run."""

from __future__ import annotations

import gc

from flywheel.flows.runner import quiet_garbage_collector


def test_quiet_garbage_collector_freezes_raises_and_restores() -> None:
    before = gc.get_threshold()
    with quiet_garbage_collector(young_threshold=12_345):
        assert gc.get_threshold()[0] == 12_345
        assert gc.get_freeze_count() > 0  # start-up objects are out of the collector's scans
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
