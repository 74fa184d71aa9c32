"""Kafka source that starts where the Iceberg tables (or Bytewax recovery) say to start.

Each Kafka partition is one Bytewax source partition, read with ``assign`` (no group
rebalancing: Bytewax owns the assignment). After every non-empty batch the partition emits a
:class:`SourceProgress` marker so committers can record progress for tables that got no row.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import Consumer, KafkaError, TopicPartition

from flywheel import metrics
from flywheel.config import KafkaSettings, SourceSettings
from flywheel.errors import BrokerError
from flywheel.infra.kafka import consumer_config, list_partitions
from flywheel.infra.retry import BrokerWatch
from flywheel.schemas.records import SourceCoordinates, SourceMessage, SourceProgress

log = logging.getLogger(__name__)

SourceItem = SourceMessage | SourceProgress


class _PartitionReader(StatefulSourcePartition[SourceItem, int]):
    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        partition: int,
        start_offset: int,
        settings: SourceSettings,
        stop_at_end: bool,
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._next_offset = start_offset
        self._settings = settings
        self._stop_at_end = stop_at_end
        self._at_end = False
        self._last_emit = time.monotonic()
        self._labels = {"topic": topic, "partition": str(partition)}
        self._watch = BrokerWatch(topic)
        config = consumer_config(
            kafka, kafka.consumer_group, **{"statistics.interval.ms": 5000, "stats_cb": self._on_stats}
        )
        self._consumer = Consumer(config)
        self._consumer.assign([TopicPartition(topic, partition, start_offset)])
        metrics.SOURCE_POSITION.labels(**self._labels).set(start_offset)

    def next_batch(self) -> list[SourceItem]:
        if self._at_end and self._stop_at_end:
            raise StopIteration()
        messages = self._consumer.consume(self._settings.batch_size, self._settings.poll_timeout_s)
        if not messages:
            return self._heartbeat()
        batch: list[SourceItem] = []
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
                log.warning("kafka consumer error", extra={"topic": self._topic, "error": str(error)})
                continue
            self._at_end = False
            _, timestamp_ms = message.timestamp()
            offset = message.offset()
            assert offset is not None  # set on every message without an error
            coordinates = SourceCoordinates(self._topic, self._partition, offset, timestamp_ms)
            batch.append(SourceMessage(coordinates, message.key(), message.value()))
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
        if time.monotonic() - self._last_emit < self._settings.heartbeat_s:
            return []
        self._last_emit = time.monotonic()
        return [SourceProgress(self._topic, self._partition, self._next_offset - 1)]

    def snapshot(self) -> int:
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()

    def _on_stats(self, stats_json: str) -> None:
        # librdkafka's consumer_lag comes from fetch responses, which even brokers with
        # wrong ListOffsets answers (the local Tansu) report correctly.
        stats: dict[str, Any] = json.loads(stats_json)
        self._watch.observe(stats)
        partition = stats.get("topics", {}).get(self._topic, {}).get("partitions", {}).get(str(self._partition))
        if partition and partition.get("consumer_lag", -1) >= 0:
            metrics.SOURCE_LAG.labels(**self._labels).set(partition["consumer_lag"])


class InteractionSource(FixedPartitionedSource[SourceItem, int]):
    """Reads the interactions topic from explicit start offsets, resuming from recovery state."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        start_offsets: Mapping[int, int],
        settings: SourceSettings,
        stop_at_end: bool = False,
    ) -> None:
        self._kafka = kafka
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
        return _PartitionReader(self._kafka, self._topic, partition, start, self._settings, self._stop_at_end)
