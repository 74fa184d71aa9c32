"""Dead-letter messages: the raw bytes untouched, the reason and source coordinates in headers.

Headers follow the Kafka Connect DLQ convention so standard tooling can read them; the key
is the source coordinates, so a consumer can drop the duplicates an at-least-once replay
may produce.
"""

from __future__ import annotations

from flywheel.schemas.events import Rejection
from flywheel.schemas.records import OutboundMessage, SourceMessage

REASON_HEADER = "flywheel.error.reason"
DETAIL_HEADER = "flywheel.error.detail"
TOPIC_HEADER = "flywheel.source.topic"
PARTITION_HEADER = "flywheel.source.partition"
OFFSET_HEADER = "flywheel.source.offset"
TIMESTAMP_HEADER = "flywheel.source.timestamp"
KEY_HEADER = "flywheel.source.key"


def dead_letter(message: SourceMessage, rejection: Rejection, dlq_topic: str) -> OutboundMessage:
    """The DLQ message for an undecodable or invalid source message."""
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
    return OutboundMessage(dlq_topic, key, message.value, headers)
