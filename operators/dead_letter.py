"""Dead-letter messages: the raw bytes untouched, the reason and source coordinates in headers.

Headers follow the Kafka Connect DLQ convention so standard tooling can read them; the key
is the source coordinates, so a consumer can drop the duplicates an at-least-once replay
may produce. A message that would not fit the DLQ (``topics.dlq_max_message_bytes``) keeps the
start of its value, and says so: ``flywheel.source.value.bytes`` and ``...sha256`` describe the
whole value, which the source topic holds at the coordinates the headers name.
"""

from __future__ import annotations

import hashlib

from flywheel.config import DLQ_MAX_MESSAGE_BYTES
from flywheel.schemas.events import Rejection
from flywheel.schemas.records import OutboundMessage, SourceMessage

REASON_HEADER = "flywheel.error.reason"
DETAIL_HEADER = "flywheel.error.detail"
TOPIC_HEADER = "flywheel.source.topic"
PARTITION_HEADER = "flywheel.source.partition"
OFFSET_HEADER = "flywheel.source.offset"
TIMESTAMP_HEADER = "flywheel.source.timestamp"
KEY_HEADER = "flywheel.source.key"
VALUE_BYTES_HEADER = "flywheel.source.value.bytes"
VALUE_SHA256_HEADER = "flywheel.source.value.sha256"
TRUNCATED_HEADER = "flywheel.error.truncated"


def dead_letter(
    message: SourceMessage, rejection: Rejection, dlq_topic: str, max_bytes: int = DLQ_MAX_MESSAGE_BYTES
) -> OutboundMessage:
    """The DLQ message for an undecodable or invalid source message, cut to ``max_bytes`` if it must be."""
    source = message.coordinates
    headers = [
        (REASON_HEADER, rejection.reason.encode()),
        (DETAIL_HEADER, rejection.detail.encode("utf-8", "replace")[:2048]),
        (TOPIC_HEADER, source.topic.encode()),
        (PARTITION_HEADER, str(source.partition).encode()),
        (OFFSET_HEADER, str(source.offset).encode()),
        (TIMESTAMP_HEADER, str(source.timestamp_ms).encode()),
    ]
    if message.key is not None:
        headers.append((KEY_HEADER, message.key))
    key = f"{source.topic}:{source.partition}:{source.offset}".encode()
    value = message.value
    if value is not None and _size(key, value, headers) > max_bytes:
        headers += [
            (TRUNCATED_HEADER, b"true"),
            (VALUE_BYTES_HEADER, str(len(value)).encode()),
            (VALUE_SHA256_HEADER, hashlib.sha256(value).hexdigest().encode()),
        ]
        value = value[: max(0, max_bytes - _size(key, b"", headers))]
    return OutboundMessage(dlq_topic, key, value, headers)


def _size(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """Bytes the message takes, with room for the record's framing (about 100 bytes, and 16 a header)."""
    return len(key) + len(value) + sum(len(name) + len(data) + 16 for name, data in headers) + 128
