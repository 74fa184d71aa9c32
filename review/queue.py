"""The queue consumer: review topic -> durable store, Kafka offsets committed only after the store.

At-least-once from Kafka, exactly-once into the store: a batch is stored in one transaction
(items already there are skipped by event id), and only then are its offsets committed. A
crash between the two re-reads the batch, and storing it again adds nothing.
A message that is not a valid event is logged with its position, counted
(``flywheel_review_items_invalid_total``) and committed past: the flow only writes events it
decoded, so such a message is a producer bug, and it must not block the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from flywheel.errors import BrokerError
from flywheel.infra.kafka import consumer_config
from flywheel.review.config import ReviewConfig
from flywheel.review.items import ReviewItem, UndecodableItem, item_from_message
from flywheel.review.metrics import ITEMS_INVALID, ITEMS_STORED, refresh_queue_gauges
from flywheel.review.store import ReviewStore

log = logging.getLogger(__name__)


@dataclass
class IntakeReport:
    """What one consumer session did."""

    read: int = 0
    stored: int = 0
    invalid: int = 0
    committed: dict[int, int] = field(default_factory=dict)  # partition -> next offset


class QueueConsumer:
    """Reads the review topic (consumer group ``review.consumer_group``) into the store."""

    def __init__(self, config: ReviewConfig, store: ReviewStore) -> None:
        self._config = config
        self._store = store
        self._validation = config.validation

    def run(self, until_drained: bool = False, stop: threading.Event | None = None) -> IntakeReport:
        """Consume until ``stop`` is set, or (``until_drained``) every partition is at its end."""
        review = self._config.review
        stop = stop or threading.Event()
        settings = consumer_config(
            self._config.kafka, review.consumer_group, **{"session.timeout.ms": review.session_timeout_ms}
        )
        consumer = Consumer(settings)
        topic = self._config.topics.review
        assigned: set[int] = set()
        drained: set[int] = set()

        def on_assign(_consumer: Consumer, partitions: list[Any]) -> None:
            assigned.update(p.partition for p in partitions)

        def on_revoke(_consumer: Consumer, partitions: list[Any]) -> None:
            assigned.difference_update(p.partition for p in partitions)

        report = IntakeReport()
        try:
            every_partition = set(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
            if not every_partition:
                raise BrokerError(f"review topic {topic!r} does not exist")
            consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
            last_refresh = 0.0
            while not stop.is_set():
                messages = consumer.consume(review.batch_size, review.poll_timeout_s)
                records = []
                for message in messages:
                    if _is_eof(message):
                        drained.add(message.partition() or 0)
                    else:
                        drained.discard(message.partition() or 0)
                        records.append(message)
                if records:
                    self._store_batch(consumer, records, report)
                if time.monotonic() - last_refresh > 1.0:
                    refresh_queue_gauges(self._store)
                    last_refresh = time.monotonic()
                if until_drained and assigned == every_partition and assigned <= drained:
                    break
        finally:
            consumer.close()
        refresh_queue_gauges(self._store)
        return report

    def _store_batch(self, consumer: Consumer, messages: list[Message], report: IntakeReport) -> None:
        items: list[ReviewItem] = []
        for message in messages:
            position = f"{message.topic()}:{message.partition()}:{message.offset()}"
            try:
                items.append(item_from_message(message.value(), message.headers(), position, self._validation))
            except UndecodableItem as exc:
                report.invalid += 1
                ITEMS_INVALID.inc()
                extra = {"position": position, "error": str(exc)}
                log.error("review message is not an interaction event; skipped", extra=extra)
        added = self._store.add(items)  # durable before any offset is committed
        ITEMS_STORED.inc(added)
        report.read += len(messages)
        report.stored += added
        offsets: dict[int, int] = {}
        for message in messages:
            partition, following = message.partition() or 0, (message.offset() or 0) + 1
            offsets[partition] = max(offsets.get(partition, 0), following)
        topic = self._config.topics.review
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        report.committed.update(offsets)


def _is_eof(message: Message) -> bool:
    error = message.error()
    if error is None:
        return False
    if error.code() == KafkaError._PARTITION_EOF:
        return True
    raise BrokerError(f"consuming the review topic: {error}")


def run_in_background(consumer: QueueConsumer, stop: threading.Event, retry_s: float = 5.0) -> threading.Thread:
    """Run ``consumer`` in a daemon thread until ``stop``; a failed session is logged and restarted."""

    def keep_consuming() -> None:
        while not stop.is_set():
            try:
                consumer.run(stop=stop)
            except Exception:  # a broker outage must not end intake for the life of the app
                log.exception("review queue consumer failed; restarting", extra={"retry_s": retry_s})
                stop.wait(retry_s)

    thread = threading.Thread(target=keep_consuming, name="review-intake", daemon=True)
    thread.start()
    return thread
