"""The gateway's FastAPI application: ``create_app(settings)``.

Every ``/v1`` route is admitted by the guard first (``gateway/guard.py``: throttle, API key,
body size, signature, replay, rate limit, media type); the write routes (``gateway/ingest.py``)
normalise, validate and produce in one Kafka transaction; the read route
(``gateway/training_candidates.py``) pages curated pairs from Iceberg. Refusals are answered by
``gateway/failures.py``. ``/healthz``, ``/readyz`` and ``/metrics`` are open, for probes and Prometheus.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from flywheel.gateway.auth import Authenticator, RateLimiter
from flywheel.gateway.candidates import CandidateReader
from flywheel.gateway.config import GatewayConfig
from flywheel.gateway.failures import RETRY_AFTER_UNAVAILABLE_S, Failure, add_exception_handlers
from flywheel.gateway.guard import Guard
from flywheel.gateway.ingest import ingest_router
from flywheel.gateway.metrics import MetricsMiddleware
from flywheel.gateway.models import ErrorBody
from flywheel.gateway.publisher import EventPublisher
from flywheel.gateway.replay import build_replay_cache
from flywheel.gateway.training_candidates import candidates_router
from flywheel.infra.throttle import FailedAuthThrottle

__all__ = ["RETRY_AFTER_UNAVAILABLE_S", "create_app"]


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
    add_exception_handlers(app)

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
            raise Failure(503, "broker unreachable or interactions topic missing", None)
        return {"status": "ready"}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(ingest_router(settings, publisher, guard))
    app.include_router(candidates_router(gateway, reader))
    return app
