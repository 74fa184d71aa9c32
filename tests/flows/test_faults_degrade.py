"""Faults degrade, never crash: a catalog held busy and a broker frozen for 30 s each, then cleared.

While the fault lasts the flow stays up, retries with backoff, says so in its log and in a
metric; once it clears the flow catches up, and every table holds what an uninterrupted run
holds: 0 lost, 0 duplicated. A fault that retrying cannot fix (a table dropped under the flow)
stops it with one line and a non-zero code, not a native panic. Input keeps arriving during
each fault.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flywheel.config import revised
from flywheel.flows.kafka_source import MAX_POLL_BACKOFF_S
from flywheel.infra.broker import LocalBroker, ensure_topics, free_port, start_broker
from flywheel.infra.catalog import open_catalog, table_identifier
from flywheel.sample import sample_events
from flywheel.schemas.tables import DPO_PAIRS, REJECTIONS
from flywheel.settings import Settings
from tests.conftest import make_settings, wait_for
from tests.flows.test_promises_survive_crashes import accounted_for
from tests.support.flow_helpers import produce_raw, start_flow_process, total_records, write_config
from tests.support.interrupted_runs import assert_matches_uninterrupted_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAULT_S = 30.0
WAVE = 600


def fast(settings: Settings, metrics_port: int) -> Settings:
    return revised(
        settings,
        source={"batch_size": 25},
        recovery={"snapshot_interval_s": 0.2},
        sink={"commit_interval_s": 0.2, "progress_commit_interval_s": 0.2},
        metrics={"enabled": True, "port": metrics_port},
    )


def wave(settings: Settings, seed: int) -> list[tuple[bytes | None, bytes | None]]:
    return [(k.encode(), v) for k, v in sample_events(WAVE, seed=seed)]


def scrape(port: int, name: str) -> float:
    """Sum of a metric's samples on the flow's /metrics (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def samples(port: int, name: str) -> dict[str, float]:
    """A metric's samples on the flow's /metrics: labels -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    lines = [line.rsplit(" ", 1) for line in text.splitlines() if line.startswith(name + "{")]
    return {labels: float(value) for labels, value in lines}


def hold_fault(process: subprocess.Popen[bytes], started: float, log: Path) -> None:
    """Keep the fault for FAULT_S from ``started``, checking all along that the flow stays up."""
    while time.monotonic() - started < FAULT_S:
        assert process.poll() is None, f"the flow exited during the fault: {log.read_text()[-3000:]}"
        time.sleep(0.5)


def finish_and_compare(settings: Settings, process: subprocess.Popen[bytes], total: int, tmp_path: Path) -> None:
    """Wait until every table accounts for all input, stop the flow, compare with an uninterrupted run."""
    wait_for(lambda: accounted_for(settings) == total, timeout_s=180, what="the flow caught up after the fault")
    process.send_signal(signal.SIGINT)
    process.wait(timeout=180)  # a loaded 2-core CI machine needs more than a minute to close
    assert_matches_uninterrupted_run(settings, tmp_path / "reference")


def test_a_catalog_held_busy_for_30s_is_retried_and_nothing_is_lost(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    settings = fast(settings, port)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"
    produce_raw(settings, wave(settings, seed=1))
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) > 0, timeout_s=120, what="first commit")

    # Another client takes the catalog's write lock and keeps it (SQLite: no reader or writer
    # gets in) while more input arrives.
    database = settings.catalog.uri.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, timeout=30, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    try:
        produce_raw(settings, wave(settings, seed=2))
        wait_for(lambda: "iceberg catalog unavailable; retrying" in log.read_text(), timeout_s=FAULT_S, what="retry")
        hold_fault(process, started, log)
        retries = scrape(port, "flywheel_catalog_retries_total")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert retries >= 2
    wait_for(lambda: "iceberg catalog available again" in log.read_text(), timeout_s=60, what="recovery line")
    finish_and_compare(settings, process, 2 * WAVE, tmp_path)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of this test's own: it is frozen, which the session's broker must not be."""
    broker = start_broker(log_file=tmp_path / "broker.log")
    yield broker
    broker.process.send_signal(signal.SIGCONT)
    broker.stop()


def test_a_broker_frozen_for_30s_is_waited_out_and_nothing_is_lost(own_broker: LocalBroker, tmp_path: Path) -> None:
    port = free_port()
    settings = fast(make_settings(own_broker.bootstrap_servers, tmp_path / "flow"), port)
    ensure_topics(settings.kafka, settings.topics)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"
    produce_raw(settings, wave(settings, seed=3))
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: accounted_for(settings) == WAVE, timeout_s=120, what="the first wave committed")

    # Frozen, not stopped: connections stay open and nothing answers (a hung broker or a
    # network partition), while the flow works on a second wave.
    before = total_records(settings, REJECTIONS)
    produce_raw(settings, wave(settings, seed=4))
    wait_for(lambda: total_records(settings, REJECTIONS) > before, what="second wave under way")
    own_broker.process.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        hold_fault(process, started, log)
        outages = scrape(port, "flywheel_broker_outages_total")
    finally:
        own_broker.process.send_signal(signal.SIGCONT)
    assert outages >= 1
    # Said by whichever waited: the source (no fetch answered) or the topics sink (no ack).
    said = log.read_text()
    assert "kafka broker not answering" in said or "waiting for the broker to acknowledge messages" in said
    finish_and_compare(settings, process, 2 * WAVE, tmp_path)


