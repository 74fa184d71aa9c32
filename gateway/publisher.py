"""Produce events to the interactions topic, all-or-nothing per request.

A request with one event uses a shared idempotent producer (``enable.idempotence``,
``acks=all``) and waits for that message's delivery report: one message is atomic by itself.
A batch uses a small pool of transactional producers (idempotent and ``acks=all`` too): one
request holds one producer for one transaction: begin, produce every event keyed by
``thread_id``, commit. Either way the request is answered 202 only after the broker
acknowledged every message (and, for a batch, the transaction is committed).

What is guaranteed on failure (503): for a batch, the transaction is aborted, so consumers
reading with ``isolation.level=read_committed`` (librdkafka's default, and the flow's source)
see none of the request's events; for a single event, its delivery report was an error.
One case is ambiguous: a commit (or a delivery report) that times out after the broker
received the data may still complete; the 503 body carries the event ids so a client retries
with the same ids, and the flow deduplicates on ``event_id``.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import warnings
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from flywheel.config import KafkaSettings
from flywheel.errors import BrokerUnavailable, MessageTooLarge
from flywheel.gateway.config import GatewaySettings
from flywheel.gateway.normalise import EncodedEvent
from flywheel.infra.kafka import DeliveryReports, admin_client, produce, producer_config

log = logging.getLogger(__name__)


class EventPublisher:
    """A pool of transactional producers for the interactions topic (thread-safe, blocking)."""

    def __init__(self, kafka: KafkaSettings, topic: str, gateway: GatewaySettings) -> None:
        self._kafka = kafka
        self._topic = topic
        self._gateway = gateway
        self._instance = f"{gateway.transactional_id_prefix}-{socket.gethostname()}-{os.getpid()}"
        # None marks a free slot whose producer is created (lazily) on first use.
        self._pool: queue.Queue[tuple[int, Producer | None]] = queue.Queue()
        for slot in range(gateway.producer_pool_size):
            self._pool.put((slot, None))
        self._admin: AdminClient | None = None
        self._single: Producer | None = None
        self._single_lock = threading.Lock()
        # What kept the last readiness check from passing ("" before the first check).
        self._not_ready: str | None = ""

    def publish(self, events: Sequence[EncodedEvent]) -> None:
        """Produce ``events``; return once the broker acknowledged all of them, else raise."""
        if len(events) == 1:
            self._publish_one(events[0])
        else:
            self._publish_transaction(events)

    def _publish_one(self, item: EncodedEvent) -> None:
        """One message is atomic by itself: the shared idempotent producer, no transaction."""
        producer = self._single_producer()
        reports = DeliveryReports()
        try:
            produce(producer, self._topic, item.value, item.key, reports=reports, deadline=time.monotonic())
        except BufferError as exc:
            raise BrokerUnavailable(f"producer queue full: {exc}") from exc
        except KafkaException as exc:
            self._drop_single_if_fatal(producer, exc.args[0])
            raise _refused(exc.args[0]) from exc
        # librdkafka fails the message itself after message.timeout.ms (= produce timeout);
        # waiting a little longer gets the definitive delivery report, not a guess.
        if not reports.wait(producer, self._gateway.produce_timeout_s + 5.0):
            raise BrokerUnavailable("no delivery report in time; the event may still arrive, retry with its id")
        if reports.errors:
            self._drop_single_if_fatal(producer, reports.errors[0])
            raise _refused(reports.errors[0])

    def _drop_single_if_fatal(self, producer: Producer, error: KafkaError) -> None:
        """Forget the shared producer after a fatal error: it refuses everything from then on."""
        if not error.fatal():
            return
        log.warning("gateway single-event producer fatal error; recreating it", extra={"error": error.str()})
        with self._single_lock:
            if self._single is producer:  # not one another request already put in its place
                self._single = None

    def _single_producer(self) -> Producer:
        with self._single_lock:
            if self._single is None:
                self._single = Producer(
                    self._producer_config(
                        **{
                            "message.timeout.ms": int(self._gateway.produce_timeout_s * 1000),
                            "client.id": f"{self._instance}-single",
                        }
                    )
                )
            return self._single

    def _producer_config(self, **overrides: Any) -> dict[str, Any]:
        """The shared idempotent producer config, the gateway's own, then ``gateway.producer_config``."""
        return producer_config(self._kafka, **{"linger.ms": 1, **overrides, **self._gateway.producer_config})

    def _publish_transaction(self, events: Sequence[EncodedEvent]) -> None:
        """Several messages: one transaction, committed or aborted as a whole."""
        timeout_s = self._gateway.produce_timeout_s
        deadline = time.monotonic() + timeout_s
        try:
            slot, producer = self._pool.get(timeout=timeout_s)
        except queue.Empty as exc:
            raise BrokerUnavailable(f"no producer free within {timeout_s}s") from exc
        keep = True
        try:
            if producer is None:
                producer = self._create(slot, deadline)
            self._transact(producer, events, deadline)
        except KafkaException as exc:
            keep = producer is not None and self._abort(producer, exc.args[0], deadline)
            raise _refused(exc.args[0]) from exc
        except BufferError as exc:
            keep = producer is not None and self._abort(producer, None, deadline)
            raise BrokerUnavailable(f"producer queue full: {exc}") from exc
        finally:
            if not keep and producer is not None:
                _discard(producer)
            self._pool.put((slot, producer if keep else None))

    def ready(self) -> bool:
        """Whether the broker answers metadata for the interactions topic in time."""
        if self._admin is None:
            self._admin = admin_client(self._kafka)
        try:
            metadata = self._admin.list_topics(self._topic, timeout=self._gateway.readiness_timeout_s)
        except KafkaException as exc:
            return self._readiness(f"broker not answering: {exc.args[0].str()}")
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            reason = topic.error.str() if topic is not None and topic.error is not None else "no partitions"
            return self._readiness(f"interactions topic missing ({reason}); run `flywheel stack topics`")
        return self._readiness(None)

    def _readiness(self, problem: str | None) -> bool:
        """Log when readiness changes (a probe's 503 alone says nothing in the pod's log); True when ready."""
        with self._single_lock:
            changed, self._not_ready = problem != self._not_ready, problem
        if changed and problem is not None:
            where = {"bootstrap_servers": self._kafka.bootstrap_servers, "topic": self._topic}
            log.warning("gateway not ready: %s", problem, extra=where)
        elif changed:
            log.info("gateway ready", extra={"bootstrap_servers": self._kafka.bootstrap_servers, "topic": self._topic})
        return problem is None

    def close(self) -> None:
        """Flush and drop every idle producer (call at shutdown)."""
        if self._single is not None:
            self._single.flush(self._gateway.produce_timeout_s)
            # Dropping the last reference destroys the librdkafka handle; kept, it would keep
            # reconnecting to a broker that may be gone.
            self._single = None
        self._admin = None
        while True:
            try:
                _, producer = self._pool.get_nowait()
            except queue.Empty:
                return
            if producer is not None:
                producer.flush(self._gateway.produce_timeout_s)

    def _create(self, slot: int, deadline: float) -> Producer:
        producer = Producer(
            self._producer_config(
                **{"transactional.id": f"{self._instance}-{slot}", "client.id": f"{self._instance}-{slot}"}
            )
        )
        try:
            producer.init_transactions(_remaining(deadline))
        except KafkaException:
            _discard(producer)
            raise
        return producer

    def _transact(self, producer: Producer, events: Sequence[EncodedEvent], deadline: float) -> None:
        producer.begin_transaction()
        for item in events:
            produce(producer, self._topic, item.value, item.key, deadline=deadline)
        producer.commit_transaction(_remaining(deadline))

    def _abort(self, producer: Producer, error: KafkaError | None, deadline: float) -> bool:
        """Abort the open transaction; True if the producer can be reused afterwards."""
        if error is not None and error.fatal():
            log.warning("gateway producer fatal error; recreating it", extra={"error": error.str()})
            return False
        try:
            producer.abort_transaction(max(_remaining(deadline), 1.0))
        except KafkaException as exc:
            log.warning("gateway producer abort failed; recreating it", extra={"error": str(exc)})
            return False
        return True


def _refused(error: KafkaError) -> BrokerUnavailable | MessageTooLarge:
    """The gateway's error for a produce the client or the broker refused."""
    if error.code() == KafkaError.MSG_SIZE_TOO_LARGE:
        return MessageTooLarge(error.str())
    return BrokerUnavailable(error.str())


def _discard(producer: Producer) -> None:
    """Drop queued messages and release the producer's threads and connections now."""
    producer.purge()
    with warnings.catch_warnings():  # "abort failed during close" is expected when the broker is gone
        warnings.simplefilter("ignore", RuntimeWarning)
        producer.close()


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)
