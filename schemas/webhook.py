"""The gateway's webhook signature: HMAC-SHA256 over ``<timestamp>.<raw body>``, sent as ``sha256=<hex>``.

The gateway checks it (``gateway/auth.py``); clients of ours that post to a gateway requiring
signatures (the review app) make it with the same function.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()
