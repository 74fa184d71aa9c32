"""Request and response bodies of the gateway (pydantic, for parsing and the OpenAPI schema).

Three input shapes become one :class:`schemas.events.InteractionEvent`:

* :class:`EventIn` — the canonical event (``POST /v1/events``), alone or in an :class:`EventBatch`;
* :class:`FeedbackIn` — the seed's ``FeedbackSignal`` (``POST /v1/feedback``);
* :class:`TelemetryIn` — the seed's ``{prompt, original_llm_output, final_user_edit}``
  (``POST /v1/telemetry``).

These models check structure and types only. Size limits and per-signal rules stay in one
place, the flow's decoder (:func:`operators.decode.decode_event` with ``settings.validation``),
which the gateway runs on every normalised event before producing it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from flywheel.schemas.events import SCHEMA_VERSION, Signal

NonEmpty = Annotated[str, Field(min_length=1)]
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _rfc3339_only(value: Any) -> Any:
    """Refuse unix-time numbers (pydantic's lax mode takes them): the schema says date-time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an RFC 3339 date-time with a UTC offset")
    return value


def _in_utc_range(value: datetime) -> datetime:
    """Refuse a time that is out of range once converted to UTC (``0001-01-01T00:00:00+14:00``)."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date-time is out of range once converted to UTC (years 1 to 9999)") from None
    return value


# A tz-aware RFC 3339 date-time, as the flow's decoder requires, that has a UTC equivalent.
DateTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only), AfterValidator(_in_utc_range)]


METADATA_DESCRIPTION = (
    "Free-form. `conversation`: the turns before `prompt`, oldest first, as "
    '[{"role": "system"|"user"|"assistant", "content": "..."}]; an edit pair is trained with them '
    "(stored PII-scrubbed; a malformed one rejects the pair)."
)


EVENT_ID_DESCRIPTION = (
    "Idempotency key. When absent: derived from the Idempotency-Key header, else from the event's fields when "
    "the client gives occurred_at, else from the request's signature, else a new UUIDv7."
)


class _Input(BaseModel):
    """Unknown fields ignored like the flow's decoder; numbers are strict (no "5" for 5)."""

    model_config = ConfigDict(extra="ignore")


class EventIn(_Input):
    """The canonical interaction event; ``event_id`` and ``occurred_at`` are filled when absent."""

    event_id: NonEmpty | None = Field(default=None, description=EVENT_ID_DESCRIPTION)
    signal: Signal
    occurred_at: DateTime | None = Field(default=None, description="Event time; receipt time when absent.")
    thread_id: NonEmpty
    user_id: NonEmpty = Field(description="Pseudonymous user id.")
    prompt: str
    response: str
    schema_version: int = Field(
        default=SCHEMA_VERSION, strict=True, description="Only the current version is accepted."
    )
    request_id: str | None = None
    segment: str = "default"
    model_id: str = "unknown"
    model_version: str = "unknown"
    final_user_edit: str | None = Field(default=None, description="Required when signal is `edit`.")
    rating: int | None = Field(default=None, strict=True, ge=1, le=5, description="Required when signal is `rating`.")
    comment: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict, description=METADATA_DESCRIPTION)


class EventBatch(_Input):
    """Several events, produced all-or-nothing in one Kafka transaction."""

    events: list[EventIn] = Field(min_length=1)


def _event_or_batch(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "event"


EventsBody = Annotated[
    Annotated[EventIn, Tag("event")] | Annotated[EventBatch, Tag("batch")],
    Discriminator(_event_or_batch),
]


class _Lineage(_Input):
    """Optional canonical fields the seed shapes lack; defaults are documented per field."""

    event_id: NonEmpty | None = Field(default=None, description=EVENT_ID_DESCRIPTION)
    occurred_at: DateTime | None = Field(default=None, description="Event time; receipt time when absent.")
    user_id: NonEmpty | None = Field(
        default=None, description="Pseudonymous user id; else metadata.user_id; else `anonymous`."
    )
    segment: str = "default"
    model_id: str = "unknown"
    model_version: str = "unknown"
    metadata: dict[str, Any] = Field(default_factory=dict, description=METADATA_DESCRIPTION)


class FeedbackIn(_Lineage):
    """The seed's ``FeedbackSignal``; ``thread_id`` defaults to ``request_id``."""

    request_id: NonEmpty
    signal_type: Signal = Field(description="thumbs_up, thumbs_down, edit, regenerate, ...")
    user_query: str = Field(description="The prompt (x).")
    ai_response: str = Field(description="The model's answer (y_model).")
    user_correction: str | None = Field(default=None, description="The user's edit (y_user); for `edit`.")
    thread_id: NonEmpty | None = None
    rating: int | None = Field(default=None, strict=True, ge=1, le=5)
    comment: str | None = None


class TelemetryIn(_Lineage):
    """The seed's edit telemetry; becomes an ``edit`` event. ``thread_id`` defaults to the event id."""

    prompt: str
    original_llm_output: str = Field(description="y_model")
    final_user_edit: str = Field(description="y_user")
    thread_id: NonEmpty | None = None
    request_id: str | None = None


class Accepted(BaseModel):
    """The broker acknowledged every event (committed transaction)."""

    status: Literal["accepted"] = "accepted"
    event_ids: list[str]


class ErrorBody(BaseModel):
    """A non-validation error."""

    detail: str
    event_ids: list[str] | None = Field(
        default=None, description="On 503: the ids assigned, to retry with (idempotent downstream)."
    )


class FieldError(BaseModel):
    """One field-level validation error."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: every field that failed validation."""

    detail: list[FieldError]


class ConversationTurn(BaseModel):
    """One message before the pair's prompt."""

    role: Literal["system", "user", "assistant"]
    content: str


class TrainingCandidate(BaseModel):
    """A curated DPO pair, in TRL's column names plus lineage and the earlier turns of its conversation."""

    pair_id: str
    prompt: str
    chosen: str
    rejected: str
    event_id: str
    thread_id: str
    user_id: str
    segment: str
    model_id: str
    model_version: str
    similarity: float
    edit_distance: int
    policy_version: str
    occurred_at: datetime
    curated_at: datetime
    conversation: list[ConversationTurn] = Field(
        default_factory=list,
        description="The turns before `prompt`, oldest first, PII-scrubbed (TRL's conversational prompt is these "
        "then `{role: user, content: prompt}`); empty for a single-turn pair.",
    )


class CandidatePage(BaseModel):
    """One page of training candidates, read from one table snapshot."""

    candidates: list[TrainingCandidate]
    count: int
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
    snapshot_id: int | None = Field(default=None, description="The Iceberg snapshot every page reads.")
