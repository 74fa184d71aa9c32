"""Outages of the catalog and the broker: which errors are worth retrying, how long to keep at it,
and how to tell that a broker stopped answering.

A streaming job must ride out a catalog that is busy or briefly down (a locked SQLite file, a
REST catalog answering 503, a dropped connection): :class:`Outage` waits with exponential
backoff, says so once per attempt in the log and in ``flywheel_catalog_retries_total``, and
gives up with one line (:class:`flywheel.errors.CatalogUnavailable`) once the outage has lasted
longer than allowed. Anything else (a dropped table, a schema that no longer fits, a refused
permission) is not an outage: retrying cannot fix it, so it fails at once. The broker's client
retries by itself; :class:`BrokerWatch` only notices, logs and counts when it hangs. At start,
:func:`wait_at_start` keeps checking a dependency that does not answer yet, for as long as allowed.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pyiceberg.exceptions import (
    CommitFailedException,
    CommitStateUnknownException,
    ServerError,
    ServiceUnavailableError,
    TooManyRequestsError,
    WaitingForLockException,
)

from flywheel import metrics
from flywheel.errors import CatalogUnavailable, FlywheelError

log = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT: tuple[type[BaseException], ...] = (
    CommitStateUnknownException,
    ServerError,
    ServiceUnavailableError,
    TooManyRequestsError,
    WaitingForLockException,
    sqlite3.OperationalError,  # "database is locked"
    ConnectionError,
    TimeoutError,
)
try:  # the SQL catalog's driver layer; absent when only a REST catalog is installed
    from sqlalchemy.exc import OperationalError as SqlOperationalError
    from sqlalchemy.exc import TimeoutError as SqlPoolTimeout

    _TRANSIENT += (SqlOperationalError, SqlPoolTimeout)
except ImportError:  # pragma: no cover
    pass
try:  # the REST catalog's HTTP client
    from requests.exceptions import ConnectionError as HttpConnectionError
    from requests.exceptions import Timeout as HttpTimeout

    _TRANSIENT += (HttpConnectionError, HttpTimeout)
except ImportError:  # pragma: no cover
    pass


def is_commit_conflict(exc: BaseException) -> bool:
    """True when a commit lost a race with another writer of the table: re-read it and try again.

    Another writer on the same branch: pyiceberg's :class:`CommitFailedException`. Another writer
    on another branch (a replay into its branch while the flow commits to main, compaction):
    the branch's requirement still holds, but the snapshot built on the stale table metadata
    carries a sequence number the table has passed, which pyiceberg refuses with a ValueError.
    """
    if isinstance(exc, CommitFailedException):
        return True
    return isinstance(exc, ValueError) and "older than last sequence number" in str(exc)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a catalog outage that may clear by itself."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, _TRANSIENT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The exception's type and message on one line (SQLAlchemy appends whole statements)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split(" [SQL: ")[0]
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Outage:
    """Backoff for one operation on one table: 0.5 s doubling to ``max_backoff_s``, for at most ``limit_s``."""

    def __init__(
        self,
        table: str,
        operation: str,
        limit_s: float,
        max_backoff_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._operation = operation
        self._limit_s = limit_s
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._sleep = sleep
        self._started: float | None = None
        self._backoff_s = 0.5
        self.attempts = 0

    def wait(self, exc: BaseException) -> None:
        """Log and count one failed attempt, then sleep; raise CatalogUnavailable past the limit."""
        now = self._clock()
        if self._started is None:
            self._started = now
        self.attempts += 1
        elapsed = now - self._started
        metrics.CATALOG_RETRIES.labels(self._table, self._operation).inc()
        if elapsed >= self._limit_s:
            raise CatalogUnavailable(
                f"the Iceberg catalog failed every {self._operation} of {self._table} for {elapsed:.0f}s "
                f"({self.attempts} attempts; last: {one_line(exc)}); the flow stops, and resumes from its "
                "recovery state when restarted; check the catalog (FLYWHEEL_CATALOG__URI) or raise "
                "FLYWHEEL_SINK__CATALOG_OUTAGE_S"
            ) from exc
        delay = min(self._backoff_s, self._limit_s - elapsed)
        log.warning(
            "iceberg catalog unavailable; retrying",
            extra={
                "table": self._table,
                "operation": self._operation,
                "attempt": self.attempts,
                "retry_in_s": round(delay, 2),
                "outage_s": round(elapsed, 1),
                "error": one_line(exc),
            },
        )
        self._sleep(delay)
        self._backoff_s = min(self._backoff_s * 2, self._max_backoff_s)

    def cleared(self) -> None:
        """Log the end of an outage (after at least one retry)."""
        if self.attempts and self._started is not None:
            log.warning(
                "iceberg catalog available again",
                extra={
                    "table": self._table,
                    "operation": self._operation,
                    "attempts": self.attempts,
                    "outage_s": round(self._clock() - self._started, 1),
                },
            )


class BrokerWatch:
    """Tells from a consumer's librdkafka statistics that its broker stopped answering.

    A hung broker (or a partition that drops packets) keeps its connections open, so the
    client reports no error: requests just wait. A healthy broker answers a fetch at least
    every ``fetch.wait.max.ms`` even when there is nothing to read, so responses that stop
    while requests wait for ``stall_s`` mean an outage: logged once and counted, and its end
    logged too. (A consumer that stops fetching because its queue is full waits for nothing.)
    """

    def __init__(self, topic: str, stall_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._topic = topic
        self._stall_s = stall_s
        self._clock = clock
        self._responses = -1
        self._since = clock()
        self.stalled = False
        # Whether the last report had a connection up to a broker (None before the first report).
        self.connected: bool | None = None

    def observe(self, stats: Mapping[str, Any]) -> None:
        """Take one statistics report (``stats_cb``, parsed)."""
        brokers = [b for b in stats.get("brokers", {}).values() if b.get("nodeid", -1) >= 0]
        self.connected = any(b.get("state") == "UP" for b in brokers)
        responses = sum(int(b.get("rx", 0)) for b in brokers)
        waiting = sum(int(b.get("waitresp_cnt", 0)) for b in brokers)
        now = self._clock()
        if responses != self._responses or not waiting:
            if self.stalled:
                log.warning(
                    "kafka broker answering again",
                    extra={"topic": self._topic, "outage_s": round(now - self._since, 1)},
                )
                self.stalled = False
            self._responses, self._since = responses, now
            return
        if not self.stalled and now - self._since >= self._stall_s:
            self.stalled = True
            metrics.BROKER_OUTAGES.labels("unresponsive").inc()
            log.warning(
                "kafka broker not answering; the consumer keeps waiting",
                extra={"topic": self._topic, "waiting_s": round(now - self._since, 1), "requests_waiting": waiting},
            )


def wait_at_start(
    check: Callable[[], T],
    unreachable: type[FlywheelError],
    dependency: str,
    wait_s: float,
    setting: str,
    *,
    max_backoff_s: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``check()``, tried again with backoff (1 s doubling to ``max_backoff_s``) while it raises ``unreachable``.

    Each failed attempt is logged (with its reason and the next delay) and counted in
    ``flywheel_startup_retries_total{dependency}``. Once the next try would start after ``wait_s``
    (0: at the first failure) the last error is raised, saying how long it waited and ``setting``.
    Any other error is raised at once: a missing topic or a bad setting does not clear by waiting.
    """
    started = clock()
    delay = 1.0
    attempts = 0
    while True:
        try:
            return check()
        except unreachable as exc:
            attempts += 1
            waited = clock() - started
            if waited + delay > wait_s:
                if attempts == 1:
                    raise
                raise unreachable(
                    f"{exc} (tried {attempts} times over {waited:.0f}s at start; {setting} allows {wait_s:g}s)"
                ) from None
            metrics.STARTUP_RETRIES.labels(dependency).inc()
            log.warning(
                "dependency not answering at start; retrying",
                extra={
                    "dependency": dependency,
                    "attempt": attempts,
                    "retry_in_s": delay,
                    "waited_s": round(waited, 1),
                    "allowed_s": wait_s,
                    "error": str(exc),
                },
            )
            sleep(delay)
            delay = min(delay * 2, max_backoff_s)
