"""Catalog outage backoff, the broker watch and the wait at start: pure logic, with a fake clock."""

from __future__ import annotations

import sqlite3

import pytest
from pyiceberg.exceptions import NoSuchTableError

from flywheel import metrics
from flywheel.errors import BrokerUnreachable, CatalogUnavailable, ConfigError
from flywheel.infra.retry import BrokerWatch, Outage, is_transient, one_line, wait_at_start


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


class FlakyCheck:
    """Raises ``BrokerUnreachable`` for its first ``failures`` calls, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> list[int]:
        self.calls += 1
        if self.calls <= self.failures:
            raise BrokerUnreachable(f"cannot reach the Kafka broker (call {self.calls})")
        return [0, 1, 2]


def _retries(dependency: str) -> float:
    return metrics.STARTUP_RETRIES.labels(dependency)._value.get()


def test_a_dependency_that_answers_late_is_waited_for_with_backoff() -> None:
    clock, check = FakeClock(), FlakyCheck(failures=4)
    before = _retries("kafka")

    answer = wait_at_start(check, BrokerUnreachable, "kafka", 60.0, "S", clock=clock, sleep=clock.sleep)

    assert answer == [0, 1, 2] and check.calls == 5
    assert clock.slept == [1.0, 2.0, 4.0, 8.0]
    assert _retries("kafka") - before == 4


def test_without_a_wait_the_first_failure_is_the_error_as_before() -> None:
    clock, check = FakeClock(), FlakyCheck(failures=1)

    with pytest.raises(BrokerUnreachable, match=r"^cannot reach the Kafka broker \(call 1\)$"):
        wait_at_start(check, BrokerUnreachable, "kafka", 0.0, "S", clock=clock, sleep=clock.sleep)
    assert clock.slept == []


def test_past_the_wait_the_last_error_says_how_long_it_tried_and_the_setting() -> None:
    clock, check = FakeClock(), FlakyCheck(failures=100)

    with pytest.raises(BrokerUnreachable) as caught:
        wait_at_start(
            check, BrokerUnreachable, "kafka", 10.0, "FLYWHEEL_KAFKA__STARTUP_WAIT_S", clock=clock, sleep=clock.sleep
        )

    assert clock.slept == [1.0, 2.0, 4.0]  # the next try (after 8 s more) would start past 10 s
    assert str(caught.value) == (
        "cannot reach the Kafka broker (call 4) (tried 4 times over 7s at start; "
        "FLYWHEEL_KAFKA__STARTUP_WAIT_S allows 10s)"
    )


def test_an_error_waiting_cannot_clear_is_raised_at_once() -> None:
    clock = FakeClock()

    def missing_topic() -> None:
        raise ConfigError("topic flywheel.interactions.v1 does not exist")

    with pytest.raises(ConfigError):
        wait_at_start(missing_topic, BrokerUnreachable, "kafka", 60.0, "S", clock=clock, sleep=clock.sleep)
    assert clock.slept == []
