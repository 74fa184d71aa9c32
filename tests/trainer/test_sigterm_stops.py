"""SIGTERM (how Kubernetes stops a pod) ends the tracker loop cleanly instead of killing Python at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from flywheel.infra.broker import free_port
from flywheel.infra.catalog import ensure_tables, open_catalog
from flywheel.settings import Settings
from tests.conftest import wait_for


def test_the_tracker_loop_stops_on_sigterm_with_exit_code_0(settings: Settings, tmp_path: Path) -> None:
    ensure_tables(open_catalog(settings.catalog), settings.catalog)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")},
        "FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "FLYWHEEL_TOPICS__TRAINING_TRIGGERS": settings.topics.training_triggers,
        "FLYWHEEL_CATALOG__URI": settings.catalog.uri,
        "FLYWHEEL_CATALOG__WAREHOUSE": settings.catalog.warehouse,
        "FLYWHEEL_METRICS__TRACKER_PORT": str(port),
        "FLYWHEEL_TRAINER__TRACK_INTERVAL_S": "3600",
        "FLYWHEEL_STATE_DIR": str(tmp_path),
    }
    log = tmp_path / "tracker.log"
    with log.open("wb") as output:
        command = [sys.executable, "-m", "flywheel", "trainer", "track", "--loop"]
        tracker = subprocess.Popen(command, env=environment, stdout=output, stderr=output)
    try:
        wait_for(lambda: _answers(port), 60, what="the tracker's metrics (served after its SIGTERM handler is set)")
        assert tracker.poll() is None, log.read_text()
        tracker.send_signal(signal.SIGTERM)
        # Before: killed by the signal (-15, no line); the hour-long wait between checks is cut short.
        assert tracker.wait(timeout=30) == 0, log.read_text()
        assert "SIGTERM: stopping after the current step" in log.read_text()
        assert "pairs since last trigger: 0/" in log.read_text()
    finally:
        if tracker.poll() is None:
            tracker.kill()
            tracker.wait()


def _answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
