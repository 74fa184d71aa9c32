"""Test and benchmark support: read back the interactions topic, sign webhook requests.

Reads with ``isolation.level=read_committed`` from offset 0 of every partition until each
partition reports EOF (the local broker's ListOffsets answers are not to be trusted).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from flywheel.settings import Settings
from gateway.auth import sign


def read_topic(settings: Settings, timeout_s: float = 15.0) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Every committed message of the interactions topic as ``(key, decoded JSON value)``."""
    topic = settings.topics.interactions
    consumer = Consumer(
        settings.kafka.client(
            **{
                "group.id": f"gateway-reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                "auto.offset.reset": "earliest",
            }
        )
    )
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        pending = set(partitions)
        messages: list[tuple[bytes | None, dict[str, Any]]] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions {sorted(pending)} of {topic} did not reach EOF")
            message = consumer.poll(0.2)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(message.partition())
                    continue
                raise KafkaException(error)
            messages.append((message.key(), json.loads(message.value() or b"null")))
        return messages
    finally:
        consumer.close()


def signed_headers(api_key: str, secret: str, body: bytes, timestamp: float | None = None) -> dict[str, str]:
    """Headers for a signed webhook request with the default header names."""
    sent_at = str(int(time.time() if timestamp is None else timestamp))
    return {
        "X-API-Key": api_key,
        "X-Flywheel-Timestamp": sent_at,
        "X-Flywheel-Signature": sign(secret, sent_at, body),
        "Content-Type": "application/json",
    }
