"""The model server's FastAPI application: ``create_app(config)``.

OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``, plus ``/healthz``,
``/readyz``, ``/metrics`` and ``GET /v1/flywheel/routes``. Every completion carries the
``request_id`` and the ``model_version`` that produced it (a training run id, or ``base``) in the
body and in the ``X-Request-Id`` / ``X-Flywheel-Model-Version`` headers, so feedback sent to the
gateway links back to the exact version. The user is the body's ``user`` (OpenAI's field) or the
``X-User-Id`` header; it decides the arm of a rollout. A client's ``X-Request-Id`` of 1-128 letters,
digits, ``.``, ``_``, ``:`` or ``-`` is kept as the ``request_id`` (it must then be unique per
request); any other gets an id the server makes. With ``serving.api_keys`` set, ``/v1/*``
needs ``Authorization: Bearer <key>`` (401 otherwise; failures throttled per client address, 429).
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures at runtime.

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from flywheel.errors import RateLimited, ServingBusy, ServingError, ServingUnauthorized
from flywheel.infra.body_limit import BodyLimit
from flywheel.infra.credentials import KeyRing
from flywheel.infra.throttle import FailedAuthThrottle
from flywheel.serving import metrics
from flywheel.serving.backend import Backend, GenerationParams, TransformersBackend
from flywheel.serving.config import ServingConfig, ServingSettings
from flywheel.serving.engine import Engine
from flywheel.serving.follower import AliasWatcher, PromotionFollower
from flywheel.serving.impact_gauges import ImpactRefresher
from flywheel.serving.registry import RegistryView
from flywheel.serving.rollout_judge import RolloutJudge

VERSION_HEADER = "X-Flywheel-Model-Version"
REQUEST_ID_HEADER = "X-Request-Id"
# A client's X-Request-Id becomes the answer's lineage id (stored with every reaction to it), so only
# a short token is kept; anything else (6,000 characters, spaces, control or non-ASCII characters)
# gets an id of the server's own.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class ChatMessage(BaseModel):
    """One message of the conversation."""

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat completion request the server honours; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    user: str | None = None
    n: Literal[1] = 1
    stream: Literal[False] = False


def generation_params(body: ChatRequest, settings: ServingSettings) -> GenerationParams:
    """A request's decoding settings: its own where given (capped), else the server's defaults."""
    limit = settings.max_new_tokens_limit
    max_new = min(body.max_completion_tokens or body.max_tokens or settings.max_new_tokens, limit)
    temperature = settings.temperature if body.temperature is None else body.temperature
    return GenerationParams(max_new, temperature)


def request_id_for(header: str | None) -> str | None:
    """The client's ``X-Request-Id`` if it is 1-128 of ``A-Za-z0-9._:-``; None (the server makes one) otherwise."""
    return header if header is not None and REQUEST_ID_PATTERN.fullmatch(header) else None


def backend_for(config: ServingConfig, registry: RegistryView) -> Backend:
    """The configured generation backend (not started); vllm must be installed for ``backend=vllm``."""
    settings = config.serving
    if settings.backend == "vllm":
        from flywheel.serving.vllm_backend import MISSING_VLLM, VllmBackend, vllm_available

        if not vllm_available():  # say so now, not after the app started
            raise ServingError(MISSING_VLLM)
        return VllmBackend(config, registry)
    return TransformersBackend(config.base_model, settings.device, settings.max_prompt_tokens, settings.merge_adapters)


