"""Decode and validate raw Kafka values into :class:`InteractionEvent` or a :class:`Rejection`.

Pure: no Kafka, no globals. The flow sends every rejection to the DLQ with its reason, and
passes every valid event through :func:`clean_event` before any decision.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import msgspec

from flywheel.config import ValidationSettings
from flywheel.operators.normalize import clean_text
from flywheel.schemas.events import SCHEMA_VERSION, InteractionEvent, Reason, Rejection, Signal

_decoder = msgspec.json.Decoder(InteractionEvent)
_metadata_encoder = msgspec.json.Encoder()

# Text fields whose size is bounded by ``max_text_bytes``.
_TEXT_FIELDS = ("prompt", "response", "final_user_edit", "comment")
# How much larger than the limits an event may grow when PII scrubbing replaces what it found
# ("a@b.co" -> "<EMAIL_ADDRESS>"): the size limits of texts the flow wrote scrubbed (review items,
# and the reviewer's decision that sends them back).
SCRUB_GROWTH = 3


@functools.lru_cache(maxsize=8)
def scrubbed_limits(limits: ValidationSettings) -> ValidationSettings:
    """``limits`` with room for what PII scrubbing adds to an event that was within them."""
    return limits.model_copy(
        update={
            "max_event_bytes": limits.max_event_bytes * SCRUB_GROWTH,
            "max_text_bytes": limits.max_text_bytes * SCRUB_GROWTH,
            "max_metadata_bytes": limits.max_metadata_bytes * SCRUB_GROWTH,
        }
    )


def decode_event(raw: bytes | None, limits: ValidationSettings, received_ms: int = 0) -> InteractionEvent | Rejection:
    """Decode one message value; never raises for bad input, returns a reason instead.

    ``received_ms``: when the message was received (its Kafka timestamp, the gateway's clock), in
    milliseconds since the epoch; an event claiming to have happened more than
    ``limits.max_future_s`` after it is rejected. 0 or less (no timestamp) skips that check.
    A ``review`` event is held to :func:`scrubbed_limits` of ``limits``.
    """
    if not raw:
        return Rejection(Reason.EMPTY_MESSAGE, "message value is empty or null")
    if len(raw) > limits.max_event_bytes * SCRUB_GROWTH:  # past even a review event's limit: not parsed
        return _too_large(len(raw), limits)
    event = _parsed(raw)
    if isinstance(event, Rejection):  # over the limit, it is that first (it is only parsed as a review event may be)
        return _too_large(len(raw), limits) if len(raw) > limits.max_event_bytes else event
    if event.signal is Signal.REVIEW:
        # A reviewer's decision sends back texts the flow stored scrubbed (``review/items.py``).
        limits = scrubbed_limits(limits)
    if len(raw) > limits.max_event_bytes:
        return _too_large(len(raw), limits)
    checked = _check_semantics(event, limits)
    if received_ms > 0 and isinstance(checked, InteractionEvent):
        return _check_event_time(checked, received_ms, limits)
    return checked


def _parsed(raw: bytes) -> InteractionEvent | Rejection:
    try:
        event: InteractionEvent = _decoder.decode(raw)
    except UnicodeDecodeError as exc:
        return Rejection(Reason.INVALID_UTF8, f"invalid UTF-8: {exc.reason} at byte {exc.start}")
    except msgspec.ValidationError as exc:
        return _classify_validation_error(str(exc))
    except msgspec.DecodeError as exc:
        if not is_utf8(raw):
            return Rejection(Reason.INVALID_UTF8, f"value is not valid UTF-8 ({exc})")
        return Rejection(Reason.MALFORMED_JSON, str(exc))
    return event


def _too_large(size: int, limits: ValidationSettings) -> Rejection:
    return Rejection(Reason.EVENT_TOO_LARGE, f"event is {size} bytes, over the limit of {limits.max_event_bytes}")


def _check_event_time(
    event: InteractionEvent, received_ms: int, limits: ValidationSettings
) -> InteractionEvent | Rejection:
    """Reject an event whose ``occurred_at`` lies too far after its message was received.

    Judged against the message's own timestamp, not the clock of the flow: a replay decides the same.
    """
    ahead_s = event.occurred_at.timestamp() - received_ms / 1000
    if ahead_s <= limits.max_future_s:
        return event
    received = datetime.fromtimestamp(received_ms / 1000, UTC).isoformat()
    return Rejection(
        Reason.OCCURRED_IN_FUTURE,
        f"`occurred_at` {event.occurred_at.isoformat()} is {ahead_s:.0f} s after the message was received"
        f" ({received}); at most {limits.max_future_s:g} s is allowed (validation.max_future_s)",
    )


def clean_event(event: InteractionEvent) -> tuple[InteractionEvent, dict[str, int]]:
    """The event with every text field NFC-normalised and stripped of control, bidi and invisible characters.

    Also returns how many characters of each kind (``control``, ``bidi``, ``invisible``) were
    removed (:func:`~flywheel.operators.normalize.clean_text`).
    """
    changes: dict[str, str] = {}
    total: dict[str, int] = {}
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if value is None:
            continue
        cleaned, removed = clean_text(value)
        for kind, count in removed.items():
            total[kind] = total.get(kind, 0) + count
        if cleaned != value:
            changes[name] = cleaned
    return (msgspec.structs.replace(event, **changes) if changes else event), total


def is_clean_json(raw: bytes) -> bool:
    """True when no text decoded from this JSON can hold a character :func:`clean_event` changes.

    ASCII JSON holds no control character but as an escape (raw ones are invalid JSON) and no
    bidi or invisible character at all, and ASCII is NFC; so unless it holds DEL or an escape
    that can decode to a removed character, :func:`clean_event` returns its event unchanged.
    Conservative: ``\\\\u`` (an escaped backslash before a ``u``) also says "not clean".
    """
    if not raw.isascii() or b"\x7f" in raw:
        return False
    if b"\\" not in raw:
        return True
    # Escapes that can decode to a removed character: backspace, form feed and any \uXXXX (the
    # others, \n \r \t \" \\ \/, decode to characters clean_text keeps).
    return b"\\u" not in raw and b"\\b" not in raw and b"\\f" not in raw


def _check_semantics(event: InteractionEvent, limits: ValidationSettings) -> InteractionEvent | Rejection:
    """Rules a JSON schema cannot express: version, per-signal fields, sizes."""
    if event.schema_version != SCHEMA_VERSION:
        return Rejection(
            Reason.UNSUPPORTED_SCHEMA_VERSION,
            f"schema_version {event.schema_version} is not supported (expected {SCHEMA_VERSION})",
        )
    if event.signal is Signal.EDIT and event.final_user_edit is None:
        return Rejection(Reason.MISSING_FIELD, "signal `edit` requires `final_user_edit`")
    if event.signal is Signal.RATING and event.rating is None:
        return Rejection(Reason.MISSING_FIELD, "signal `rating` requires `rating`")
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        # len(str) <= bytes <= 4 * len(str): encode only when the cheap bound is inconclusive.
        if value is not None and len(value) * 4 > limits.max_text_bytes:
            size = len(value.encode("utf-8"))
            if size > limits.max_text_bytes:
                return Rejection(
                    Reason.FIELD_TOO_LARGE,
                    f"`{name}` is {size} bytes, over the limit of {limits.max_text_bytes}",
                )
    if event.metadata:
        size = len(_metadata_encoder.encode(event.metadata))
        if size > limits.max_metadata_bytes:
            return Rejection(
                Reason.FIELD_TOO_LARGE,
                f"`metadata` is {size} bytes, over the limit of {limits.max_metadata_bytes}",
            )
    return event


def _classify_validation_error(message: str) -> Rejection:
    """Map msgspec's validation message onto a stable reason code, keeping the message."""
    if message.startswith("Object missing required field"):
        return Rejection(Reason.MISSING_FIELD, message)
    if message.startswith("Invalid enum value") and "$.signal" in message:
        return Rejection(Reason.UNKNOWN_SIGNAL, message)
    if message.startswith("Expected `object`") and " - at " not in message:
        return Rejection(Reason.NOT_AN_OBJECT, message)
    if message.startswith("Expected `") and ", got `" in message:
        return Rejection(Reason.WRONG_TYPE, message)
    return Rejection(Reason.INVALID_VALUE, message)


def is_utf8(raw: bytes) -> bool:
    """True when ``raw`` decodes as UTF-8 (checked only on error paths: it copies)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
