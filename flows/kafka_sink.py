"""Kafka output that fails loudly: every message is acknowledged before the batch returns.

Bytewax's own KafkaSink flushes but ignores delivery errors, which would silently drop
DLQ or review messages. Here an undelivered message stops the flow; recovery then replays
the epoch (at-least-once; messages carry their source coordinates so readers can dedupe).
"""

from __future__ import annotations

import threading
from collections import Counter

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from flywheel.config import KafkaSettings
from flywheel.infra.kafka import CheckedProducer
from flywheel.schemas.records import OutboundMessage


class _ProducerPartition(StatelessSinkPartition[OutboundMessage]):
    def __init__(self, producer: CheckedProducer, flush_timeout_s: float) -> None:
        self._producer = producer
        self._flush_timeout_s = flush_timeout_s

    def write_batch(self, items: list[OutboundMessage]) -> None:
        for item in items:
            self._producer.send(item.topic, item.value, item.key, headers=item.headers)
        self._producer.flush(self._flush_timeout_s)

    def close(self) -> None:
        self._producer.close(min(self._flush_timeout_s, 30.0))  # best effort: a restart replays the epoch


class CheckedKafkaSink(DynamicSink[OutboundMessage]):
    """Produces with an idempotent producer (acks=all) and raises on any delivery failure."""

    # Past librdkafka's default message timeout (300 s), after which a message it could not
    # deliver gets an error report: a broker outage shorter than that is waited out (the
    # producer reconnects and retries by itself, idempotently), a longer one stops the flow.
    def __init__(self, kafka: KafkaSettings, flush_timeout_s: float = 330.0) -> None:
        self._kafka = kafka
        self._flush_timeout_s = flush_timeout_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(CheckedProducer(self._kafka), self._flush_timeout_s)


class _HeldPartition(StatelessSinkPartition[OutboundMessage]):
    def __init__(self, held: HeldOutbound) -> None:
        self._held = held

    def write_batch(self, items: list[OutboundMessage]) -> None:
        with self._held.lock:
            self._held.counts.update(item.topic for item in items)


class HeldOutbound(DynamicSink[OutboundMessage]):
    """Outbound messages counted by topic and not sent: a replay's.

    A replay reprocesses what main already processed, under a trial policy: its DLQ messages
    would repeat main's, and its review messages would queue reviewers whose answers become
    trusted pairs on main. Its report says how many it held back instead.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()  # a process's workers are threads

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _HeldPartition:
        return _HeldPartition(self)
