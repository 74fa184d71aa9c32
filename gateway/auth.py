"""Who is calling: API keys, optional HMAC-SHA256 webhook signatures, per-key rate limits.

Pure Python (no FastAPI), so the rules are unit-testable; :mod:`gateway.app` maps the
exceptions onto 401 and 429.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Mapping

from pydantic import SecretStr

from flywheel.errors import RateLimited, Unauthorized
from flywheel.gateway.config import GatewaySettings, RateLimitSettings

ANONYMOUS = "anonymous"
SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def _reveal(secret: SecretStr | str) -> str:
    """The secret's value; plain strings are accepted (settings changed without validation)."""
    return secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)


class Authenticator:
    """Resolves a request's key id from its headers and body, or raises :class:`Unauthorized`."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._keys = [(key_id, _reveal(secret).encode()) for key_id, secret in settings.api_keys.items()]
        self._hmac = {key_id: _reveal(secret) for key_id, secret in settings.hmac_secrets.items()}

    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
        """The caller's key id, with the signature checked when the key requires one."""
        key_id = self.identify(headers)
        self.verify(key_id, headers, body, now)
        return key_id

    def identify(self, headers: Mapping[str, str]) -> str:
        """The key id of the API key header (headers only: checked before the body is read)."""
        return self._key_id(headers.get(self._settings.api_key_header.lower()))

    def verify(self, key_id: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
        """Check the HMAC signature over the raw body when ``key_id`` requires one."""
        secret = self._hmac.get(key_id)
        if secret is None and self._settings.require_signatures:
            raise Unauthorized("signatures are required and no HMAC secret is configured for this key")
        if secret is not None:
            self._verify(secret, headers, body, time.time() if now is None else now)

    def _key_id(self, presented: str | None) -> str:
        if not presented:
            if self._settings.allow_anonymous:
                return ANONYMOUS
            raise Unauthorized(f"missing {self._settings.api_key_header} header")
        candidate = presented.encode()
        found: str | None = None
        for key_id, secret in self._keys:  # compare against every key: no early exit timing
            if hmac.compare_digest(candidate, secret):
                found = key_id
        if found is None:
            raise Unauthorized("unknown API key")
        return found

    def _verify(self, secret: str, headers: Mapping[str, str], body: bytes, now: float) -> None:
        timestamp = headers.get(self._settings.timestamp_header.lower())
        signature = headers.get(self._settings.signature_header.lower())
        if not timestamp or not signature:
            raise Unauthorized(f"{self._settings.signature_header} and {self._settings.timestamp_header} are required")
        try:
            sent_at = float(timestamp)
        except ValueError as exc:
            raise Unauthorized("timestamp must be unix seconds") from exc
        if abs(now - sent_at) > self._settings.timestamp_tolerance_s:
            raise Unauthorized("timestamp outside the allowed tolerance")
        if not hmac.compare_digest(sign(secret, timestamp, body), signature):
            raise Unauthorized("signature does not match")


class RateLimiter:
    """A token bucket per key id: ``requests_per_s`` refill, ``burst`` capacity (thread-safe)."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self._settings = settings
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, last refill)
        self._lock = threading.Lock()

    def acquire(self, key_id: str, now: float | None = None) -> None:
        """Take one token for ``key_id`` or raise :class:`RateLimited`."""
        if not self._settings.enabled:
            return
        moment = time.monotonic() if now is None else now
        rate, burst = self._settings.requests_per_s, float(self._settings.burst)
        with self._lock:
            tokens, last = self._buckets.get(key_id, (burst, moment))
            tokens = min(burst, tokens + (moment - last) * rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, moment)
                raise RateLimited((1.0 - tokens) / rate)
            self._buckets[key_id] = (tokens - 1.0, moment)
