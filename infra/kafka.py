"""Every Kafka client of the flywheel is built here: one place for client defaults and checks.

* :func:`client_config` adds what every client gets on top of ``KafkaSettings.client()``
  (bootstrap servers and the security passthrough): librdkafka's own log lines and error
  callbacks go to the ``flywheel.kafka.librdkafka`` logger at DEBUG, never to stderr; "all
  brokers are down" is one warning per outage. A fault at start surfaces once, as a
  :class:`~flywheel.errors.FlywheelError` after the caller's timeout.
* Producers are idempotent with ``acks=all`` (their own retries never duplicate or reorder
  a message), and a message counts as sent only once its delivery report says so:
  :class:`DeliveryReports`, :class:`CheckedProducer`.
* Consumers read with manual offsets and partition EOF on (:func:`consumer_config`).
* Reads to the end of a topic, partition ends and start positions by time are in
  :mod:`flywheel.infra.kafka_reads`.

Nothing here connects when built: clients are created by the functions that use them, and
:class:`CheckedProducer` creates its producer with the first message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from flywheel import metrics
from flywheel.config import KafkaSettings
from flywheel.errors import BrokerError, BrokerUnreachable, ConfigError, DeliveryError
from flywheel.infra.retry import wait_at_start

log = logging.getLogger(__name__)
_librdkafka = logging.getLogger("flywheel.kafka.librdkafka")

PRODUCER_DEFAULTS: dict[str, Any] = {"enable.idempotence": True, "acks": "all", "linger.ms": 5}
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "auto.offset.reset": "earliest",
}


# librdkafka facilities an operator must see: the member left its group because the
# application did not poll within max.poll.interval.ms (a stuck or too slow step). Like every
# librdkafka log line here, it reaches Python on the client's next poll.
_WARN_FACILITIES = frozenset({"MAXPOLL"})


class _DebugLog:
    """librdkafka's ``logger``: DEBUG (a refused connection is retried, not news), except the
    facilities in ``_WARN_FACILITIES``, which are WARNING."""

    def log(self, _level: int, message: str, *args: object) -> None:
        # confluent-kafka calls log(level, "%s [%s] %s", facility, client name, text).
        if args and args[0] in _WARN_FACILITIES:
            _librdkafka.warning(message, *args)
        else:
            _librdkafka.debug(message, *args)


_DEBUG_LOG = _DebugLog()


def on_client_error(error: KafkaError) -> None:
    """Every client's ``error_cb``: log and count (a client with its own callback passes errors on here)."""
    if error.fatal():
        log.error("fatal kafka client error", extra={"error": error.str()})
    elif error.code() == KafkaError._ALL_BROKERS_DOWN:
        # Once per outage (not per reconnect attempt): the one line an operator needs to see.
        log.warning("no Kafka broker reachable; the client keeps retrying", extra={"error": error.str()})
        metrics.BROKER_OUTAGES.labels("down").inc()
    else:
        _librdkafka.debug("kafka client error: %s", error.str())


