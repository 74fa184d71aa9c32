"""The write routes: ``POST /v1/events``, ``/v1/feedback`` and ``/v1/telemetry``.

Each normalises its body to canonical events, validates them with the flow's decoder (422) and
produces them in one Kafka transaction (503 when the broker does not commit it). A signed
request the broker did not commit (503, or 413 for its size) gives its signature back: the
client may retry the same bytes.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at runtime.

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from flywheel.gateway.config import GatewayConfig
from flywheel.gateway.failures import Failure, documented_errors
from flywheel.gateway.guard import Guard, guarded_router
from flywheel.gateway.ids import IDEMPOTENCY_KEY_MAX, RequestIds, idempotency_key_error
from flywheel.gateway.metrics import EVENTS_PRODUCED
from flywheel.gateway.models import Accepted, EventBatch, EventsBody, FeedbackIn, TelemetryIn
from flywheel.gateway.normalise import (
    FEEDBACK_NAMES,
    TELEMETRY_NAMES,
    FieldNames,
    InvalidEvent,
    from_event,
    from_feedback,
    from_telemetry,
    in_client_names,
    validate,
)
from flywheel.gateway.publisher import BrokerUnavailable, EventPublisher, MessageTooLarge
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.review import REVIEW_EVENT_ID_PREFIX

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX,
        description="Makes a retry safe: the events without an event_id get ids derived from this key, their "
        "position in the body and their fields (occurred_at aside), so a retried request lands once after the "
        "flow's dedup. Use a new key for each new request.",
    ),
]


def ingest_router(settings: GatewayConfig, publisher: EventPublisher, guard: Guard) -> APIRouter:
    """The guarded write routes, producing through ``publisher``."""
    gateway = settings.gateway
    write_responses = {**documented_errors(401, 413, 415, 422, 429, 503)}
    router = guarded_router(gateway.api_key_header)

    async def produce(
        route: str, events: list[InteractionEvent], batch: bool, request: Request, sent_as: FieldNames = None
    ) -> Accepted:
        """Validate and publish ``events``; ``sent_as``: the route's names for canonical fields, for its 422s."""
        try:
            _check_review_signals(events, request.state.key_id, gateway.review_key_ids)
            received_ms = int(datetime.now(UTC).timestamp() * 1000)
            encoded = validate(events, settings.validation, batch, received_ms, gateway.max_past_s)
        except InvalidEvent as exc:
            raise RequestValidationError(in_client_names(exc.errors, sent_as)) from exc
        ids = [item.event.event_id for item in encoded]
        try:
            await run_in_threadpool(publisher.publish, encoded)
        except MessageTooLarge as exc:
            await guard.refund(request)
            raise Failure(413, f"the broker refused an event for its size: {exc}", ids) from exc
        except BrokerUnavailable as exc:
            await guard.refund(request)
            # Not always "nothing written": a delivery that timed out may still land. Either way the
            # same event_ids make a retry safe (a resend with the same Idempotency-Key or signature, or of
            # events stamped with the client's occurred_at, derives the same ones: gateway/ids.py).
            raise Failure(503, f"broker unavailable: {exc}; retry with these event_ids", ids) from exc
        EVENTS_PRODUCED.labels(route).inc(len(ids))
        return Accepted(event_ids=ids)

    @router.post(
        "/v1/events",
        status_code=202,
        response_model=Accepted,
        responses=write_responses,
        summary="Ingest one canonical event, or a batch {events: [...]} all-or-nothing",
    )
    async def post_events(body: EventsBody, request: Request, idempotency_key: IdempotencyKey = None) -> Accepted:
        received_at = datetime.now(UTC)
        if isinstance(body, EventBatch):
            if len(body.events) > gateway.batch_max_events:
                raise RequestValidationError(
                    [
                        {
                            "loc": ["body", "events"],
                            "msg": f"at most {gateway.batch_max_events} events per batch",
                            "type": "too_long",
                        }
                    ]
                )
            ids = _ids(request, idempotency_key)
            events = [
                from_event(item, received_at, _new_id(ids, index, item)) for index, item in enumerate(body.events)
            ]
            return await produce("/v1/events", events, batch=True, request=request)
        event = from_event(body, received_at, _new_id(_ids(request, idempotency_key), 0, body))
        return await produce("/v1/events", [event], batch=False, request=request)

    @router.post(
        "/v1/feedback",
        status_code=202,
        response_model=Accepted,
        responses=write_responses,
        summary="Ingest the seed's FeedbackSignal",
    )
    async def post_feedback(body: FeedbackIn, request: Request, idempotency_key: IdempotencyKey = None) -> Accepted:
        event = from_feedback(body, datetime.now(UTC), _new_id(_ids(request, idempotency_key), 0, body))
        return await produce("/v1/feedback", [event], batch=False, request=request, sent_as=FEEDBACK_NAMES)

    @router.post(
        "/v1/telemetry",
        status_code=202,
        response_model=Accepted,
        responses=write_responses,
        summary="Ingest the seed's {prompt, original_llm_output, final_user_edit} edit telemetry",
    )
    async def post_telemetry(body: TelemetryIn, request: Request, idempotency_key: IdempotencyKey = None) -> Accepted:
        event = from_telemetry(body, datetime.now(UTC), _new_id(_ids(request, idempotency_key), 0, body))
        return await produce("/v1/telemetry", [event], batch=False, request=request, sent_as=TELEMETRY_NAMES)

    return router


def _ids(request: Request, idempotency_key: str | None) -> RequestIds:
    """Ids for the request's events that lack one (``gateway/ids.py``); 422 for a malformed key."""
    if idempotency_key is not None:
        error = idempotency_key_error(idempotency_key)
        if error is not None:
            loc = ["header", "Idempotency-Key"]
            raise RequestValidationError([{"loc": loc, "msg": error, "type": "value_error"}])
    return RequestIds(request.state.key_id, idempotency_key, getattr(request.state, "replay_token", None))


def _new_id(ids: RequestIds, position: int, sent: BaseModel) -> Callable[[], str]:
    """The id maker of the event at ``position``, called only when the client gave it no event_id."""
    fields = {name: getattr(sent, name) for name in type(sent).model_fields if name != "event_id"}
    return partial(ids.new_id, position, fields)


def _check_review_signals(events: list[InteractionEvent], key_id: str, allowed: tuple[str, ...]) -> None:
    """Only the review app's keys may send `review` events (they become trusted pairs, exempt from
    quotas) or use their event ids (a squatted one would make the flow drop the reviewer's decision)."""
    if key_id in allowed:
        return
    errors = [
        {"loc": ["body", "signal"], "msg": f"API key {key_id!r} may not send review events", "type": "value_error"}
        for event in events
        if event.signal is Signal.REVIEW
    ] + [
        {
            "loc": ["body", "event_id"],
            "msg": f"event ids starting {REVIEW_EVENT_ID_PREFIX!r} are the review app's",
            "type": "value_error",
        }
        for event in events
        if event.event_id.startswith(REVIEW_EVENT_ID_PREFIX)
    ]
    if errors:
        raise InvalidEvent(errors)
