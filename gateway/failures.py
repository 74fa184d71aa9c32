"""How the gateway answers a refused request: the error bodies, their status codes and headers.

Every refusal is an :class:`ErrorBody` (``detail``, and on 503/413 from the broker the
``event_ids`` to retry with), or FastAPI's 422 list of field errors with what strict JSON
cannot carry spelled out. Every 503 carries ``Retry-After``.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from flywheel.errors import BodyTooLarge, ReplayCacheUnavailable
from flywheel.gateway.auth import RateLimited, Unauthorized
from flywheel.gateway.models import ErrorBody, ValidationErrorBody

# Every 503 (broker, catalog or shared replay cache unavailable) says when to try again, like the
# model server's busy 503: long enough for a broker's leader election, short enough to catch up.
RETRY_AFTER_UNAVAILABLE_S = 5

_DESCRIBED = {
    401: "Missing or wrong API key or signature; nothing produced.",
    413: "Body larger than the configured limit; nothing produced.",
    415: "Body not sent as uncompressed JSON (Content-Type, Content-Encoding); nothing produced.",
    422: "Field-level validation errors; nothing produced.",
    429: "Rate limit of this API key, or failed authentications from this address, exceeded; see Retry-After.",
    503: "Broker (or shared replay cache) unavailable or did not commit; nothing visible to consumers; "
    "see Retry-After.",
}


def documented_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of ``codes``, each with its body model and meaning."""
    return {
        code: {"model": ValidationErrorBody if code == 422 else ErrorBody, "description": _DESCRIBED[code]}
        for code in codes
    }


class Failure(Exception):
    """An error answered with :class:`ErrorBody`."""

    def __init__(self, status: int, detail: str, event_ids: list[str] | None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.event_ids = status, detail, event_ids


def add_exception_handlers(app: FastAPI) -> None:
    """Answer the gateway's refusals (401, 413, 415, 422, 429, 503) with their bodies and headers."""

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
        assert isinstance(exc, Failure)
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
    app.add_exception_handler(Failure, failure)
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
