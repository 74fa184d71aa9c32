"""The admission of every ``/v1`` request, before FastAPI parses anything.

In this order: failed-authentication throttle of the client address (429) → API key (401) →
body size (413) → HMAC signature over the raw body (401) → signature not seen before (401;
503 when a shared replay cache is down) → per-key rate limit (429). Authentication comes
before the key's rate limit, so forged requests cannot spend the owner's tokens; each 401
spends one of the address's failures instead. Then a body that is not uncompressed JSON by
its headers is refused (415), and one that is not UTF-8 is a body error (422).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from flywheel.errors import BodyTooLarge, ReplayCacheUnavailable, ReplayedRequest
from flywheel.gateway.auth import Authenticator, RateLimited, RateLimiter, Unauthorized
from flywheel.gateway.failures import Failure
from flywheel.gateway.media import unsupported_body
from flywheel.gateway.metrics import AUTH_REFUSED
from flywheel.infra.throttle import FailedAuthThrottle
from flywheel.operators.decode import is_utf8

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
                raise Failure(415, unsupported, None)
            if body and not is_utf8(body):  # FastAPI would answer 400; it is a body error
                error = {"loc": ["body"], "msg": "body is not UTF-8 encoded JSON", "type": "json_invalid"}
                raise RequestValidationError([error])
            return await handler(Request(request.scope, _replay(body)))

        return guarded


def guarded_router(api_key_header: str) -> APIRouter:
    """A router whose routes pass the :class:`Guard` first; the API key header documented in OpenAPI."""
    api_key = Security(APIKeyHeader(name=api_key_header, auto_error=False))
    return APIRouter(route_class=GuardedRoute, dependencies=[api_key])


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
