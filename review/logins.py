"""Failed-login throttling of the review app: the two buckets, and one attempt at a time per key.

The buckets are the gateway's failed-authentication throttle (``infra/throttle.py``): one per
client address, one per reviewer id typed. A bucket is checked before the password is looked
at and takes a token once the password turned out wrong. Checking a password takes 0.1-0.2 s
off the event loop, so were attempts run side by side, every concurrent guess would pass the
check before the first failure was counted (200 guesses sent at once would all be checked).
Attempts that share an address or a reviewer id therefore run one at a time (check, verify,
count), and concurrent guesses are throttled exactly like sequential ones; attempts from other
addresses for other ids are not held up. It also caps the password checks one address or one
id can have running at once to one.

In-process, like the buckets (per replica); the locks are for one event loop (the app's).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from flywheel.config import FailedAuthSettings
from flywheel.infra.throttle import FailedAuthThrottle


class LoginThrottle:
    """Failed logins per client address and per reviewer id, with attempts on one key in turn."""

    def __init__(self, by_address: FailedAuthSettings, by_reviewer: FailedAuthSettings) -> None:
        self._buckets = (FailedAuthThrottle(by_address, "address"), FailedAuthThrottle(by_reviewer, "reviewer id"))
        # A disabled bucket neither refuses nor counts: its key need not be taken in turn.
        self._turns = (_Turns() if by_address.enabled else None, _Turns() if by_reviewer.enabled else None)

    async def attempt(self, address: str, reviewer: str, verify: Callable[[], Awaitable[bool]]) -> bool:
        """``verify()``'s answer, counted as a failure unless true; raises :class:`RateLimited` first when throttled.

        A failure is counted also when the attempt is abandoned mid-check (the client went away):
        only a verified password is not counted.
        """
        keys = (address, reviewer)
        async with AsyncExitStack() as turns:
            # Always the address first, then the id: two attempts never wait for each other in a cycle.
            for turn, key in zip(self._turns, keys, strict=True):
                if turn is not None:
                    await turns.enter_async_context(turn.take(key))
            for bucket, key in zip(self._buckets, keys, strict=True):
                bucket.check(key)
            verified = False
            try:
                verified = await verify()
            finally:
                if not verified:
                    for bucket, key in zip(self._buckets, keys, strict=True):
                        bucket.failed(key)
            return verified


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


class _Turns:
    """One lock per key, kept only while an attempt holds it or waits for it (bounded by what is in flight)."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    @asynccontextmanager
    async def take(self, key: str) -> AsyncIterator[None]:
        turn = self._turns.setdefault(key, _Turn())
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]

    def __len__(self) -> int:
        return len(self._turns)
