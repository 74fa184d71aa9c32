"""Catalog outage backoff and the broker watch: pure logic, with a fake clock."""

from __future__ import annotations

import sqlite3

import pytest
from pyiceberg.exceptions import NoSuchTableError

from flywheel.errors import CatalogUnavailable
from flywheel.infra.retry import BrokerWatch, Outage, is_transient, one_line


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_outages_are_transient_and_other_errors_are_not() -> None:
    locked = sqlite3.OperationalError("database is locked")
    try:
        raise RuntimeError("commit failed") from locked
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    assert is_transient(ConnectionRefusedError()) and is_transient(TimeoutError())
    assert not is_transient(NoSuchTableError("flywheel.dpo_pairs")) and not is_transient(ValueError("schema"))
    assert one_line(locked) == "OperationalError: database is locked"


def test_backoff_doubles_to_its_ceiling_and_gives_up_with_one_line_after_the_limit() -> None:
    clock = FakeClock()
    outage = Outage("dpo_pairs", "commit", limit_s=30.0, max_backoff_s=4.0, clock=clock, sleep=clock.sleep)
    with pytest.raises(CatalogUnavailable) as failure:
        for _ in range(100):
            outage.wait(sqlite3.OperationalError("database is locked"))
    assert clock.slept[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert sum(clock.slept) == pytest.approx(30.0)
    message = str(failure.value)
    assert "\n" not in message and "dpo_pairs" in message and "FLYWHEEL_SINK__CATALOG_OUTAGE_S" in message


def stats(responses: int, waiting: int) -> dict[str, object]:
    return {
        "brokers": {
            "127.0.0.1:9092/1": {"nodeid": 1, "rx": responses, "waitresp_cnt": waiting},
            "GroupCoordinator": {"nodeid": -1, "rx": 0, "waitresp_cnt": 5},
        }
    }


def test_the_broker_watch_flags_unanswered_requests_once_and_their_end() -> None:
    clock = FakeClock()
    watch = BrokerWatch("interactions", stall_s=10.0, clock=clock)
    for responses in (10, 20, 30):  # a healthy broker answers fetches even with nothing to read
        watch.observe(stats(responses, 1))
        clock.now += 5
    assert not watch.stalled
    for _ in range(4):  # requests wait, nothing comes back
        watch.observe(stats(30, 2))
        clock.now += 5
    assert watch.stalled
    watch.observe(stats(41, 1))
    assert not watch.stalled
    for _ in range(4):  # a consumer that stopped fetching (queue full) waits for nothing: no outage
        watch.observe(stats(41, 0))
        clock.now += 5
    assert not watch.stalled
