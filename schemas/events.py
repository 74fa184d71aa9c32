"""The interaction-event contract (topic ``flywheel.interactions.v1``), schema version 1.

One JSON object per Kafka message, key = ``thread_id``. Decoded by msgspec straight into
typed structs; every failure is turned into a :class:`Rejection` with a stable reason code
and a human-readable detail.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
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


# gc=False: the flow holds hundreds of thousands of events (dedup hold, sink buffers) and they
# can hold no reference cycle (decoded JSON, frozen); untracked, the cyclic collector never
# walks them (benchmarks: views ~15% less CPU per event).
class InteractionEvent(msgspec.Struct, gc=False, frozen=True, forbid_unknown_fields=False, kw_only=True):
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

    def __reduce__(self) -> str | tuple[Any, ...]:
        """Pickle as the event's JSON: a quarter of the CPU of pickling its fields.

        Events are pickled wherever they cross a process (Bytewax exchanges items between
        processes) or sit in recovery state (held dedup slots). The JSON holds every field
        exactly when every field has its declared type and meets its constraints (decoding
        validates them), the time zone is a fixed offset and ``metadata`` holds only JSON values
        (finite floats, string keys, lists); anything else is pickled field by field as before.
        """
        if _fields_json_exact(self):
            try:
                return (event_from_json, (encode_event(self),))
            except (TypeError, ValueError, OverflowError):  # e.g. a lone surrogate in a string
                pass
        return super().__reduce__()


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
    OCCURRED_IN_FUTURE = "occurred_in_future"

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
        OCCURRED_IN_FUTURE,
    )


_encoder = msgspec.json.Encoder()


def encode_event(event: InteractionEvent) -> bytes:
    """Serialise an event as the JSON the topic carries."""
    return _encoder.encode(event)


def _fields_json_exact(event: InteractionEvent) -> bool:
    """True when decoding the event's JSON gives back the same fields, of the same types."""
    at, rating, optional = event.occurred_at, event.rating, _OPTIONAL_TEXT
    # Spelled out, not all(...) over generators: this runs for every event pickled.
    return (
        type(at) is datetime
        and type(at.tzinfo) is timezone
        and not at.fold
        and type(event.signal) is Signal
        and type(event.event_id) is str
        and type(event.thread_id) is str
        and type(event.user_id) is str
        and bool(event.event_id and event.thread_id and event.user_id)
        and type(event.prompt) is str
        and type(event.response) is str
        and type(event.segment) is str
        and type(event.model_id) is str
        and type(event.model_version) is str
        and type(event.request_id) in optional
        and type(event.final_user_edit) in optional
        and type(event.comment) in optional
        and type(event.schema_version) is int
        and (rating is None or (type(rating) is int and 1 <= rating <= 5))
        and type(event.metadata) is dict
        and _json_exact(event.metadata)
    )


_OPTIONAL_TEXT = (str, type(None))


def _json_exact(value: Any) -> bool:
    """True when a JSON encode and decode gives ``value`` back unchanged (type and value)."""
    if value is None or type(value) in (str, int, bool):
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is dict:
        return all(type(key) is str and _json_exact(item) for key, item in value.items())
    if type(value) is list:
        return all(_json_exact(item) for item in value)
    return False


_decoder = msgspec.json.Decoder(InteractionEvent)


def event_from_json(data: bytes) -> InteractionEvent:
    """Decode an event's topic JSON without any of the intake's checks (they passed once already).

    Unpickles what :meth:`InteractionEvent.__reduce__` pickled.
    """
    return _decoder.decode(data)


# The name recovery snapshots of earlier releases refer to.
_event_from_json = event_from_json
