"""Token buckets, and the throttle of failed authentications built on them (pure, in-process).

Shared by the gateway (failed API keys and signatures per client address) and the review app
(failed logins per client address and per reviewer id), so both refuse guessing the same way.
"""

from __future__ import annotations

import threading
import time

from flywheel.config import FailedAuthSettings
from flywheel.errors import RateLimited


class TokenBuckets:
    """Token buckets by name: ``rate`` tokens a second up to ``burst`` (thread-safe, bounded).

    A bucket that has refilled to ``burst`` is the same as no bucket, so full ones are swept
    now and then: the table holds only names seen recently, however many pass by.
    """

    _SWEEP_EVERY = 4096

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, last refill)
        self._lock = threading.Lock()
        self._operations = 0

    def take(self, name: str, now: float) -> float:
        """Take one token: 0.0 if taken, else the seconds until one is available (nothing taken)."""
        with self._lock:
            tokens = self._refill(name, now)
            if tokens < 1.0:
                return (1.0 - tokens) / self._rate
            self._buckets[name] = (tokens - 1.0, now)
            return 0.0

    def wait_s(self, name: str, now: float) -> float:
        """The seconds until ``name`` has a token (0.0 if it has one); takes nothing."""
        with self._lock:
            tokens = self._refill(name, now)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _refill(self, name: str, now: float) -> float:
        self._operations += 1
        if self._operations % self._SWEEP_EVERY == 0:
            self._sweep(now)
        tokens, last = self._buckets.get(name, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - last) * self._rate)
        self._buckets[name] = (tokens, now)
        return tokens

    def _sweep(self, now: float) -> None:
        full = [
            name
            for name, (tokens, last) in self._buckets.items()
            if tokens + max(0.0, now - last) * self._rate >= self._burst
        ]
        for name in full:
            del self._buckets[name]


class FailedAuthThrottle:
    """A token bucket of failed authentications per ``subject`` (a client address, a reviewer id).

    Check before looking at the credentials, count a failure after: a caller with no failures
    left is refused (:class:`RateLimited`, with the wait) whether its guess is right or not.
    """

    def __init__(self, settings: FailedAuthSettings, subject: str = "address") -> None:
        self._settings = settings
        self._subject = subject
        self._buckets = TokenBuckets(settings.refill_per_s, settings.burst)

    def check(self, name: str, now: float | None = None) -> None:
        """Raise :class:`RateLimited` if ``name`` has no failures left; takes nothing."""
        if not self._settings.enabled:
            return
        wait_s = self._buckets.wait_s(name, time.monotonic() if now is None else now)
        if wait_s:
            raise RateLimited(wait_s, f"too many failed authentications for this {self._subject}")

    def failed(self, name: str, now: float | None = None) -> None:
        """Count one failed authentication of ``name``."""
        if self._settings.enabled:
            self._buckets.take(name, time.monotonic() if now is None else now)
