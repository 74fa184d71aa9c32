"""The gateway's FastAPI application: ``create_app(settings)``.

Every ``/v1`` route runs the same guard before FastAPI parses anything, in this order:
failed-authentication throttle of the client address (429) → API key (401) → body size
(413) → HMAC signature over the raw body (401) → signature not seen before (401; 503 when
a shared replay cache is down) → per-key rate limit (429). Authentication comes before the
key's rate limit, so forged requests cannot spend the owner's tokens; each 401 spends one
of the address's failures instead. Then a body that is not uncompressed JSON by its headers
is refused (415), the body is parsed (422), normalised, validated by
the flow's decoder (422) and produced in one Kafka transaction (503 when the broker does
not commit it). A signed request refused by the rate limit, or that the broker did not commit
(503, or 413 for its size), gives its signature back: the client may retry the same bytes.
"""

# No `from __future__ import annotations`: route signatures refer to values of create_app's scope.

import logging
import math
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from flywheel.errors import BodyTooLarge, CatalogUnavailable, ReplayCacheUnavailable, ReplayedRequest
from flywheel.gateway.auth import Authenticator, RateLimited, RateLimiter, Unauthorized
from flywheel.gateway.candidates import CandidateQuery, CandidateReader, InvalidCursor
from flywheel.gateway.config import GatewayConfig
from flywheel.gateway.ids import ids_for_request
from flywheel.gateway.media import unsupported_body
from flywheel.gateway.metrics import AUTH_REFUSED, EVENTS_PRODUCED, MetricsMiddleware
from flywheel.gateway.models import (
    Accepted,
    CandidatePage,
    DateTime,
    ErrorBody,
    EventBatch,
    EventsBody,
    FeedbackIn,
    TelemetryIn,
    ValidationErrorBody,
)
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
from flywheel.gateway.replay import build_replay_cache
from flywheel.infra.throttle import FailedAuthThrottle
from flywheel.operators.decode import is_utf8
from flywheel.schemas.events import InteractionEvent, Signal
from flywheel.schemas.review import REVIEW_EVENT_ID_PREFIX

log = logging.getLogger(__name__)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass
class Guard:
    """What the guarded routes need, kept on ``app.state.guard``."""

    authenticator: Authenticator
    limiter: RateLimiter
    failures: FailedAuthThrottle
    max_body_bytes: int

    async def admit(self, request: Request) -> bytes:
        """Authenticate, then rate-limit ``request``; its raw body once admitted."""
        address = request.client.host if request.client else "unknown"
        try:
            self.failures.check(address)
        except RateLimited:
            AUTH_REFUSED.labels("throttled").inc()
            raise
        try:
            key_id = self.authenticator.identify(request.headers)
            request.state.key_id = key_id  # scope state: the handler's Request sees it too
            body = await _read_body(request, self.max_body_bytes)
            token = self.authenticator.verify(key_id, request.headers, body)
            if token is not None:  # the replay cache may be Redis: keep its round trip off the event loop
                await run_in_threadpool(self.authenticator.spend, token)
                request.state.replay_token = token  # given back if the broker then commits nothing
        except Unauthorized as exc:
            self.failures.failed(address)
            AUTH_REFUSED.labels("replay" if isinstance(exc, ReplayedRequest) else "credentials").inc()
            raise
        try:
            self.limiter.acquire(key_id)
        except RateLimited:
            # Nothing was produced: the same signed request may be retried (and is answered 429,
            # not the replay cache's 503, should the cache be gone right now).
            await self.refund(request)
            raise
        return body

    async def refund(self, request: Request) -> None:
        """Give back the request's spent signature, if it had one: nothing of it was committed.

        The client may then retry the same signed bytes (after a 503 or a broker's 413) instead of
        getting 401 "already received". A replay cache that cannot be reached now only keeps the
        signature spent: the request's own answer is not replaced by the cache's 503.
        """
        token: str | None = getattr(request.state, "replay_token", None)
        if token is None:
            return
        try:
            await run_in_threadpool(self.authenticator.refund, token)
        except ReplayCacheUnavailable as exc:
            log.warning("could not give back a signature of a refused request", extra={"error": str(exc)})


