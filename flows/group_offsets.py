"""Consumer-group offsets for Kafka lag tooling, committed after each Iceberg commit.

The flow never resumes from these (it resumes from the Iceberg snapshot summaries, the only
exactly-once record); they exist so that ``kafka-consumer-groups --describe``, Burrow or any
lag exporter sees the curation group's progress. The offset committed for a partition is the
lowest offset every table has recorded (the ledger's floor), plus one (Kafka's "next to read"),
so lag tooling never shows work as done that a table has not committed. A table committed by
another process is re-read from the catalog at most every ``refresh_s``. Failures are logged
and counted, never raised: lag reporting must not stop the flow. Only the main branch reports
(a replay into a branch is not the group's progress).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from pyiceberg.table import Table

from flywheel.config import KafkaSettings
from flywheel.infra.catalog import Offsets, committed_offsets
from flywheel.infra.kafka import consumer_config
from flywheel.infra.retry import is_transient

log = logging.getLogger(__name__)

# How long a commit waits for the group's coordinator (the commit-only consumer's session.timeout.ms).
COMMIT_WAIT_MS = 6000


class GroupOffsets:
    """Commits, per source partition, the minimum Iceberg-committed offset over every table."""

    def __init__(
        self,
        kafka: KafkaSettings,
        load_table: Callable[[str], Table],
        tables: Iterable[str],
        branch: str,
        refresh_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kafka = kafka
        self._load_table = load_table
        self._tables = sorted(tables)
        self._branch = branch
        self._refresh_s = refresh_s
        self._clock = clock
        self._known: dict[str, tuple[float, Offsets]] = {}
        self._consumer: Consumer | None = None
        # Committers of one process may run on several worker threads.
        self._lock = threading.Lock()
        self.committed: Offsets = {}
        self._pending = 0  # commits sent whose report has not come back

    def report(self, table: str, offsets: Offsets) -> None:
        """Record ``table``'s newly committed offsets and commit the group's floor if it moved."""
        with self._lock:
            self._report(table, offsets)

    def _report(self, table: str, offsets: Offsets) -> None:
        now = self._clock()
        self._known[table] = (now, dict(offsets))
        try:
            for name in self._tables:
                seen = self._known.get(name)
                if seen is None or now - seen[0] >= self._refresh_s:
                    self._known[name] = (now, committed_offsets(self._load_table(name), self._branch))
            floor = _floor([offsets for _, offsets in self._known.values()])
            moved = {key: offset for key, offset in floor.items() if offset > self.committed.get(key, -1)}
            if moved:
                self._commit(moved)
                self.committed.update(moved)
        except Exception as exc:
            if not isinstance(exc, KafkaException | OSError | ValueError) and not is_transient(exc):
                raise
            log.warning("consumer-group offset commit failed (lag tooling only)", extra={"error": str(exc)})

    def _commit(self, offsets: Offsets) -> None:
        if self._consumer is None:
            # Not subscribed: a commit-only member of the group (the flow reads by assign()).
            config = consumer_config(
                self._kafka,
                self._kafka.consumer_group,
                on_commit=self._on_commit,
                # Never a member (no subscribe), so this bounds only how long a commit waits for a
                # coordinator: closing with one pending waited the default 45 s with the broker down.
                **{"session.timeout.ms": COMMIT_WAIT_MS},
            )
            self._consumer = Consumer(config)
        self._consumer.poll(0)  # serves the reports of earlier commits
        # Asynchronous: this runs inside the Iceberg sink's epoch, and a synchronous commit to a
        # hung broker would hold the whole flow until the broker answers.
        self._consumer.commit(offsets=_partitions(offsets), asynchronous=True)
        self._pending += 1

    def _on_commit(self, error: KafkaError | None, _partitions: list[TopicPartition]) -> None:
        self._pending -= 1
        if error is not None:
            log.warning("consumer-group offset commit failed (lag tooling only)", extra={"error": error.str()})

    def close(self) -> None:
        """Commit the last floor and wait for it (a few seconds at most), then close the commit-only consumer."""
        with self._lock:
            if self._consumer is not None:
                try:
                    self._consumer.commit(offsets=_partitions(self.committed), asynchronous=True)
                    self._pending += 1
                except KafkaException as exc:
                    log.warning("consumer-group offset commit failed (lag tooling only)", extra={"error": str(exc)})
                # Asynchronous and bounded: a synchronous commit with the broker down held the
                # shutdown 45 s, past a pod's usual grace period.
                deadline = time.monotonic() + COMMIT_WAIT_MS / 1000 + 2.0
                while self._pending > 0 and time.monotonic() < deadline:
                    self._consumer.poll(0.1)
                self._consumer.close()
                self._consumer = None


def _partitions(offsets: Offsets) -> list[TopicPartition]:
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in offsets.items()]


def _floor(ledgers: list[Offsets]) -> Offsets:
    """Per partition, the lowest offset over ledgers (a partition some ledger lacks is at -1)."""
    keys = {key for ledger in ledgers for key in ledger}
    return {key: min(ledger.get(key, -1) for ledger in ledgers) for key in keys}
