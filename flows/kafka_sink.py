"""Kafka output that fails loudly: every message is acknowledged before the batch returns.

Bytewax's own KafkaSink flushes but ignores delivery errors, which would silently drop
DLQ or review messages. Here an undelivered message stops the flow; recovery then replays
the epoch (at-least-once; messages carry their source coordinates so readers can dedupe).
"""

from __future__ import annotations

from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaError, Message, Producer

from flywheel.config import KafkaSettings
from flywheel.errors import DeliveryError
from flywheel.schemas.records import OutboundMessage


class _ProducerPartition(StatelessSinkPartition[OutboundMessage]):
    def __init__(self, producer: Producer, flush_timeout_s: float) -> None:
        self._producer = producer
        self._flush_timeout_s = flush_timeout_s
        self._errors: list[str] = []

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._errors.append(f"{message.topic()}: {error}")

    def write_batch(self, items: list[OutboundMessage]) -> None:
        for item in items:
            while True:
                try:
                    self._producer.produce(
                        item.topic,
                        value=item.value,
                        key=item.key,
                        headers=item.headers,  # type: ignore[arg-type]  # bytes header values are accepted
                        on_delivery=self._on_delivery,
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)  # local queue full: wait for deliveries, then retry
        remaining = self._producer.flush(self._flush_timeout_s)
        if remaining or self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryError(f"{remaining} messages undelivered, errors: {errors[:5]}")

    def close(self) -> None:
        self._producer.flush(self._flush_timeout_s)


class CheckedKafkaSink(DynamicSink[OutboundMessage]):
    """Produces with an idempotent producer (acks=all) and raises on any delivery failure."""

    def __init__(self, kafka: KafkaSettings, flush_timeout_s: float = 30.0) -> None:
        self._kafka = kafka
        self._flush_timeout_s = flush_timeout_s

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        config: dict[str, Any] = self._kafka.client(**{"enable.idempotence": True, "acks": "all", "linger.ms": 5})
        return _ProducerPartition(Producer(config), self._flush_timeout_s)
