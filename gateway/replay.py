"""Spent signatures: a correctly signed request is accepted once within its tolerance window.

A signature covers ``<timestamp>.<body>``, so an exact replay carries the same signature.
The guard claims ``(key id, signature)`` after the signature checks out and before anything
is produced; a second claim of the same pair inside ``ttl_s`` fails. The entry outlives the
time its timestamp can be accepted (the caller passes twice the tolerance), so once it
expires the timestamp check refuses the replay instead.

Two backends behind :class:`ReplayCache`: :class:`MemoryReplayCache` (one process) and
:class:`RedisReplayCache` (``SET NX PX``: atomic, shared by every replica). Only verified
signatures are claimed: a forger cannot fill the cache or spend someone else's request.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from flywheel.errors import ReplayCacheUnavailable
from flywheel.gateway.config import ReplayCacheSettings

if TYPE_CHECKING:
    from redis import Redis


def signature_token(key_id: str, signature: str) -> str:
    """The cache key of a signed request: a digest of its key id and signature header."""
    return hashlib.sha256(f"{key_id}\0{signature}".encode()).hexdigest()


class ReplayCache(Protocol):
    """Remembers claimed tokens for a while; a token can be claimed once until it expires."""

    def claim(self, token: str, ttl_s: float) -> bool:
        """Claim ``token`` for ``ttl_s`` seconds; False if it is already claimed."""
        ...

    def release(self, token: str) -> None:
        """Forget ``token`` (its request was refused before anything was produced)."""
        ...

    def close(self) -> None:
        """Release connections; the cache is not used afterwards."""
        ...


class MemoryReplayCache:
    """Claims held in this process, expired lazily on the next claim (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []  # (expiry, token), oldest first
        self._lock = threading.Lock()

    def claim(self, token: str, ttl_s: float) -> bool:
        """Claim ``token`` for ``ttl_s`` seconds; False if it is already claimed."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            if token in self._expiry:
                return False
            self._expiry[token] = now + ttl_s
            heapq.heappush(self._queue, (now + ttl_s, token))
            return True

    def release(self, token: str) -> None:
        """Forget ``token``."""
        with self._lock:
            self._expiry.pop(token, None)

    def close(self) -> None:
        """Drop every claim."""
        with self._lock:
            self._expiry.clear()
            self._queue.clear()

    def __len__(self) -> int:
        return len(self._expiry)

    def _expire(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            expiry, token = heapq.heappop(self._queue)
            # A released and claimed-again token has a newer expiry: keep that one.
            if self._expiry.get(token) == expiry:
                del self._expiry[token]


class RedisReplayCache:
    """Claims in Redis, shared by every gateway replica; the client connects on first use."""

    def __init__(self, settings: ReplayCacheSettings) -> None:
        self._settings = settings
        self._client: Redis | None = None
        self._lock = threading.Lock()

    def claim(self, token: str, ttl_s: float) -> bool:
        """``SET prefix+token 1 NX PX ttl``: True if this call set it."""
        import redis

        expiry_ms = max(1, math.ceil(ttl_s * 1000))
        try:
            return bool(self._redis().set(self._settings.key_prefix + token, b"1", nx=True, px=expiry_ms))
        except redis.RedisError as exc:
            raise ReplayCacheUnavailable(f"replay cache at {self._settings.url} unavailable: {exc}") from exc

    def release(self, token: str) -> None:
        """``DEL prefix+token``."""
        import redis

        try:
            self._redis().delete(self._settings.key_prefix + token)
        except redis.RedisError as exc:
            raise ReplayCacheUnavailable(f"replay cache at {self._settings.url} unavailable: {exc}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _redis(self) -> Redis:
        with self._lock:
            if self._client is None:
                import redis

                password = self._settings.password.get_secret_value() if self._settings.password else None
                self._client = redis.Redis.from_url(
                    self._settings.url,
                    password=password,
                    socket_timeout=self._settings.timeout_s,
                    socket_connect_timeout=self._settings.timeout_s,
                )
            return self._client


def build_replay_cache(settings: ReplayCacheSettings) -> ReplayCache:
    """The configured backend (nothing is connected yet)."""
    if settings.backend == "redis":
        return RedisReplayCache(settings)
    return MemoryReplayCache()