def test_an_idle_flow_polls_less_often_while_the_broker_is_down(own_broker: LocalBroker, tmp_path: Path) -> None:
    """Two workers (where an idle flow used to spin a core): each partition backs off to the cap.

    Bounded from below only: polls that come at least MAX_POLL_BACKOFF_S apart take at least
    that long, however slow the machine. Without the backoff, three polls took 3 x 0.2 s.
    """
    port = free_port()
    settings = fast(make_settings(own_broker.bootstrap_servers, tmp_path / "flow"), port)
    settings = revised(settings, source={"poll_timeout_s": 0.2}, workers_per_process=2)
    ensure_topics(settings.kafka, settings.topics)
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"
    produce_raw(settings, wave(settings, seed=7)[:60])
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: accounted_for(settings) == 60, timeout_s=120, what="the wave committed")

    own_broker.stop()
    backoff = "flywheel_source_poll_backoff_seconds"
    wait_for(
        lambda: (got := samples(port, backoff)) and all(v >= MAX_POLL_BACKOFF_S for v in got.values()),
        timeout_s=60,
        what="every partition backed off to the cap",
    )
    assert len(samples(port, backoff)) == settings.topics.partitions
    before = samples(port, "flywheel_source_polls_total")
    started = time.monotonic()
    wait_for(
        lambda: all(v >= before[k] + 3 for k, v in samples(port, "flywheel_source_polls_total").items()),
        timeout_s=60,
        what="three more polls of each partition",
    )
    assert time.monotonic() - started >= 2 * MAX_POLL_BACKOFF_S * 0.9
    assert process.poll() is None, log.read_text()[-3000:]
    assert "kafka broker down; source polls back off" in log.read_text()


def test_a_fault_retrying_cannot_fix_stops_the_flow_with_one_line(settings: Settings, tmp_path: Path) -> None:
    settings = revised(settings, sink={"commit_interval_s": 0.2, "progress_commit_interval_s": 0.2})
    config = write_config(settings, tmp_path / "flow.yaml")
    log = tmp_path / "flow.log"
    produce_raw(settings, wave(settings, seed=5)[:100])
    process = start_flow_process(config, log_path=log)
    wait_for(lambda: total_records(settings, DPO_PAIRS) > 0, timeout_s=120, what="first commit")

    # The table is dropped under the running flow: no retry brings it back.
    open_catalog(settings.catalog).drop_table(table_identifier(settings.catalog, DPO_PAIRS))
    produce_raw(settings, wave(settings, seed=6))
    assert process.wait(timeout=120) == 2
    errors = [line for line in log.read_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "cannot be retried" in errors[0] and DPO_PAIRS in errors[0], errors
    assert "panic in a destructor" not in log.read_text()
