"""Test and benchmark support: read back the interactions topic, sign webhook requests.

Reads with ``isolation.level=read_committed`` from offset 0 of every partition until each
partition reports EOF (the local broker's ListOffsets answers are not to be trusted).
"""

from __future__ import annotations

import json
import time
from typing import Any

from flywheel.gateway.auth import sign
from flywheel.infra.kafka_reads import read_to_end
from flywheel.settings import Settings


def read_topic(settings: Settings, timeout_s: float = 15.0) -> list[tuple[bytes | None, dict[str, Any]]]:
    """Every committed message of the interactions topic as ``(key, decoded JSON value)``."""
    messages = read_to_end(settings.kafka, settings.topics.interactions, timeout_s)
    return [(message.key(), json.loads(message.value() or b"null")) for message in messages]


def signed_headers(api_key: str, secret: str, body: bytes, timestamp: float | None = None) -> dict[str, str]:
    """Headers for a signed webhook request with the default header names."""
    sent_at = str(int(time.time() if timestamp is None else timestamp))
    return {
        "X-API-Key": api_key,
        "X-Flywheel-Timestamp": sent_at,
        "X-Flywheel-Signature": sign(secret, sent_at, body),
        "Content-Type": "application/json",
    }
