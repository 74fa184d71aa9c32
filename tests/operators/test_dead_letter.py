"""A DLQ message keeps the raw bytes, and one that would not fit the DLQ is cut to fit, saying so.

A source message near the broker's limit (a Java client may send up to ~1 MiB) is invalid as
``event_too_large``; its DLQ copy adds headers and a key, so unchanged it would be refused by
the producer (librdkafka's ``message.max.bytes``), fail the epoch and fail again at every restart.
"""

from __future__ import annotations

import hashlib

import pytest
from confluent_kafka import KafkaException, Producer

from flywheel.config import ValidationSettings
from flywheel.flows.decisions import Invalid
from flywheel.flows.intake import Intake
from flywheel.operators.dead_letter import (
    OFFSET_HEADER,
    TRUNCATED_HEADER,
    VALUE_BYTES_HEADER,
    VALUE_SHA256_HEADER,
    dead_letter,
)
from flywheel.operators.decode import decode_event
from flywheel.schemas.events import Rejection
from flywheel.schemas.records import OutboundMessage, SourceCoordinates, SourceMessage

WHERE = SourceCoordinates("flywheel.interactions.v1", 2, 123456, 1733400000000)


def _invalid(value: bytes, key: bytes | None = b"thread-123") -> Invalid:
    rejection = decode_event(value, ValidationSettings(), WHERE.timestamp_ms)
    assert isinstance(rejection, Rejection)
    return Invalid(SourceMessage(WHERE, key, value), rejection)


def _produced(letter: OutboundMessage) -> None:
    """Queue the message on a real librdkafka producer: it checks the size before any broker is asked."""
    producer = Producer({"bootstrap.servers": "127.0.0.1:9", "log_level": 0})
    producer.produce(letter.topic, value=letter.value, key=letter.key, headers=letter.headers)
    producer.purge()


def test_a_small_invalid_message_keeps_its_bytes_untouched() -> None:
    invalid = _invalid(b"{not json")
    letter = dead_letter(invalid.message, invalid.rejection, "dlq")
    assert letter.value == b"{not json"
    assert TRUNCATED_HEADER not in dict(letter.headers)


def test_a_message_near_the_brokers_limit_is_cut_to_fit_and_says_so() -> None:
    value = b'{"event_id": "' + b"x" * 999_650 + b'"}'  # 999,666 bytes: a default client sent it
    invalid = _invalid(value)
    assert invalid.rejection.reason == "event_too_large"
    whole = dead_letter(invalid.message, invalid.rejection, "dlq", max_bytes=10**7)  # no cap
    assert whole.value == value
    with pytest.raises(KafkaException, match="MSG_SIZE_TOO_LARGE"):
        _produced(whole)  # what the flow sent before: refused, the epoch failed at every restart

    letter = Intake(ValidationSettings(), "dlq").to_dead_letter(invalid)
    _produced(letter)
    headers = dict(letter.headers)
    assert letter.value is not None and value.startswith(letter.value) and 800_000 < len(letter.value) < 900_000
    assert headers[TRUNCATED_HEADER] == b"true"
    assert headers[VALUE_BYTES_HEADER] == str(len(value)).encode()
    assert headers[VALUE_SHA256_HEADER] == hashlib.sha256(value).hexdigest().encode()
    assert headers[OFFSET_HEADER] == b"123456"  # where the whole value is


def test_the_cap_is_the_dlq_topics_setting() -> None:
    invalid = _invalid(b"{" + b" " * 40_000)
    letter = Intake(ValidationSettings(), "dlq", dlq_max_bytes=16 * 1024).to_dead_letter(invalid)
    size = len(letter.key or b"") + len(letter.value or b"") + sum(len(n) + len(v) for n, v in letter.headers)
    assert size <= 16 * 1024 and dict(letter.headers)[VALUE_BYTES_HEADER] == b"40001"
