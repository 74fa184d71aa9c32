"""Who is calling: API keys, optional HMAC-SHA256 webhook signatures, rate limits.

Pure Python (no FastAPI), so the rules are unit-testable; :mod:`gateway.failures` maps the
exceptions onto 401, 429 and 503. A signature is accepted once (:mod:`gateway.replay`);
its timestamp must be plain unix seconds (no ``nan``, ``inf`` or exponent, which
``float()`` would accept and which never expire). Token buckets limit requests per key
id; failed authentications per client address are throttled by
:class:`infra.throttle.FailedAuthThrottle`.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Mapping

from flywheel.errors import RateLimited, ReplayedRequest, Unauthorized
from flywheel.gateway.config import GatewaySettings, RateLimitSettings
from flywheel.gateway.replay import MemoryReplayCache, ReplayCache, signature_token
from flywheel.infra.credentials import KeyRing, reveal
from flywheel.infra.throttle import TokenBuckets
from flywheel.schemas.webhook import sign

ANONYMOUS = "anonymous"
# Unix seconds, optionally with a fraction: ASCII digits only, bounded, always finite.
_TIMESTAMP = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


class Authenticator:
    """Resolves a request's key id from its headers and body, or raises :class:`Unauthorized`."""

    def __init__(self, settings: GatewaySettings, replay: ReplayCache | None = None) -> None:
        self._settings = settings
        self._keys = KeyRing(settings.api_keys)
        self._hmac = {key_id: reveal(secret) for key_id, secret in settings.hmac_secrets.items()}
        self._replay = MemoryReplayCache() if replay is None else replay

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
        """The caller's key id, with the signature checked and spent when the key requires one."""
        key_id = self.identify(headers)
        token = self.verify(key_id, headers, body, now)
        if token is not None:
            self.spend(token)
        return key_id

    def identify(self, headers: Mapping[str, str]) -> str:
        """The key id of the API key header (headers only: checked before the body is read)."""
        return self._key_id(headers.get(self._settings.api_key_header.lower()))

    def verify(self, key_id: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str | None:
        """Check the HMAC signature over the raw body when ``key_id`` requires one; its replay token if so."""
        secret = self._hmac.get(key_id)
        if secret is None and self._settings.require_signatures:
            raise Unauthorized("signatures are required and no HMAC secret is configured for this key")
        if secret is None:
            return None
        signature = self._verify(secret, headers, body, time.time() if now is None else now)
        return signature_token(key_id, signature)

    def spend(self, token: str) -> None:
        """Accept a verified signature once, or raise :class:`ReplayedRequest` (may do I/O: Redis)."""
        # Twice the tolerance: a timestamp is accepted while |now - sent_at| <= tolerance, so the
        # claim outlives every moment the same request could pass the timestamp check.
        if not self._replay.claim(token, 2 * self._settings.timestamp_tolerance_s):
            raise ReplayedRequest("this signed request was already received; sign each request anew")

    def refund(self, token: str) -> None:
        """Make a spent signature usable again (its request was refused before anything was produced)."""
        self._replay.release(token)

    def close(self) -> None:
        """Close the replay cache's connections."""
        self._replay.close()

    def _key_id(self, presented: str | None) -> str:
        if not presented:
            if self._settings.allow_anonymous:
                return ANONYMOUS
            raise Unauthorized(f"missing {self._settings.api_key_header} header")
        found = self._keys.key_id(presented)
        if found is None:
            raise Unauthorized("unknown API key")
        return found

    def _verify(self, secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
        timestamp = headers.get(self._settings.timestamp_header.lower())
        signature = headers.get(self._settings.signature_header.lower())
        if not timestamp or not signature:
            raise Unauthorized(f"{self._settings.signature_header} and {self._settings.timestamp_header} are required")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise Unauthorized(f"{self._settings.timestamp_header} must be unix seconds, e.g. 1800000000")
        if abs(now - float(timestamp)) > self._settings.timestamp_tolerance_s:
            raise Unauthorized("timestamp outside the allowed tolerance")
        if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
            raise Unauthorized("signature does not match")
        return signature


class RateLimiter:
    """A token bucket per key id: ``requests_per_s`` refill, ``burst`` capacity (thread-safe)."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self._settings = settings
        self._buckets = TokenBuckets(settings.requests_per_s, settings.burst)

    def acquire(self, key_id: str, now: float | None = None) -> None:
        """Take one token for ``key_id`` or raise :class:`RateLimited`."""
        if not self._settings.enabled:
            return
        wait_s = self._buckets.take(key_id, time.monotonic() if now is None else now)
        if wait_s:
            raise RateLimited(wait_s)
