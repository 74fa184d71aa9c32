"""Two flow processes (``-i/-a``) of two workers each, stopped by SIGINT and SIGKILL: nothing lost or twice.

Both processes run on this machine and share the recovery store. Each stop lands while a fresh
wave of input is being processed; a last restart drains the topic, and every table is compared
with an uninterrupted single-process run.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from flywheel.infra.broker import free_port
from flywheel.settings import Settings
from tests.conftest import wait_for
from tests.support.flow_helpers import start_flow_process, write_config
from tests.support.interrupted_runs import (
    assert_drained,
    assert_matches_uninterrupted_run,
    frequent_commits,
    signal_after_progress,
    stop_during_waves,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAVE = 1000
STOPS = [signal.SIGINT, signal.SIGKILL, signal.SIGINT, signal.SIGKILL]


def start_cluster(config: Path, settings: Settings, log: Path, *args: str) -> list[subprocess.Popen[bytes]]:
    """Two flow processes forming one Bytewax cluster; the first creates the recovery store."""
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(2))
    first = start_flow_process(config, "-i", "0", "-a", addresses, *args, log_path=log)
    directory = Path(settings.recovery.directory)
    wait_for(lambda: directory.is_dir() and any(directory.iterdir()), timeout_s=60, what="recovery store")
    return [first, start_flow_process(config, "-i", "1", "-a", addresses, *args, log_path=log)]


def test_two_processes_of_two_workers_stopped_by_sigint_and_sigkill_lose_and_duplicate_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    settings = frequent_commits(settings, workers_per_process=2)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    def interrupt(index: int, stop: signal.Signals, processes: list[subprocess.Popen[bytes]], before: int) -> None:
        signal_after_progress(settings, processes, stop, before + 20, 120.0, f"progress {index}")

    stop_during_waves(settings, STOPS, WAVE, lambda _stop: start_cluster(config, settings, log), interrupt)

    assert_drained(start_cluster(config, settings, log, "--until-drained"), log)
    assert_matches_uninterrupted_run(settings, tmp_path / "reference")
