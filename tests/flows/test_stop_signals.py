"""SIGINT and SIGTERM stop a flow of one worker cleanly: exit 0, one line saying so, nothing lost.

Before, one worker ran on the main thread: Ctrl-C landing inside ``consume`` (an idle flow is
there nearly all the time) was an error in the source step (a Rust panic, exit 1), and SIGTERM
(how Kubernetes stops a pod) ended Python at once, before the sinks' last commit.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from flywheel.infra.broker import ensure_topics, start_broker
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.support.flow_helpers import start_flow_process, write_config
from tests.support.interrupted_runs import (
    assert_drained,
    assert_matches_uninterrupted_run,
    frequent_commits,
    signal_after_progress,
    stop_during_waves,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def started(log: Path) -> bool:
    return log.read_text().count("source partition start") >= 3


def assert_stopped_cleanly(process: subprocess.Popen[bytes], log: Path, name: str) -> None:
    assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "flow stopped by a signal" in text and f"stopped by {name}" in text, text[-3000:]
    assert "panicked" not in text and "Traceback" not in text, text[-3000:]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_an_idle_flow_stops_on_a_signal_with_exit_0(settings: Settings, tmp_path: Path, signum: int) -> None:
    log = tmp_path / "flow.log"
    process = start_flow_process(write_config(settings, tmp_path / "flow.yaml"), log_path=log)
    wait_for(lambda: started(log), timeout_s=60, what="source partitions started")
    process.send_signal(signum)
    assert_stopped_cleanly(process, log, signal.Signals(signum).name)


def test_ctrl_c_while_the_broker_is_down_stops_the_flow_cleanly(tmp_path: Path) -> None:
    broker = start_broker(log_file=tmp_path / "broker.log")
    try:
        own = make_settings(broker.bootstrap_servers, tmp_path)
        ensure_topics(own.kafka, own.topics)
        log = tmp_path / "flow.log"
        process = start_flow_process(write_config(own, tmp_path / "flow.yaml"), log_path=log)
        wait_for(lambda: started(log), timeout_s=60, what="source partitions started")
    finally:
        broker.stop()
    wait_for(lambda: "source polls back off" in log.read_text(), timeout_s=60, what="the source noticed")
    process.send_signal(signal.SIGINT)
    assert_stopped_cleanly(process, log, "SIGINT")


def test_sigterm_and_sigint_of_a_busy_one_worker_flow_lose_and_duplicate_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    settings = frequent_commits(settings)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"

    def interrupt(index: int, signum: int, processes: list[subprocess.Popen[bytes]], before: int) -> None:
        signal_after_progress(settings, processes, signum, before + 40, 60.0, f"progress before stop {index}")
        assert processes[0].returncode == 0, log.read_text()[-3000:]

    stops = [signal.SIGTERM, signal.SIGINT, signal.SIGTERM]
    stop_during_waves(settings, stops, 1000, lambda _: [start_flow_process(config, log_path=log)], interrupt)
    assert log.read_text().count("flow stopped by a signal") == len(stops)
    assert_drained([start_flow_process(config, "--until-drained", log_path=log)], log)
    assert_matches_uninterrupted_run(settings, tmp_path / "reference")
