"""Reading Kafka topics: every message to the end, the ends themselves, start positions by time.

The end of a partition is the high-water mark of a real fetch response (partition EOF), not
ListOffsets: the local Tansu broker answers ``offsets_for_times`` with offset 0 for every
timestamp, so an answer is checked against the timestamps themselves and replaced by a binary
search over offsets when it fails. Clients are built by :mod:`flywheel.infra.kafka`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from flywheel.config import KafkaSettings
from flywheel.errors import BrokerError
from flywheel.infra.kafka import consumer_config, partitions_of, scan_group

log = logging.getLogger(__name__)


def read_to_end(kafka: KafkaSettings, topic: str, timeout_s: float = 30.0) -> Iterator[Message]:
    """Every committed message of ``topic``, from the start of each partition to its end.

    The end is the partition EOF a fetch reports, not ListOffsets. No consumer group
    membership: partitions are assigned directly. Raises :class:`BrokerError` if some
    partition does not reach its end within ``timeout_s``.
    """
    consumer = Consumer(consumer_config(kafka, scan_group(kafka, "scan"), **{"isolation.level": "read_committed"}))
    try:
        partitions = partitions_of(consumer, kafka, topic, timeout_s)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending = set(partitions)
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise BrokerError(f"reading {topic}: partitions {sorted(pending)} never reached their end")
            for message in consumer.consume(500, 0.2):
                error = message.error()
                if error is None:
                    yield message
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                else:
                    raise BrokerError(f"reading {topic}: {error.str()}")
    finally:
        consumer.close()


def end_offsets(kafka: KafkaSettings, topic: str, partitions: list[int], timeout_s: float = 10.0) -> dict[int, int]:
    """One past the last offset of each partition, from the high-water marks of real fetches."""
    consumer = Consumer(consumer_config(kafka, scan_group(kafka, "end")))
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        fetched: set[int] = set()
        deadline = time.monotonic() + timeout_s
        # A message or a partition EOF: either way a fetch response carried the high-water mark.
        while fetched != set(partitions):
            if time.monotonic() > deadline:
                raise BrokerError(f"{topic}: no fetch answer for partitions {sorted(set(partitions) - fetched)}")
            for message in consumer.consume(500, 0.2):
                error = message.error()
                if error is not None and error.code() != KafkaError._PARTITION_EOF:
                    raise BrokerError(f"reading {topic}[{message.partition()}]: {error.str()}")
                fetched.add(message.partition() or 0)
        return {
            p: max(int(consumer.get_watermark_offsets(TopicPartition(topic, p), cached=True)[1]), 0) for p in partitions
        }
    finally:
        consumer.close()


# --- start positions


_PAST_THE_END = (KafkaError._PARTITION_EOF, KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET)


class _OffsetReader:
    """Reads the timestamp of the first message at or after an offset of one partition."""

    def __init__(self, kafka: KafkaSettings, topic: str, partition: int) -> None:
        self._topic = topic
        self._partition = partition
        self._consumer = Consumer(consumer_config(kafka, scan_group(kafka, "seek"), **{"auto.offset.reset": "error"}))

    def close(self) -> None:
        self._consumer.close()

    def timestamp_at(self, offset: int, timeout_s: float = 10.0) -> tuple[int, int] | None:
        """``(offset, timestamp_ms)`` of the first message at or after ``offset``; None at the end."""
        self._consumer.assign([TopicPartition(self._topic, self._partition, offset)])
        try:
            message = self._consumer.poll(timeout_s)
            if message is None:
                raise BrokerError(f"no answer reading {self._topic}[{self._partition}] at {offset}")
            error = message.error()
            found = message.offset()
            if error is None and found is not None:
                return found, message.timestamp()[1]
            assert error is not None
            if error.code() in (
                KafkaError._PARTITION_EOF,
                KafkaError.OFFSET_OUT_OF_RANGE,
                KafkaError._AUTO_OFFSET_RESET,
            ):
                return None
            raise BrokerError(f"error reading {self._topic}[{self._partition}]@{offset}: {error.str()}")
        finally:
            self._consumer.unassign()


def offsets_for_time(kafka: KafkaSettings, topic: str, partitions: list[int], at: datetime) -> dict[int, int]:
    """Earliest offset per partition whose message timestamp is >= ``at`` (naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    target_ms = int(at.timestamp() * 1000)
    consumer = Consumer(consumer_config(kafka, scan_group(kafka, "seek")))
    try:
        answers = consumer.offsets_for_times([TopicPartition(topic, p, target_ms) for p in partitions], timeout=10)
    finally:
        consumer.close()
    ends = end_offsets(kafka, topic, partitions)
    positions: dict[int, int] = {}
    for answer in answers:
        reader = _OffsetReader(kafka, topic, answer.partition)
        try:
            positions[answer.partition] = _verified_or_searched(
                reader, answer.offset, target_ms, ends[answer.partition]
            )
        finally:
            reader.close()
    return positions


def _verified_or_searched(reader: _OffsetReader, answer: int, target_ms: int, end: int) -> int:
    if _is_first_at_or_after(reader, answer, target_ms, end):
        return answer if answer >= 0 else end
    log.warning("broker timestamp look-up was wrong; searching offsets", extra={"answer": answer})
    return _search(reader, target_ms, end)


def _is_first_at_or_after(reader: _OffsetReader, answer: int, target_ms: int, end: int) -> bool:
    if answer < 0 or answer >= end:
        # "No message at or after the timestamp": true only if the last message is older.
        last = reader.timestamp_at(end - 1) if end > 0 else None
        return last is None or last[1] < target_ms
    found = reader.timestamp_at(answer)
    if found is None or found[1] < target_ms:
        return False
    previous = reader.timestamp_at(answer - 1) if answer > 0 else None
    return previous is None or previous[0] >= answer or previous[1] < target_ms


def _search(reader: _OffsetReader, target_ms: int, end: int) -> int:
    """Smallest offset whose timestamp is >= target (timestamps assumed non-decreasing)."""
    low, high = 0, end
    while low < high:
        middle = (low + high) // 2
        found = reader.timestamp_at(middle)
        if found is None:
            high = middle
        elif found[1] < target_ms:
            low = found[0] + 1
        else:
            high = middle
    return low
