"""kill -9 the flow at different points, restart it, and check every table holds each row once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from flywheel.sample import sample_events
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.support.flow_helpers import produce_raw, start_flow_process, total_records, write_config
from tests.support.interrupted_runs import assert_drained, assert_matches_uninterrupted_run, frequent_commits

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAVE = 3000


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_sigkill_three_times_loses_and_duplicates_nothing(settings: Settings, tmp_path: Path) -> None:
    # Small batches and frequent epochs make commits happen all through the run.
    settings = frequent_commits(settings)
    produce_raw(settings, [(k.encode(), v) for k, v in sample_events(WAVE, seed=1)])
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    # 1: killed as soon as the first pairs are committed.
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) > 0, what="first commit")
    kill(process)
    first = total_records(settings, DPO_PAIRS)

    # 2: killed after more progress, with a second wave of input arriving meanwhile.
    process = start_flow_process(config, log_path=log)
    produce_raw(settings, [(k.encode(), v) for k, v in sample_events(WAVE, seed=2)])
    wait_for(lambda: total_records(settings, DPO_PAIRS) > first, what="progress after restart")
    kill(process)
    second = total_records(settings, DPO_PAIRS)

    # 3: killed again after further progress.
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) > second, what="progress after second restart")
    kill(process)

    # Every journal file made old enough to be swept at the next start, and a crash's leftover
    # planted: the start removes what no kept snapshot references, and must keep the rest.
    journal = Path(settings.recovery.directory) / "dedup-winners"
    leftover = journal / ("0" * 32 + ".seg")
    leftover.write_bytes(b"sealed in an epoch that never completed")
    old = time.time() - 3600
    for path in journal.iterdir():
        os.utime(path, (old, old))

    # Final restart drains everything and exits on its own.
    assert_drained([start_flow_process(config, "--until-drained", log_path=log)], log)
    assert not leftover.exists()
    assert "no recovery snapshot references" in log.read_text()

    # The restarts read dedup winners back from the journal's files, not only from snapshots.
    assert list(journal.glob("*.seg"))

    # Reference: the same input processed once, without crashes, into a fresh catalog.
    assert_matches_uninterrupted_run(settings, tmp_path / "reference")
