"""Kafka source that starts where the Iceberg tables (or Bytewax recovery) say to start.

Each Kafka partition is one Bytewax source partition, read with ``assign`` (no group
rebalancing: Bytewax owns the assignment). After every non-empty batch the partition emits a
:class:`SourceProgress` marker so committers can record progress for tables that got no row.

An idle partition's wait depends on who else runs the dataflow. A flow of one worker waits
inside ``consume`` (blocked, nearly free). With several workers (threads or processes) a worker
blocked in ``consume`` takes no part in closing epochs, and Bytewax's input operator on every
other worker busy-waits (no park) until the epoch closes: an idle two-worker flow spun one core
at ~50%. There a poll that got no message makes the next one non-blocking and asks Bytewax
(``next_awake``) to call again ``poll_timeout_s`` later, while the worker keeps stepping.
Either way, while the broker is down (no broker reachable, unanswering, or error events) the
wait doubles up to ``MAX_POLL_BACKOFF_S`` and the first message resets it. Reading is as
before: after a poll that got messages the next comes at once and blocks up to
``poll_timeout_s`` to fill its batch.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import Consumer, KafkaError, TopicPartition

from flywheel import metrics
from flywheel.config import KafkaSettings, SourceSettings
from flywheel.errors import BrokerError
from flywheel.infra.kafka import consumer_config, list_partitions, on_client_error
from flywheel.infra.retry import BrokerWatch
from flywheel.schemas.records import SourceCoordinates, SourceMessage, SourceProgress

log = logging.getLogger(__name__)

SourceItem = SourceMessage | SourceProgress

# While the broker is down, an idle partition polls at most this far apart (a message that
# arrives once it is back waits at most this long).
MAX_POLL_BACKOFF_S = 2.0
# A partition whose high watermark stays below the flow's next offset this long went back (a
# recreated topic on a broker that answers an out-of-range fetch with nothing). Not at once: a
# newly elected leader's high watermark can trail the old one's for a moment.
WENT_BACK_AFTER_S = 30.0


class _PartitionReader(StatefulSourcePartition[SourceItem, int]):
    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        partition: int,
        start_offset: int,
        settings: SourceSettings,
        stop_at_end: bool,
        *,
        sole_worker: bool = True,
        consumer: Consumer | None = None,
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._next_offset = start_offset
        self._settings = settings
        self._stop_at_end = stop_at_end
        self._sole_worker = sole_worker
        self._at_end = False
        self._last_emit = time.monotonic()
        self._labels = {"topic": topic, "partition": str(partition)}
        self._watch = BrokerWatch(topic)
        # None while reading (the next poll comes at once and blocks to fill its batch); after a
        # poll without a message, how long the next poll waits (in consume, or in Bytewax).
        self._wait_s: float | None = None
        self._wake_at: datetime | None = None
        self._broker_down = False  # "no broker reachable" since the last sign of a connection
        self.polls = 0  # consume() calls: the tests' measure of how busy an idle partition is
        # Since when (and at what) the partition's high watermark has been below the next offset.
        self._below_since: tuple[float, int] | None = None
        if consumer is None:
            config = consumer_config(
                kafka,
                kafka.consumer_group,
                **{"statistics.interval.ms": 5000, "stats_cb": self._on_stats, "error_cb": self._on_error},
            )
            consumer = Consumer(config)
        self._consumer = consumer
        self._consumer.assign([TopicPartition(topic, partition, start_offset)])
        metrics.SOURCE_POSITION.labels(**self._labels).set(start_offset)

    def next_batch(self) -> list[SourceItem]:
        if self._at_end and self._stop_at_end:
            raise StopIteration()
        if self._wait_s is None:
            timeout_s = self._settings.poll_timeout_s
        else:
            timeout_s = self._wait_s if self._sole_worker else 0.0
        if self._below_since is not None and time.monotonic() - self._below_since[0] >= WENT_BACK_AFTER_S:
            raise went_back(self._topic, self._partition, self._next_offset, f"ends at offset {self._below_since[1]}")
        self.polls += 1
        metrics.SOURCE_POLLS.labels(**self._labels).inc()
        messages = self._consumer.consume(self._settings.batch_size, timeout_s)
        batch = self._decode(messages)
        if batch:
            self._reading()
            return batch
        self._idle()
        return self._heartbeat()

    def next_awake(self) -> datetime | None:
        """When Bytewax should call :meth:`next_batch` again: at once while reading, later when idle."""
        return self._wake_at

    @property
    def broker_down(self) -> bool:
        """No broker reachable, or the one there does not answer: what makes polls back off."""
        return self._broker_down or self._watch.stalled

    def _reading(self) -> None:
        if self._wait_s is not None and self._wait_s > self._settings.poll_timeout_s:
            log.warning("source reading again after backing off", extra={**self._labels, "last_wait_s": self._wait_s})
        self._broker_down = False
        self._wait_s = None
        self._wake_at = None
        metrics.SOURCE_POLL_BACKOFF.labels(**self._labels).set(0)

    def _idle(self) -> None:
        """A poll without a message: wait ``poll_timeout_s``, doubling while the broker is down."""
        base = self._settings.poll_timeout_s
        if not self.broker_down:
            self._wait_s = base
            metrics.SOURCE_POLL_BACKOFF.labels(**self._labels).set(0)
        else:
            previous = self._wait_s or base
            self._wait_s = max(base, min(previous * 2, MAX_POLL_BACKOFF_S))
            if previous <= base < self._wait_s:
                log.warning(
                    "kafka broker down; source polls back off",
                    extra={**self._labels, "max_wait_s": max(base, MAX_POLL_BACKOFF_S)},
                )
            metrics.SOURCE_POLL_BACKOFF.labels(**self._labels).set(self._wait_s)
        if not self._sole_worker:
            self._wake_at = datetime.now(UTC) + timedelta(seconds=self._wait_s)

    def _decode(self, messages: list[Any]) -> list[SourceItem]:
        batch: list[SourceItem] = []
        expected = self._next_offset  # offsets only grow: one below this means the topic went back
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._at_end = True
                    metrics.SOURCE_LAG.labels(**self._labels).set(0)
                    continue
                # Broker-side errors are transient or fatal to the consumer, never about one
                # message; fatal ones must stop the flow loudly rather than skip data.
                if error.fatal():
                    raise BrokerError(f"fatal Kafka error on {self._topic}[{self._partition}]: {error}")
                # Polls back off while these come (logged once per poll, so at most a few a second).
                self._broker_down = True
                log.warning("kafka consumer error", extra={"topic": self._topic, "error": str(error)})
                continue
            self._at_end = False
            _, timestamp_ms = message.timestamp()
            offset = message.offset()
            assert offset is not None  # set on every message without an error
            if offset < expected:
                raise went_back(self._topic, self._partition, expected, f"delivered offset {offset}")
            coordinates = SourceCoordinates(self._topic, self._partition, offset, timestamp_ms)
            batch.append(SourceMessage(coordinates, message.key(), message.value()))
            expected = offset + 1
        if batch:
            last = batch[-1]
            assert isinstance(last, SourceMessage)
            self._next_offset = last.coordinates.offset + 1
            batch.append(SourceProgress(self._topic, self._partition, last.coordinates.offset))
            metrics.SOURCE_POSITION.labels(**self._labels).set(self._next_offset)
            self._last_emit = time.monotonic()
        return batch

    def _heartbeat(self) -> list[SourceItem]:
        """A progress marker now and then while the topic is quiet.

        Sink partitions only get to commit when an epoch hands them items; without this,
        rows buffered just before the input went quiet would wait for the next message. An
        empty partition announces offset -1 (nothing to record): the held dedup needs to hear
        that it is idle before it decides what the other partitions delivered.
        """
        now = time.monotonic()
        if now - self._last_emit < self._settings.heartbeat_s:
            return []
        self._last_emit = now
        return [SourceProgress(self._topic, self._partition, self._next_offset - 1)]

    def snapshot(self) -> int:
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._broker_down = True
        on_client_error(error)

    def _on_stats(self, stats_json: str) -> None:
        # librdkafka's consumer_lag comes from fetch responses, which even brokers with
        # wrong ListOffsets answers (the local Tansu) report correctly.
        stats: dict[str, Any] = json.loads(stats_json)
        self._watch.observe(stats)
        if self._watch.connected:
            self._broker_down = False
        partition = stats.get("topics", {}).get(self._topic, {}).get("partitions", {}).get(str(self._partition))
        if partition and partition.get("consumer_lag", -1) >= 0:
            metrics.SOURCE_LAG.labels(**self._labels).set(partition["consumer_lag"])
        high = partition.get("hi_offset", -1) if partition else -1
        if 0 <= high < self._next_offset:
            if self._below_since is None:
                self._below_since = (time.monotonic(), high)
        else:
            self._below_since = None


def went_back(topic: str, partition: int, expected: int, found: str) -> BrokerError:
    """The error for a partition whose offsets went below the one the flow reads next.

    Offsets only grow, so the topic was deleted and created again (or its log truncated): the
    client, finding its offset out of range, starts again from the earliest (``found``: "delivered
    offset 0"), or the broker answers with nothing while its end stays below (``found``: "ends at
    offset 2"). The tables' offsets now name other messages: going on would drop the new ones as
    already committed, or skip the first ones.
    """
    return BrokerError(
        f"{topic}[{partition}] {found} where the flow reads {expected} next: the topic was "
        "recreated or truncated, so the offsets the tables and the recovery state hold name other messages. "
        "Nothing was skipped; to start over on the new topic, `flywheel stack reset --yes` (drops the tables "
        "and recovery state), or replay into a branch with --from-offsets"
    )


class InteractionSource(FixedPartitionedSource[SourceItem, int]):
    """Reads the interactions topic from explicit start offsets, resuming from recovery state."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        start_offsets: Mapping[int, int],
        settings: SourceSettings,
        stop_at_end: bool = False,
        sole_worker: bool = True,
    ) -> None:
        self._kafka = kafka
        self._sole_worker = sole_worker  # the dataflow's only worker (one process, one thread)
        self._topic = topic
        self._start_offsets = dict(start_offsets)
        self._settings = settings
        self._stop_at_end = stop_at_end

    def list_parts(self) -> list[str]:
        return [str(partition) for partition in list_partitions(self._kafka, self._topic)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _PartitionReader:
        partition = int(for_part)
        # Recovery state is consistent with the flow's operator state (dedup windows,
        # quotas); the sink drops anything it already committed, so it always wins.
        start = resume_state if resume_state is not None else self._start_offsets.get(partition, 0)
        log.info("source partition start", extra={"topic": self._topic, "partition": partition, "offset": start})
        return _PartitionReader(
            self._kafka, self._topic, partition, start, self._settings, self._stop_at_end, sole_worker=self._sole_worker
        )
