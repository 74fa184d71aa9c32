"""Prometheus metrics of the gateway (prometheus-client, default registry, served on ``/metrics``).

Labels are bounded: ``route`` is the route template (``unmatched`` for 404s), never a raw path.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "flywheel_gateway_requests_total",
    "HTTP requests answered by the gateway, by route template and status code.",
    ["route", "status"],
)
REQUEST_DURATION = Histogram(
    "flywheel_gateway_request_duration_seconds",
    "Wall time from request start to response start, by route template.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_PRODUCED = Counter(
    "flywheel_gateway_events_produced_total",
    "Events committed to the interactions topic, by route template.",
    ["route"],
)

AUTH_REFUSED = Counter(
    "flywheel_gateway_auth_refused_total",
    "Requests refused by authentication: credentials (401), replay (401), throttled (429 for the address).",
    ["reason"],
)


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by route template and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(route, str(status)).inc()
            REQUEST_DURATION.labels(route).observe(time.perf_counter() - started)
