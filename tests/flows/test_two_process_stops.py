"""Two flow processes (``-i/-a``) of two workers each, stopped by SIGINT and SIGKILL: nothing lost or twice.

Both processes run on this machine and share the recovery store. Each stop lands while a fresh
wave of input is being processed; a last restart drains the topic, and every table is compared
with an uninterrupted single-process run.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.runner import run_until_drained
from flywheel.infra.broker import free_port
from flywheel.sample import sample_events
from flywheel.schemas.tables import DPO_PAIRS
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.flows.test_graceful_stops import assert_same_rows
from tests.support.flow_helpers import produce_raw, start_flow_process, total_records, write_config

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
    settings = revised(
        settings,
        workers_per_process=2,
        source={"batch_size": 25},
        recovery={"snapshot_interval_s": 0.1},
        sink={"commit_interval_s": 0.1, "progress_commit_interval_s": 0.1},
    )
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    for index, stop in enumerate(STOPS):
        wave = [(k.encode(), v) for k, v in sample_events(WAVE, seed=index + 1)]
        before = total_records(settings, DPO_PAIRS)
        processes = start_cluster(config, settings, log)
        producer = threading.Thread(target=produce_raw, args=(settings, wave))
        producer.start()
        grown = before + 20
        wait_for(lambda: total_records(settings, DPO_PAIRS) >= grown, timeout_s=120, what=f"progress {index}")  # noqa: B023
        for process in processes:
            process.send_signal(stop)
        for process in processes:
            process.wait(timeout=120)
        producer.join()

    processes = start_cluster(config, settings, log, "--until-drained")
    for process in processes:
        assert process.wait(timeout=300) == 0, log.read_text()[-3000:]

    reference = make_settings(settings.kafka.bootstrap_servers, tmp_path / "reference", topics=settings.topics)
    run_until_drained(reference.flow_config())
    assert_same_rows(settings, reference)
