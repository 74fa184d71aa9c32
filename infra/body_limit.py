"""An ASGI middleware that refuses request bodies over a size limit (413) before reading them whole.

A declared ``Content-Length`` over the limit is refused before any of the body is read; a body
sent without one (chunked) is counted as it arrives and refused once it passes the limit.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class BodyLimit:
    """Wrap ``app``: requests whose body passes ``max_bytes`` get 413; ``refused`` counts them."""

    def __init__(self, app: ASGIApp, max_bytes: int, refused: _Counter | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse at once on the declared length, else count the body's bytes as the app reads them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"body is {int(declared)} bytes, over the limit of {self.max_bytes}")
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if self.refused is not None:
                        self.refused.inc()
                    # Raised inside the app's body read: FastAPI passes an HTTPException on as the response.
                    raise HTTPException(413, f"body exceeds the limit of {self.max_bytes} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send, detail: str) -> None:
        if self.refused is not None:
            self.refused.inc()
        body = json.dumps({"error": {"message": detail, "type": "invalid_request_error"}}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