class GuardedRoute(APIRoute):
    """An APIRoute that authenticates, rate-limits and size-limits before FastAPI reads the body."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            guard: Guard = request.app.state.guard
            body = await guard.admit(request)
            unsupported = unsupported_body(request.headers) if body else None
            if unsupported is not None:
                raise _Failure(415, unsupported, None)
            if body and not is_utf8(body):  # FastAPI would answer 400; it is a body error
                error = {"loc": ["body"], "msg": "body is not UTF-8 encoded JSON", "type": "json_invalid"}
                raise RequestValidationError([error])
            return await handler(Request(request.scope, _replay(body)))

        return guarded


# Every 503 (broker, catalog or shared replay cache unavailable) says when to try again, like the
# model server's busy 503: long enough for a broker's leader election, short enough to catch up.
RETRY_AFTER_UNAVAILABLE_S = 5


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    described = {
        401: "Missing or wrong API key or signature; nothing produced.",
        413: "Body larger than the configured limit; nothing produced.",
        415: "Body not sent as uncompressed JSON (Content-Type, Content-Encoding); nothing produced.",
        422: "Field-level validation errors; nothing produced.",
        429: "Rate limit of this API key, or failed authentications from this address, exceeded; see Retry-After.",
        503: "Broker (or shared replay cache) unavailable or did not commit; nothing visible to consumers; "
        "see Retry-After.",
    }
    return {
        code: {"model": ValidationErrorBody if code == 422 else ErrorBody, "description": described[code]}
        for code in codes
    }


def create_app(settings: GatewayConfig) -> FastAPI:
    """The gateway for ``settings``; producers and the catalog are opened lazily, closed at shutdown."""
    gateway = settings.gateway
    publisher = EventPublisher(settings.kafka, settings.topics.interactions, gateway)
    reader = CandidateReader(settings.catalog)
    authenticator = Authenticator(gateway, build_replay_cache(gateway.replay_cache))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(publisher.close)
        await run_in_threadpool(authenticator.close)

    app = FastAPI(
        title="Data Flywheel ingestion gateway",
        version="1.0.0",
        description="Feedback and telemetry in, to the interactions topic; curated DPO pairs out.",
        lifespan=lifespan,
    )
    guard = Guard(
        authenticator, RateLimiter(gateway.rate_limit), FailedAuthThrottle(gateway.failed_auth), gateway.max_body_bytes
    )
    app.state.guard = guard
    app.state.publisher = publisher
    app.add_middleware(MetricsMiddleware)
    _add_exception_handlers(app)
    api_key = Security(APIKeyHeader(name=gateway.api_key_header, auto_error=False))
    write_responses = {**_errors(401, 413, 415, 422, 429, 503)}
    v1 = APIRouter(route_class=GuardedRoute, dependencies=[api_key])

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
            raise _Failure(413, f"the broker refused an event for its size: {exc}", ids) from exc
        except BrokerUnavailable as exc:
            await guard.refund(request)
            # Not always "nothing written": a delivery that timed out may still land. Either way the
            # same event_ids make a retry safe (a signed resend derives the same ones: gateway/ids.py).
            raise _Failure(503, f"broker unavailable: {exc}; retry with these event_ids", ids) from exc
        EVENTS_PRODUCED.labels(route).inc(len(ids))
        return Accepted(event_ids=ids)

    @v1.post(
        "/v1/events",
        status_code=202,
        response_model=Accepted,
        responses=write_responses,
        summary="Ingest one canonical event, or a batch {events: [...]} all-or-nothing",
    )
    async def post_events(body: EventsBody, request: Request) -> Accepted:
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
            new_id = _ids(request)
            events = [from_event(item, received_at, new_id) for item in body.events]
            return await produce("/v1/events", events, batch=True, request=request)
        return await produce("/v1/events", [from_event(body, received_at, _ids(request))], batch=False, request=request)

    @v1.post(
        "/v1/feedback",
        status_code=202,
        response_model=Accepted,
        responses=write_responses,
        summary="Ingest the seed's FeedbackSignal",
    )
    async def post_feedback(body: FeedbackIn, request: Request) -> Accepted:
        event = from_feedback(body, datetime.now(UTC), _ids(request))
        return await produce("/v1/feedback", [event], batch=False, request=request, sent_as=FEEDBACK_NAMES)

    @v1.post(
        "/v1/telemetry",
        status_code=202,
        response_model=Accepted,
        responses=write_responses,
        summary="Ingest the seed's {prompt, original_llm_output, final_user_edit} edit telemetry",
    )
    async def post_telemetry(body: TelemetryIn, request: Request) -> Accepted:
        event = from_telemetry(body, datetime.now(UTC), _ids(request))
        return await produce("/v1/telemetry", [event], batch=False, request=request, sent_as=TELEMETRY_NAMES)

    @v1.get(
        "/v1/flywheel/training-candidates",
        response_model=CandidatePage,
        responses={
            **_errors(401, 413, 422, 429),
            503: {"model": ErrorBody, "description": "Iceberg catalog (or shared replay cache) unavailable; retry."},
        },
        summary="Curated DPO pairs, oldest first, paginated by cursor",
    )
    def get_training_candidates(
        request: Request,
        limit: Annotated[int, Query(ge=1, le=gateway.candidates_max_page_size)] = 100,
        segment: Annotated[str | None, Query()] = None,
        model_id: Annotated[str | None, Query()] = None,
        model_version: Annotated[str | None, Query()] = None,
        min_similarity: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
        since: Annotated[DateTime | None, Query(description="occurred_at >= since")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> CandidatePage:
        _check_query(request)
        query = CandidateQuery(limit, segment, model_id, model_version, min_similarity, since, cursor)
        try:
            return reader.page(query)
        except InvalidCursor as exc:
            raise RequestValidationError(
                [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
            ) from exc
        except CatalogUnavailable as exc:
            raise _Failure(503, str(exc), None) from exc

    @app.get("/healthz", summary="Liveness: the process serves HTTP")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Readiness: the broker answers metadata for the interactions topic",
        responses={503: {"model": ErrorBody, "description": "Broker unreachable."}},
    )
    async def readyz() -> dict[str, str]:
        if not await run_in_threadpool(publisher.ready):
            raise _Failure(503, "broker unreachable or interactions topic missing", None)
        return {"status": "ready"}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(v1)
    return app


def _ids(request: Request) -> Callable[[], str]:
    """Ids for the request's events that lack one: derived from its signature when it is signed."""
    return ids_for_request(getattr(request.state, "replay_token", None))