class KeyCheck:
    """``Authorization: Bearer <key>`` against ``serving.api_keys``; every request passes when none is set."""

    def __init__(self, settings: ServingSettings) -> None:
        self._keys = KeyRing(settings.api_keys)
        self._failures = FailedAuthThrottle(settings.failed_auth)

    def __call__(self, request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
        """Raise :class:`ServingUnauthorized` (401) or :class:`RateLimited` (429) unless the key is known."""
        if not self._keys:
            return
        address = request.client.host if request.client else "unknown"
        try:
            self._failures.check(address)  # before the key is looked at: a guess is slow, right or wrong
        except RateLimited:
            metrics.REFUSED.labels("auth_throttled").inc()
            raise
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            reason = "missing Authorization: Bearer <API key> header"
        elif self._keys.key_id(presented.strip()) is None:
            reason = "unknown API key"
        else:
            return
        self._failures.failed(address)
        metrics.REFUSED.labels("unauthorized").inc()
        raise ServingUnauthorized(reason)


def create_app(config: ServingConfig, backend: Backend | None = None) -> FastAPI:
    """The server: starts the engine, the alias watcher and the promotion follower with the app."""
    settings = config.serving
    registry = RegistryView(config.registry_url)
    engine = Engine(
        backend or backend_for(config, registry),
        registry,
        config.state_dir / "serving-cache",
        settings.max_batch_size,
        settings.batch_window_ms / 1000,
        settings.max_queued,
    )
    watcher = AliasWatcher(engine, registry, settings.watch_interval_s)
    follower = PromotionFollower(
        config.kafka,
        config.topics.training_results,
        settings.consumer_group,
        registry,
        settings.rollout.promotion_share,
    )
    impact = ImpactRefresher(
        config.catalog,
        settings.impact_refresh_s,
        settings.impact_max_versions,
        config.registry_url,
        settings.impact_planned_reactions,
        RolloutJudge(registry, settings.rollout).review if settings.rollout.decide else None,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        (config.state_dir / "serving-cache").mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(engine.start, registry.read_alias())
        watcher.start()
        if settings.follow_promotions:
            follower.start()
        impact.start()
        try:
            yield
        finally:
            impact.stop()
            follower.stop()
            watcher.stop()
            await asyncio.to_thread(engine.stop)

    app = FastAPI(title="Data Flywheel model server", version="1", lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, refused=metrics.REFUSED.labels("too_large"))
    app.state.engine = engine
    app.state.watcher = watcher
    app.state.follower = follower
    authorized = [Depends(KeyCheck(settings))]

    @app.exception_handler(ServingUnauthorized)
    async def _unauthorized(_request: Request, exc: ServingUnauthorized) -> JSONResponse:
        error = {"message": str(exc), "type": "invalid_request_error", "code": "invalid_api_key"}
        return JSONResponse({"error": error}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RateLimited)
    async def _throttled(_request: Request, exc: RateLimited) -> JSONResponse:
        retry = str(max(1, round(exc.retry_after_s + 0.5)))
        error = {"message": str(exc), "type": "rate_limit_error"}
        return JSONResponse({"error": error}, status_code=429, headers={"Retry-After": retry})

    @app.exception_handler(ServingError)
    async def _unavailable(_request: Request, exc: ServingError) -> JSONResponse:
        retry = {"Retry-After": "1"} if isinstance(exc, ServingBusy) else None
        return JSONResponse({"error": {"message": str(exc), "type": "server_error"}}, status_code=503, headers=retry)

    @app.post("/v1/chat/completions", dependencies=authorized)
    async def chat_completions(
        body: ChatRequest,
        response: Response,
        x_user_id: Annotated[str | None, Header()] = None,
        x_request_id: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """Answer a chat with the version the user is routed to."""
        conversation = [{"role": m.role, "content": m.content} for m in body.messages]
        params, user = generation_params(body, settings), body.user or x_user_id
        ticket = engine.submit(conversation, params, user, request_id_for(x_request_id))
        answer = await asyncio.wrap_future(ticket.future)
        response.headers[VERSION_HEADER] = ticket.version
        response.headers[REQUEST_ID_HEADER] = ticket.request_id
        return {
            "id": f"chatcmpl-{ticket.request_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": settings.served_model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "total_tokens": answer.prompt_tokens + answer.completion_tokens,
            },
            "request_id": ticket.request_id,
            "model_version": ticket.version,
        }

    @app.get("/v1/models", dependencies=authorized)
    async def models() -> dict[str, Any]:
        """The served model, with the versions behind it."""
        routes = engine.routes
        return {
            "object": "list",
            "data": [
                {
                    "id": settings.served_model_name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "flywheel",
                    "model_version": routes.current,
                    "candidate": routes.candidate,
                    "candidate_share": routes.candidate_share,
                }
            ],
        }

    @app.get("/v1/flywheel/routes", dependencies=authorized)
    async def routes() -> dict[str, Any]:
        """Which versions answer users now (this replica), and the alias's routes if it could not apply them."""
        current, state = engine.routes, engine.alias_state
        wanted = state.wanted
        return {
            "current": current.current,
            "candidate": current.candidate,
            "candidate_share": current.candidate_share,
            "alias_applied": state.applied,
            "alias": None
            if wanted is None
            else {
                "current": wanted.current,
                "candidate": wanted.candidate,
                "candidate_share": wanted.candidate_share,
            },
            "error": state.error,
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: the model is loaded and the worker runs; ``alias_applied`` false says it serves older routes.

        A replica that could not load the alias's adapter stays ready: it answers with the routes in
        force, and a bad adapter taking every replica out of service would leave users no answer.
        """
        ready, state = engine.ready, engine.alias_state
        body: dict[str, Any] = {"status": "ready" if ready else "loading", "alias_applied": state.applied}
        if state.error is not None:
            body["error"] = state.error
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        """Prometheus metrics (this process's default registry)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