def client_config(kafka: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """librdkafka config for any client: settings, security passthrough, quiet logs, overrides."""
    return {"logger": _DEBUG_LOG, "error_cb": on_client_error, **kafka.client(**overrides)}


def producer_config(kafka: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """Config of an idempotent producer (``acks=all``); ``overrides`` win (a transactional id, ...)."""
    return client_config(kafka, **{**PRODUCER_DEFAULTS, **overrides})


def consumer_config(kafka: KafkaSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """Config of a consumer in ``group_id`` with manual offsets and partition EOF reports."""
    return client_config(kafka, **{"group.id": group_id, **CONSUMER_DEFAULTS, **overrides})


def admin_client(kafka: KafkaSettings) -> AdminClient:
    """An admin client for metadata and topic management."""
    return AdminClient(client_config(kafka))


def scan_group(kafka: KafkaSettings, purpose: str) -> str:
    # Reads by assignment never join the group; a unique id keeps them out of everyone's way.
    return f"{kafka.consumer_group}-{purpose}-{uuid.uuid4().hex[:8]}"


# --- producing


class DeliveryReports:
    """Counts the delivery reports of the messages produced with :meth:`callback` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0
        self.delivered = 0
        self.errors: list[KafkaError] = []

    def expect(self) -> None:
        """Count one more message whose report is due."""
        with self._lock:
            self.sent += 1

    def callback(self, error: KafkaError | None, _message: Message) -> None:
        """``on_delivery`` for ``Producer.produce``."""
        with self._lock:
            if error is None:
                self.delivered += 1
            else:
                self.errors.append(error)

    @property
    def outstanding(self) -> int:
        """Messages produced whose report has not come yet."""
        with self._lock:
            return self.sent - self.delivered - len(self.errors)

    def wait(self, producer: Producer, timeout_s: float) -> bool:
        """Serve ``producer``'s callbacks until every report came (True) or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        while self.outstanding > 0 and time.monotonic() < deadline:
            producer.poll(0.005)
        return self.outstanding == 0


def produce(
    producer: Producer,
    topic: str,
    value: bytes | None,
    key: bytes | None = None,
    *,
    reports: DeliveryReports | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    timestamp_ms: int | None = None,
    deadline: float | None = None,
) -> None:
    """Queue one message, waiting for room while the local queue is full (until ``deadline``)."""
    extra: dict[str, Any] = {}
    if reports is not None:
        extra["on_delivery"] = reports.callback
    if headers:
        extra["headers"] = headers
    if timestamp_ms is not None:
        extra["timestamp"] = timestamp_ms
    while True:
        try:
            producer.produce(topic, value=value, key=key, **extra)
            break
        except BufferError:
            if deadline is not None and time.monotonic() >= deadline:
                raise
            producer.poll(0.05)  # deliveries make room
    if reports is not None:
        reports.expect()


_FLUSH_SLICE_S = 5.0  # a flush that takes longer logs that it waits


class CheckedProducer:
    """An idempotent producer whose :meth:`flush` raises unless the broker acknowledged every message.

    The librdkafka producer is created with the first message, not here.
    """

    def __init__(self, kafka: KafkaSettings, **overrides: Any) -> None:
        self._config = producer_config(kafka, **overrides)
        self._producer: Producer | None = None
        self._reports = DeliveryReports()

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        headers: list[tuple[str, bytes]] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one message; :meth:`flush` confirms it."""
        if self._producer is None:
            self._producer = Producer(self._config)
        produce(self._producer, topic, value, key, reports=self._reports, headers=headers, timestamp_ms=timestamp_ms)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for every report; raise :class:`DeliveryError` unless all were acknowledged.

        Returns how many messages were acknowledged since the previous flush.
        """
        reports, self._reports = self._reports, DeliveryReports()
        if self._producer is None:
            return 0
        deadline = time.monotonic() + timeout_s
        remaining = self._producer.flush(min(timeout_s, _FLUSH_SLICE_S))
        if remaining and time.monotonic() < deadline:
            metrics.BROKER_OUTAGES.labels("unresponsive").inc()
        while remaining and time.monotonic() < deadline:
            # librdkafka retries until the message timeout; say that the flow waits, and for what.
            log.warning("waiting for the broker to acknowledge messages", extra={"undelivered": remaining})
            remaining = self._producer.flush(max(0.0, min(_FLUSH_SLICE_S, deadline - time.monotonic())))
        failed = len(reports.errors) + max(remaining, reports.outstanding)
        if failed:
            errors = [error.str() for error in reports.errors[:5]] or "no delivery report in time"
            raise DeliveryError(f"{failed} of {reports.sent} messages not acknowledged: {errors}")
        return reports.delivered

    def send_durably(self, topic: str, key: str, value: bytes, timeout_s: float = 30.0) -> None:
        """Produce one message and return once the broker acknowledged it."""
        self.send(topic, value, key.encode())
        try:
            self.flush(timeout_s)
        except DeliveryError as exc:
            raise DeliveryError(f"could not deliver {key} to {topic}: {exc}") from exc

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what is queued (best effort: log what was not) and release the producer."""
        if self._producer is None:
            return
        remaining = self._producer.flush(timeout_s)
        if remaining:
            log.warning("producer closed with undelivered messages", extra={"undelivered": remaining})
        self._producer = None


# --- metadata


def check_client_config(kafka: KafkaSettings) -> None:
    """Raise :class:`ConfigError` (one line, naming the variable) when librdkafka refuses the client config.

    A typo in ``FLYWHEEL_KAFKA__CLIENT_CONFIG`` (``sasl.pasword``) or a value librdkafka does not
    know (``security.protocol: SASL_SLL``) otherwise surfaced as a traceback from the first client
    built. The check builds a producer with no bootstrap servers: it reads the config, never the network.
    """
    config = {**client_config(kafka), "bootstrap.servers": ""}
    try:
        Producer(config)
    except KafkaException as exc:
        # librdkafka quotes a refused value ('Invalid value "..." for configuration property');
        # the value may be a credential, so only the property is named.
        reason = _QUOTED_VALUE.sub("Invalid value for", exc.args[0].str())
        raise ConfigError(f"kafka.client_config (FLYWHEEL_KAFKA__CLIENT_CONFIG): {reason}") from None


_QUOTED_VALUE = re.compile(r'Invalid value ".*?" for')


def check_broker_reachable(kafka: KafkaSettings) -> None:
    """Raise :class:`BrokerUnreachable` (one line) unless the broker answers within its timeout.

    A client config librdkafka refuses raises :class:`ConfigError` first (:func:`check_client_config`).
    """
    check_client_config(kafka)
    errors: list[KafkaError] = []
    admin = AdminClient(client_config(kafka, error_cb=errors.append))
    timeout_s = kafka.connect_timeout_s
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        admin.poll(0)  # serves the error callbacks: they hold the cause ("Connection refused", ...)
        causes = [e for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN] or errors
        reason = causes[0].str() if causes else exc.args[0].str()
        raise BrokerUnreachable(
            f"cannot reach the Kafka broker at {kafka.bootstrap_servers} within {timeout_s:g}s ({reason}); "
            "check FLYWHEEL_KAFKA__BOOTSTRAP_SERVERS (and FLYWHEEL_KAFKA__CLIENT_CONFIG for TLS/SASL)"
        ) from None


def wait_for_broker(kafka: KafkaSettings) -> None:
    """:func:`check_broker_reachable`, tried again with backoff for up to ``kafka.startup_wait_s``.

    What a process started beside its broker does first (the flow, the Kubernetes init
    containers' ``stack topics``): ``FLYWHEEL_KAFKA__STARTUP_WAIT_S`` is named when it runs out.
    """
    wait_at_start(
        lambda: check_broker_reachable(kafka),
        BrokerUnreachable,
        "kafka",
        kafka.startup_wait_s,
        "FLYWHEEL_KAFKA__STARTUP_WAIT_S",
    )


def list_partitions(kafka: KafkaSettings, topic: str, timeout_s: float = 10.0) -> list[int]:
    """Partition ids of ``topic``; a clear error if it does not exist."""
    return partitions_of(admin_client(kafka), kafka, topic, timeout_s)


def partitions_of(client: AdminClient | Consumer, kafka: KafkaSettings, topic: str, timeout_s: float) -> list[int]:
    try:
        metadata = client.list_topics(topic, timeout=timeout_s)
    except KafkaException as exc:
        reason = exc.args[0].str()
        raise BrokerError(f"no metadata for topic {topic!r} from {kafka.bootstrap_servers}: {reason}") from None
    topic_metadata = metadata.topics.get(topic)
    if topic_metadata is None or topic_metadata.error is not None or not topic_metadata.partitions:
        reason = topic_metadata.error if topic_metadata is not None else "not found"
        raise BrokerError(f"cannot read topic {topic!r}: {reason}; run `flywheel stack topics` to create it")
    return sorted(topic_metadata.partitions)