_CANDIDATE_PARAMS = {"limit", "segment", "model_id", "model_version", "min_similarity", "since", "cursor"}


def _check_query(request: Request) -> None:
    """Refuse unknown and repeated query parameters: a typo such as `segmnt=` must not widen a result."""
    errors: list[dict[str, Any]] = []
    for name in sorted(set(request.query_params)):
        if name not in _CANDIDATE_PARAMS:
            errors.append({"loc": ["query", name], "msg": "unknown parameter", "type": "extra_forbidden"})
        elif len(request.query_params.getlist(name)) > 1:
            errors.append({"loc": ["query", name], "msg": "parameter given more than once", "type": "repeated"})
    if errors:
        raise RequestValidationError(errors)


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


class _Failure(Exception):
    """An error answered with :class:`ErrorBody`."""

    def __init__(self, status: int, detail: str, event_ids: list[str] | None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.event_ids = status, detail, event_ids


def _add_exception_handlers(app: FastAPI) -> None:
    def body(detail: str, event_ids: list[str] | None = None) -> dict[str, Any]:
        return ErrorBody(detail=detail, event_ids=event_ids).model_dump(exclude_none=True)

    async def unauthorized(_: Request, exc: Exception) -> Response:
        return JSONResponse(body(str(exc)), status_code=401, headers={"WWW-Authenticate": "ApiKey"})

    async def rate_limited(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimited)
        retry = str(max(1, round(exc.retry_after_s + 0.5)))
        return JSONResponse(body(str(exc)), status_code=429, headers={"Retry-After": retry})

    async def too_large(_: Request, exc: Exception) -> Response:
        return JSONResponse(body(str(exc)), status_code=413)

    unavailable = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)}

    async def replay_cache_down(_: Request, exc: Exception) -> Response:
        return JSONResponse(body(str(exc)), status_code=503, headers=unavailable)

    async def failure(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Failure)
        headers = unavailable if exc.status == 503 else None
        return JSONResponse(body(exc.detail, exc.event_ids), status_code=exc.status, headers=headers)

    async def invalid(_: Request, exc: Exception) -> Response:
        # FastAPI's own handler, with what strict JSON cannot carry spelled out: a request may hold a NaN,
        # an infinity (1e999) or a lone surrogate ("\ud800"), which its 422 echoes back.
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)

    app.add_exception_handler(Unauthorized, unauthorized)
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(BodyTooLarge, too_large)
    app.add_exception_handler(ReplayCacheUnavailable, replay_cache_down)
    app.add_exception_handler(_Failure, failure)
    app.add_exception_handler(RequestValidationError, invalid)


def _json_safe(value: Any) -> Any:
    """``value`` with what strict JSON in UTF-8 cannot hold spelled out: ``"nan"``, ``"inf"``, ``"\\ud800"``.

    Copied without recursion: the echoed input may nest as deep as the request's JSON parser allows.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (item, the copy it goes into, where)
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, dict):
            copy: dict[Any, Any] = {}
            for key, child in item.items():
                safe = _json_safe_scalar(key)
                copy[safe] = None
                stack.append((child, copy, safe))
            parent[slot] = copy
        elif isinstance(item, list | tuple):
            parent[slot] = elements = [None] * len(item)
            stack.extend((child, elements, index) for index, child in enumerate(item))
        else:
            parent[slot] = _json_safe_scalar(item)
    return root[0]


def _json_safe_scalar(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body is {declared} bytes, over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Coroutine[Any, Any, dict[str, Any]]]:
    """An ASGI receive callable that yields ``body`` once, for the parsing handler."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
