"""What a write request's headers say about its body: the gateway reads uncompressed JSON only.

FastAPI would parse a JSON body sent as ``text/plain`` as a string and answer with a 422 about
the body's shape, and a gzip body as bytes that are "not UTF-8 encoded JSON": neither says that
the header is what is wrong. These checks answer 415 naming it instead.
"""

from __future__ import annotations

from collections.abc import Mapping


def unsupported_body(headers: Mapping[str, str]) -> str | None:
    """Why a body with these headers cannot be read (a 415's detail), or None when it can.

    ``application/json`` and ``application/*+json`` are JSON, with any parameters (``charset``);
    a body without a ``Content-Type`` is not (FastAPI would not parse it as JSON either).
    """
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return f"Content-Encoding {encoding!r} is not supported; send uncompressed JSON"
    content_type = headers.get("content-type", "").strip()
    if not content_type:
        return "Content-Type must be application/json; the request has none"
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind == "application" and (subtype == "json" or subtype.endswith("+json")):
        return None
    return f"Content-Type must be application/json, not {content_type!r}"
