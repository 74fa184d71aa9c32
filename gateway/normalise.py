"""Turn the three accepted input shapes into canonical events, validated by the flow's decoder.

Every normalised event is encoded and decoded with :func:`operators.decode.decode_event` and
``settings.validation``: the gateway accepts exactly what the flow accepts, and reports the
decoder's rejection as a field-level 422 instead of sending the event to the DLQ later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flywheel.config import ValidationSettings
from flywheel.errors import InvalidEvent
from flywheel.gateway.ids import new_event_id
from flywheel.gateway.models import EventIn, FeedbackIn, TelemetryIn
from flywheel.operators.decode import decode_event
from flywheel.schemas.events import InteractionEvent, Reason, Rejection, Signal, encode_event

_FIELD_IN_DETAIL = re.compile(r"`([a-z_]+)`|\$\.([a-z_]+)")
_QUOTED_NAME = re.compile(r"`([a-z_]+)`")

# Canonical field -> the name a seed shape sends it as (from_feedback, from_telemetry), so their
# 422s name what the client sent. None: the canonical names (POST /v1/events).
FieldNames = Mapping[str, str] | None
FEEDBACK_NAMES: Mapping[str, str] = {
    "signal": "signal_type",
    "prompt": "user_query",
    "response": "ai_response",
    "final_user_edit": "user_correction",
}
TELEMETRY_NAMES: Mapping[str, str] = {"response": "original_llm_output"}


@dataclass(frozen=True)
class EncodedEvent:
    """A validated event with its Kafka key and value."""

    event: InteractionEvent
    key: bytes
    value: bytes


def from_event(body: EventIn, received_at: datetime, new_id: Callable[[], str] = new_event_id) -> InteractionEvent:
    """The canonical shape: fill ``event_id`` and ``occurred_at`` when absent."""
    fields = body.model_dump(exclude={"event_id", "occurred_at"})
    return InteractionEvent(
        **fields,
        event_id=body.event_id or new_id(),
        occurred_at=_utc(body.occurred_at or received_at),
    )


def from_feedback(
    body: FeedbackIn, received_at: datetime, new_id: Callable[[], str] = new_event_id
) -> InteractionEvent:
    """The seed's ``FeedbackSignal``: query/response/correction map onto prompt/response/edit."""
    return InteractionEvent(
        event_id=body.event_id or new_id(),
        signal=body.signal_type,
        occurred_at=_utc(body.occurred_at or received_at),
        thread_id=body.thread_id or body.request_id,
        user_id=_user_id(body.user_id, body.metadata),
        prompt=body.user_query,
        response=body.ai_response,
        request_id=body.request_id,
        segment=body.segment,
        model_id=body.model_id,
        model_version=body.model_version,
        final_user_edit=body.user_correction,
        rating=body.rating,
        comment=body.comment,
        metadata=body.metadata,
    )


def from_telemetry(
    body: TelemetryIn, received_at: datetime, new_id: Callable[[], str] = new_event_id
) -> InteractionEvent:
    """The seed's edit telemetry: always an ``edit`` of ``original_llm_output``."""
    event_id = body.event_id or new_id()
    return InteractionEvent(
        event_id=event_id,
        signal=Signal.EDIT,
        occurred_at=_utc(body.occurred_at or received_at),
        thread_id=body.thread_id or event_id,
        user_id=_user_id(body.user_id, body.metadata),
        prompt=body.prompt,
        response=body.original_llm_output,
        request_id=body.request_id,
        segment=body.segment,
        model_id=body.model_id,
        model_version=body.model_version,
        final_user_edit=body.final_user_edit,
        metadata=body.metadata,
    )


def validate(
    events: list[InteractionEvent],
    limits: ValidationSettings,
    batch: bool,
    received_ms: int = 0,
    max_past_s: float = 0.0,
) -> list[EncodedEvent]:
    """Encode each event and run the flow's decoder on it; raise :class:`InvalidEvent` on any rejection.

    ``received_ms``: the gateway's clock, as the flow will see it in the message's timestamp
    (an ``occurred_at`` too far after it is refused here rather than sent to the DLQ later).
    ``max_past_s`` (``gateway.max_past_s``, 0: no limit): an ``occurred_at`` longer before it
    is refused too, as the flow could not deduplicate a retry of that event. A batch naming one
    ``event_id`` twice is refused: the flow would keep one of them and drop the other unseen.
    """
    encoded: list[EncodedEvent] = []
    errors: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        prefix: list[str | int] = ["body", "events", index] if batch else ["body"]
        unencodable = _unencodable(event)
        if unencodable:
            errors.extend({**error, "loc": [*prefix, *error["loc"]]} for error in unencodable)
            continue
        value = encode_event(event)
        decoded = decode_event(value, limits, received_ms)
        if isinstance(decoded, Rejection):
            errors.append({"loc": [*prefix, *_field_of(decoded)], "msg": decoded.detail, "type": decoded.reason})
            continue
        too_old = _too_old(decoded, received_ms, max_past_s)
        if too_old is not None:
            errors.append({"loc": [*prefix, "occurred_at"], "msg": too_old, "type": "occurred_too_long_ago"})
            continue
        encoded.append(EncodedEvent(decoded, decoded.thread_id.encode("utf-8"), value))
    if batch:
        errors.extend(_repeated_ids(events))
    if errors:
        raise InvalidEvent(errors)
    return encoded


