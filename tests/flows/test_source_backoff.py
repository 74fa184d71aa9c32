"""The source partition's idle waits and its backoff while the broker is down (a scripted consumer).

An idle partition must not poll in a tight loop: a flow of one worker waits inside ``consume``;
a flow of several asks Bytewax to call it later (``next_awake``). While the broker is down the
wait doubles up to MAX_POLL_BACKOFF_S; the first message (or a connection seen up) resets it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import KafkaError

from flywheel.config import KafkaSettings, SourceSettings
from flywheel.flows.kafka_source import MAX_POLL_BACKOFF_S, _PartitionReader
from flywheel.schemas.records import SourceMessage

BASE_S = 0.1


class Message:
    def __init__(self, offset: int | None = None, error: KafkaError | None = None) -> None:
        self._offset, self._error = offset, error

    def error(self) -> KafkaError | None:
        return self._error

    def offset(self) -> int | None:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 1, 1_700_000_000_000

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"{}"


class ScriptedConsumer:
    """Answers each consume() with the next scripted list of messages (then nothing); records timeouts."""

    def __init__(self, *answers: list[Message]) -> None:
        self.answers = list(answers)
        self.timeouts: list[float] = []

    def assign(self, _partitions: Any) -> None:
        pass

    def consume(self, _num: int, timeout: float) -> list[Message]:
        self.timeouts.append(timeout)
        return self.answers.pop(0) if self.answers else []

    def close(self) -> None:
        pass


def reader(consumer: ScriptedConsumer, sole_worker: bool) -> _PartitionReader:
    settings = SourceSettings(batch_size=10, poll_timeout_s=BASE_S, heartbeat_s=1000.0)
    return _PartitionReader(
        KafkaSettings(), "interactions", 0, 0, settings, False, sole_worker=sole_worker, consumer=consumer
    )  # type: ignore[arg-type]


def broker_down(part: _PartitionReader) -> None:
    part._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))


def wait_asked(part: _PartitionReader) -> float:
    """Seconds from now to the wake-up the partition asked Bytewax for."""
    awake = part.next_awake()
    assert awake is not None
    return (awake - datetime.now(UTC)).total_seconds()


def test_an_idle_partition_of_several_workers_asks_to_be_called_later_and_does_not_block() -> None:
    consumer = ScriptedConsumer([Message(0), Message(1)])
    part = reader(consumer, sole_worker=False)
    batch = part.next_batch()
    assert [item.coordinates.offset for item in batch if isinstance(item, SourceMessage)] == [0, 1]
    assert part.next_awake() is None  # reading: called again at once

    assert part.next_batch() == []
    assert 0 < wait_asked(part) <= BASE_S
    part.next_batch()
    # Reading blocks to fill its batch; idle polls don't block the worker.
    assert consumer.timeouts == [BASE_S, BASE_S, 0.0]


def test_while_the_broker_is_down_the_wait_doubles_to_the_cap_and_a_message_resets_it() -> None:
    consumer = ScriptedConsumer(*[[] for _ in range(8)], [Message(5)])
    part = reader(consumer, sole_worker=False)
    broker_down(part)
    asked = []
    for _ in range(8):
        assert part.next_batch() == []
        asked.append(wait_asked(part))
    expected = [min(BASE_S * 2**n, MAX_POLL_BACKOFF_S) for n in range(1, 9)]
    assert asked == pytest.approx(expected, abs=0.05)
    assert consumer.timeouts[1:] == [0.0] * 7

    assert part.next_batch()  # the broker is back: the first message resets the backoff
    assert part.next_awake() is None
    part.next_batch()
    assert wait_asked(part) <= BASE_S


def test_a_sole_worker_backs_off_inside_consume() -> None:
    consumer = ScriptedConsumer()
    part = reader(consumer, sole_worker=True)
    broker_down(part)
    for _ in range(7):
        part.next_batch()
        assert part.next_awake() is None
    assert consumer.timeouts == pytest.approx([BASE_S, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


def test_polls_per_outage_are_bounded_by_the_backoff() -> None:
    """A 60 s outage costs a handful of polls, not one per poll_timeout_s (600 at 0.1 s)."""
    consumer = ScriptedConsumer()
    part = reader(consumer, sole_worker=False)
    broker_down(part)
    elapsed = 0.0
    while elapsed < 60.0:
        part.next_batch()
        elapsed += wait_asked(part)
    assert part.polls <= 60.0 / MAX_POLL_BACKOFF_S + 6


def test_error_events_back_off_and_a_connection_seen_up_ends_the_backoff() -> None:
    transport = Message(error=KafkaError(KafkaError._TRANSPORT))
    consumer = ScriptedConsumer([transport], [transport], [transport])
    part = reader(consumer, sole_worker=False)
    waits = []
    for _ in range(3):
        part.next_batch()
        waits.append(wait_asked(part))
    assert waits == pytest.approx([0.2, 0.4, 0.8], abs=0.05)

    stats = {"brokers": {"b1": {"nodeid": 1, "state": "UP", "rx": 7, "waitresp_cnt": 0}}}
    part._on_stats(json.dumps(stats))
    part.next_batch()
    assert wait_asked(part) <= BASE_S
