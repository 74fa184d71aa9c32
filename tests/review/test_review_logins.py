"""The review app's login throttle: concurrent attempts on one address or id are throttled like sequential ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from flywheel.config import FailedAuthSettings
from flywheel.errors import RateLimited
from flywheel.review.logins import LoginThrottle

SLOW = FailedAuthSettings(burst=3, refill_per_s=0.001)  # no refill within a test
OFF = FailedAuthSettings(enabled=False)


class Checks:
    """Password checks that wait until released, counting how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most_at_once = 0
        self.started = 0
        self.release = asyncio.Event()

    def verify(self, answer: bool) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            self.started += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            try:
                await self.release.wait()
                return answer
            finally:
                self.running -= 1

        return check


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until true; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def outcomes(throttle: LoginThrottle, attempts: list[tuple[str, str, bool]], checks: Checks) -> list[str]:
    """Run ``attempts`` (address, id, password right?) at once; each one's outcome: ok, wrong or 429."""

    async def one(address: str, reviewer: str, right: bool) -> str:
        try:
            return "ok" if await throttle.attempt(address, reviewer, checks.verify(right)) else "wrong"
        except RateLimited:
            return "429"

    tasks = [asyncio.create_task(one(*attempt)) for attempt in attempts]
    # Held until a check has started (or every attempt was refused): the rest arrive meanwhile.
    await until(lambda: checks.started >= 1 or all(task.done() for task in tasks))
    checks.release.set()
    return list(await asyncio.gather(*tasks))


def test_concurrent_wrong_guesses_from_one_address_are_throttled_like_sequential_ones() -> None:
    async def scenario() -> None:
        throttle, checks = LoginThrottle(SLOW, OFF), Checks()
        results = await outcomes(throttle, [("198.51.100.7", f"id-{n}", False) for n in range(20)], checks)
        assert sorted(results) == ["429"] * 17 + ["wrong"] * 3
        assert checks.started == 3 and checks.most_at_once == 1  # one check at a time for the address
        # Out of failures: even the right password is refused, and another address is not affected.
        assert await outcomes(throttle, [("198.51.100.7", "alice", True)], Checks()) == ["429"]
        assert await outcomes(throttle, [("203.0.113.9", "alice", True)], Checks()) == ["ok"]

    asyncio.run(scenario())


def test_concurrent_guesses_for_one_id_are_throttled_across_addresses() -> None:
    async def scenario() -> None:
        throttle, checks = LoginThrottle(OFF, SLOW), Checks()
        results = await outcomes(throttle, [(f"192.0.2.{n}", "alice", False) for n in range(20)], checks)
        assert sorted(results) == ["429"] * 17 + ["wrong"] * 3
        assert checks.most_at_once == 1
        assert await outcomes(throttle, [("192.0.2.99", "alice", True)], Checks()) == ["429"]
        assert await outcomes(throttle, [("192.0.2.99", "bob", True)], Checks()) == ["ok"]

    asyncio.run(scenario())


def test_right_passwords_take_no_token_and_other_keys_are_not_held_up() -> None:
    async def scenario() -> None:
        throttle, checks = LoginThrottle(SLOW, SLOW), Checks()
        # Ten logins from one office address, more than its burst: none counted as a failure.
        people = [("198.51.100.7", f"reviewer-{n}", True) for n in range(10)]
        assert await outcomes(throttle, people, checks) == ["ok"] * 10
        # Attempts sharing neither address nor id run side by side.
        apart, at_once = Checks(), [(f"203.0.113.{n}", f"other-{n}", True) for n in range(4)]
        tasks = [asyncio.create_task(throttle.attempt(a, r, apart.verify(ok))) for a, r, ok in at_once]
        await until(lambda: apart.running == 4)
        apart.release.set()
        assert await asyncio.gather(*tasks) == [True] * 4
        # Nothing is left behind for keys no attempt is using.
        assert all(len(turns) == 0 for turns in throttle._turns if turns is not None)

    asyncio.run(scenario())


def test_an_abandoned_check_counts_as_a_failure() -> None:
    async def scenario() -> None:
        throttle = LoginThrottle(FailedAuthSettings(burst=1, refill_per_s=0.001), OFF)
        checks = Checks()  # never released: the client goes away mid-check
        task = asyncio.create_task(throttle.attempt("198.51.100.7", "alice", checks.verify(True)))
        await until(lambda: checks.running == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(RateLimited):
            await throttle.attempt("198.51.100.7", "alice", Checks().verify(True))

    asyncio.run(scenario())
