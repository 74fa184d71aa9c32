"""The interaction-event contract (topic ``flywheel.interactions.v1``), schema version 1.

One JSON object per Kafka message, key = ``thread_id``. Decoded by msgspec straight into
typed structs; every failure is turned into a :class:`Rejection` with a stable reason code
and a human-readable detail.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

SCHEMA_VERSION = 1


class Signal(StrEnum):
    """What the user did with the model's answer."""

    EDIT = "edit"
    THUMBS_UP = "thumbs_up"
    THUMBS_DOWN = "thumbs_down"
    RATING = "rating"
    REGENERATE = "regenerate"
    COPY = "copy"
    ABANDON = "abandon"
    FOLLOW_UP = "follow_up"
    ESCALATION = "escalation"
    VIEW = "view"
    REVIEW = "review"  # a human reviewer's decision on a queued item (schemas/review.py)


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]


class InteractionEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=False, kw_only=True):
    """One user interaction with one model answer."""

    event_id: NonEmpty
    signal: Signal
    occurred_at: UtcTime
    thread_id: NonEmpty
    user_id: NonEmpty
    prompt: str
    response: str
    schema_version: int = SCHEMA_VERSION
    request_id: str | None = None
    segment: str = "default"
    model_id: str = "unknown"
    model_version: str = "unknown"
    final_user_edit: str | None = None
    rating: Rating | None = None
    comment: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class Rejection(msgspec.Struct, frozen=True):
    """Why a message could not become an event."""

    reason: str
    detail: str


class Reason:
    """Stable reason codes for undecodable or invalid input (DLQ header and metric label)."""

    EVENT_TOO_LARGE = "event_too_large"
    INVALID_UTF8 = "invalid_utf8"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_SIGNAL = "unknown_signal"
    INVALID_VALUE = "invalid_value"
    FIELD_TOO_LARGE = "field_too_large"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    EMPTY_MESSAGE = "empty_message"

    ALL = (
        EVENT_TOO_LARGE,
        INVALID_UTF8,
        MALFORMED_JSON,
        NOT_AN_OBJECT,
        MISSING_FIELD,
        WRONG_TYPE,
        UNKNOWN_SIGNAL,
        INVALID_VALUE,
        FIELD_TOO_LARGE,
        UNSUPPORTED_SCHEMA_VERSION,
        EMPTY_MESSAGE,
    )


_encoder = msgspec.json.Encoder()


def encode_event(event: InteractionEvent) -> bytes:
    """Serialise an event as the JSON the topic carries."""
    return _encoder.encode(event)
