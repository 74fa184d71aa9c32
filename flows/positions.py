"""Where the flow starts reading: stored Iceberg offsets, explicit offsets, or a timestamp.

Timestamp look-ups trust the broker only after checking its answer: the local Tansu broker
answers ``offsets_for_times`` with offset 0 for every timestamp, so an answer that fails the
check falls back to a binary search over offsets reading the timestamps themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, TopicPartition
from pyiceberg.table import Table

from flywheel.config import KafkaSettings
from flywheel.errors import BrokerError
from flywheel.infra.offsets import committed_offsets

log = logging.getLogger(__name__)


def from_tables(tables: Iterable[Table], topic: str, partitions: list[int], branch: str) -> dict[int, int]:
    """First offset not yet accounted for by *every* table: the minimum over tables."""
    ledgers = [committed_offsets(table, branch) for table in tables]
    return {
        partition: min((ledger.get((topic, partition), -1) + 1 for ledger in ledgers), default=0)
        for partition in partitions
    }


def parse_offsets(spec: str, partitions: list[int]) -> dict[int, int]:
    """Parse ``--from-offsets``: ``"0:120,1:98"`` per partition, or one number for all."""
    spec = spec.strip()
    if spec.isdigit():
        return dict.fromkeys(partitions, int(spec))
    offsets: dict[int, int] = {}
    for part in spec.split(","):
        try:
            partition_text, offset_text = part.split(":")
            partition, offset = int(partition_text), int(offset_text)
        except ValueError:
            raise ValueError(f"bad offset spec {part!r}: expected PARTITION:OFFSET, e.g. 0:120,1:98") from None
        if partition not in partitions:
            raise ValueError(f"partition {partition} does not exist (partitions: {partitions})")
        if offset < 0:
            raise ValueError(f"offset for partition {partition} must be >= 0, got {offset}")
        offsets[partition] = offset
    return {partition: offsets.get(partition, 0) for partition in partitions}


class _OffsetReader:
    """Reads the timestamp of the first message at or after an offset."""

    def __init__(self, kafka: KafkaSettings, topic: str, partition: int) -> None:
        self._topic = topic
        self._partition = partition
        self._consumer = Consumer(
            kafka.client(
                **{
                    "group.id": f"{kafka.consumer_group}-seek",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "error",
                }
            )
        )

    def close(self) -> None:
        self._consumer.close()

    def end_offset(self) -> int:
        """One past the last offset, from the high-water mark of a real fetch response.

        Fetch responses carry the right high-water mark even where ListOffsets is wrong.
        """
        self._consumer.assign([TopicPartition(self._topic, self._partition, 0)])
        try:
            self._consumer.poll(10.0)  # a message or a partition EOF: either way a fetch happened
            _, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, self._partition), cached=True)
            return max(int(high), 0)
        finally:
            self._consumer.unassign()

    def timestamp_at(self, offset: int, timeout_s: float = 10.0) -> tuple[int, int] | None:
        """``(offset, timestamp_ms)`` of the first message at or after ``offset``; None at the end."""
        self._consumer.assign([TopicPartition(self._topic, self._partition, offset)])
        try:
            while True:
                message = self._consumer.poll(timeout_s)
                if message is None:
                    raise TimeoutError(f"no answer reading {self._topic}[{self._partition}] at {offset}")
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
                raise BrokerError(f"error reading {self._topic}[{self._partition}]@{offset}: {error}")
        finally:
            self._consumer.unassign()


def from_timestamp(kafka: KafkaSettings, topic: str, partitions: list[int], at: datetime) -> dict[int, int]:
    """Earliest offset per partition whose message timestamp is >= ``at`` (naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    target_ms = int(at.timestamp() * 1000)
    consumer = Consumer(kafka.client(**{"group.id": f"{kafka.consumer_group}-seek", "enable.auto.commit": False}))
    try:
        answers = consumer.offsets_for_times([TopicPartition(topic, p, target_ms) for p in partitions], timeout=10)
    finally:
        consumer.close()
    positions: dict[int, int] = {}
    for answer in answers:
        reader = _OffsetReader(kafka, topic, answer.partition)
        try:
            positions[answer.partition] = _verified_or_searched(reader, answer.offset, target_ms)
        finally:
            reader.close()
    return positions


def _verified_or_searched(reader: _OffsetReader, answer: int, target_ms: int) -> int:
    end = reader.end_offset()
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