def _repeated_ids(events: list[InteractionEvent]) -> list[dict[str, Any]]:
    """One error per ``event_id`` that more than one event of a batch carries, with their indices."""
    indices: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        indices.setdefault(event.event_id, []).append(index)
    return [
        {
            "loc": ["body", "events", at[1], "event_id"],
            "msg": f"event_id {event_id!r} is given to the events at indices {', '.join(map(str, at))}; an "
            "event_id names one event (the flow keeps one of them): give each event its own, or send it once",
            "type": "duplicate_event_id",
        }
        for event_id, at in indices.items()
        if len(at) > 1
    ]


def in_client_names(errors: list[dict[str, Any]], names: FieldNames) -> list[dict[str, Any]]:
    """``errors`` about canonical fields, with each field (in ``loc`` and quoted in ``msg``) renamed by ``names``."""
    if not names:
        return errors

    def rename(name: Any) -> Any:
        return names.get(name, name) if isinstance(name, str) else name

    renamed = []
    for error in errors:
        loc = [*error["loc"][:1], *map(rename, error["loc"][1:2]), *error["loc"][2:]]
        msg = _QUOTED_NAME.sub(lambda match: f"`{rename(match.group(1))}`", str(error["msg"]))
        renamed.append({**error, "loc": loc, "msg": msg})
    return renamed


def _too_old(event: InteractionEvent, received_ms: int, max_past_s: float) -> str | None:
    """Why ``event`` occurred too long before ``received_ms`` for the flow's dedup, or None."""
    if max_past_s <= 0 or received_ms <= 0:
        return None
    behind_s = received_ms / 1000 - event.occurred_at.timestamp()
    if behind_s <= max_past_s:
        return None
    return (
        f"`occurred_at` {event.occurred_at.isoformat()} is {behind_s:.0f} s before the gateway received it; at most "
        f"{max_past_s:g} s is allowed (gateway.max_past_s), as the flow deduplicates event_ids only within its dedup "
        "window (curation.dedup.window_s), so a retry of an older event would be kept twice. Backfill older "
        "events by publishing to the interactions topic directly, or raise gateway.max_past_s together with "
        "curation.dedup.window_s"
    )


def _unencodable(event: InteractionEvent) -> list[dict[str, Any]]:
    """What the topic's JSON cannot carry as given, as field-level errors (``loc`` relative to the body).

    A lone surrogate (``"\\ud800"`` in the request's JSON) has no UTF-8 encoding; a NaN or an
    infinity (``NaN``, ``1e999``) has no JSON spelling, and the encoder would write ``null``
    in its place: a changed value, refused rather than stored. Walked without recursion:
    ``metadata`` may nest as deep as the request's JSON parser allows.
    """
    errors: list[dict[str, Any]] = []
    stack: list[tuple[list[str | int], Any]] = [
        ([name], getattr(event, name)) for name in reversed(event.__struct_fields__)
    ]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            if not _utf8_encodable(value):
                errors.append(_surrogate_error(loc, f"`{loc[0]}`" if len(loc) == 1 else "a metadata value", value))
        elif isinstance(value, float):
            if not math.isfinite(value):
                msg = f"{value} is not a JSON number: metadata numbers must be finite"
                errors.append({"loc": loc, "msg": msg, "type": "finite_number"})
        elif isinstance(value, dict):
            for key in value:
                if isinstance(key, str) and not _utf8_encodable(key):
                    errors.append(_surrogate_error([*loc, key], "a metadata key", key))
            stack.extend(([*loc, key], item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(([*loc, position], item) for position, item in reversed(list(enumerate(value))))
    return errors


def _utf8_encodable(text: str) -> bool:
    """False when ``text`` holds a lone surrogate (the only str that UTF-8 cannot encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _surrogate_error(loc: list[str | int], what: str, text: str) -> dict[str, Any]:
    surrogate = next(char for char in text if 0xD800 <= ord(char) <= 0xDFFF)
    msg = f"{what} holds a lone surrogate (\\u{ord(surrogate):04x}), which has no UTF-8 encoding"
    return {"loc": loc, "msg": msg, "type": Reason.INVALID_UTF8}


def _field_of(rejection: Rejection) -> list[str]:
    """The field a decoder rejection names, when it names one (its detail quotes it)."""
    if rejection.reason == Reason.UNSUPPORTED_SCHEMA_VERSION:
        return ["schema_version"]
    if rejection.reason == Reason.MISSING_FIELD and "requires" in rejection.detail:
        names = _FIELD_IN_DETAIL.findall(rejection.detail)
        return [names[-1][0] or names[-1][1]] if names else []
    match = _FIELD_IN_DETAIL.search(rejection.detail)
    if match is None:
        return []
    return [match.group(1) or match.group(2)]


def _user_id(explicit: str | None, metadata: dict[str, Any]) -> str:
    candidate = metadata.get("user_id")
    if explicit:
        return explicit
    if isinstance(candidate, str) and candidate:
        return candidate
    return "anonymous"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
