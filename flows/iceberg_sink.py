"""Exactly-once Iceberg sink: one committer per table, offsets in every snapshot summary.

Why this is exactly-once:

* Every row carries its source topic/partition/offset. Each commit stores, in the snapshot
  summary, the last offset it accounts for on every partition. A recorded offset means "every
  message at or below it is decided", so it may only come from a progress marker: the held
  dedup (``flows/dedup.py``) releases rows by event-time slot, not by offset, and lets a
  marker through only once nothing at or below it is held. A row above its partition's
  progress therefore waits in the buffer until a marker covers it (committing it would record
  its offset while rows below it are still held; a restart would then count them as decided
  and drop them).
* Commits happen only when a Bytewax epoch closes. By then every row of that epoch has
  reached the sink, so every row a progress marker of that epoch covers is in the buffer.
  Rows not committed yet are part of the Bytewax recovery snapshot, so a crash loses none.
* On start, and after a commit conflict, the committer re-reads the offsets of *every*
  table and drops each row whose source message already has its row in some table
  (``flows/ledger.py``): a replayed epoch cannot duplicate a row, not even in another table
  when the replay decides differently.
* pyiceberg's own commit retry is disabled on the tables (it would re-apply a snapshot
  whose offsets were computed before the conflict); this committer retries itself.
* On teardown (SIGINT, SIGTERM, an exception in a step) Bytewax closes the sink in the middle
  of an epoch: rows of that epoch may still be in flight in other workers. ``close()`` commits
  only what closed epochs delivered (:meth:`TableCommitter.seal` marks it at every epoch end)
  and drops the rest, which the restart replays; otherwise the commit would record offsets of
  rows that never arrive, and the ledger would drop their replay. At a clean end of input
  Bytewax closes the last epoch before ``close()``, so everything is committed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition
from pyiceberg.table import Table

from flywheel import metrics
from flywheel.config import SinkSettings
from flywheel.errors import CatalogError, CatalogUnavailable, CommitFailed
from flywheel.flows.ledger import DecisionLedger
from flywheel.flows.quarantined import enforce_landed_rules, left_out_quarantined
from flywheel.flows.sink_state import (
    CommitterState,
    PackedState,
    SinkState,
    arrow_frame,
    restored_rows,
    row_maxima,
    split_covered,
)
from flywheel.infra.catalog import (
    OFFSETS_PROPERTY,
    ROWS_PROPERTY,
    Offsets,
    branch_head,
    committed_offsets,
    encode_offsets,
    merge_offsets,
)
from flywheel.infra.retry import Outage, is_commit_conflict, is_transient, one_line
from flywheel.schemas.records import Position, SinkItem, SourceProgress, TableRow, sink_entries
from flywheel.schemas.tables import TableContract

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommitReport:
    """One successful commit."""

    table: str
    snapshot_id: int
    rows: int
    offsets: Offsets


class TableCommitter:
    """Buffers one table's rows between epochs and commits them with their source offsets."""

    def __init__(
        self,
        load_table: Callable[[str], Table],
        contract: TableContract,
        table: Table,
        ledger: DecisionLedger,
        branch: str,
        settings: SinkSettings,
        state: SinkState | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_commit: Callable[[str, Offsets], None] | None = None,
    ) -> None:
        # Reads nothing: :meth:`open` loads the table and the ledger first.
        self._load_table = load_table
        self._on_commit = on_commit
        self._contract = contract
        self._branch = branch
        self._settings = settings
        self._clock = clock
        self._table = table
        self.committed: Offsets = committed_offsets(table, branch)
        self.ledger = ledger
        self.state = CommitterState(progress=dict(state.progress)) if state else CommitterState()
        # ``_packed[i]`` is ``state.rows[i]`` pickled, for a prefix of the buffer (:meth:`packed_state`).
        self._packed: list[bytes] = []
        # Rows restored from a recovery snapshot may have been committed since it was taken.
        self.add(restored_rows(state))
        self.seal()  # a recovery snapshot holds closed epochs only
        self._last_commit = clock()
        self.reports: list[CommitReport] = []
        self.failed = False
        # The head moved under this committer (its own delete) and re-reading it failed: re-read first next time.
        self._stale = False
        # Rows appended by a commit whose later steps have not all run: still in the buffer until they have.
        self._landed: set[Position] = set()

    @classmethod
    def open(
        cls,
        load_table: Callable[[str], Table],
        contract: TableContract,
        all_tables: Iterable[str],
        branch: str,
        settings: SinkSettings,
        state: SinkState | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_commit: Callable[[str, Offsets], None] | None = None,
    ) -> TableCommitter:
        """Load ``contract``'s table and every table's offsets (the ledger), then build the committer."""
        table = load_table(contract.name)
        ledger = DecisionLedger.load(load_table, all_tables, branch)
        return cls(load_table, contract, table, ledger, branch, settings, state, clock, on_commit)

    @property
    def name(self) -> str:
        return self._contract.name

    def add(self, items: Iterable[SinkItem]) -> None:
        """Buffer rows and progress markers; rows already committed are dropped right away."""
        for item in sink_entries(items):
            if isinstance(item, SourceProgress):
                key = (item.topic, item.partition)
                if item.offset > self.state.progress.get(key, -1):
                    self.state.progress[key] = item.offset
            elif self.ledger.needs_row(item.coordinates):
                self.ledger.record(item.coordinates)
                self.state.rows.append(item)
            else:
                metrics.ROWS_SKIPPED.labels(self.name).inc()

    def seal(self) -> None:
        """Mark everything buffered so far as delivered by closed epochs (safe to commit on close)."""
        self._sealed_rows = len(self.state.rows)
        self._sealed_progress = dict(self.state.progress)

    def commit_sealed(self) -> None:
        """Commit what closed epochs delivered; drop the rest, whose epoch the restart replays."""
        if self.failed:
            return  # the commit already failed for good; rows not committed are replayed after restart
        unsealed = len(self.state.rows) - self._sealed_rows
        if unsealed:
            log.info("dropping rows of an unfinished epoch", extra={"table": self.name, "rows": unsealed})
        self.state = CommitterState(rows=self.state.rows[: self._sealed_rows], progress=self._sealed_progress)
        del self._packed[self._sealed_rows :]
        self.commit()

    def on_epoch_end(self) -> None:
        """Commit if the interval elapsed or the buffer is full; otherwise keep buffering."""
        elapsed = self._clock() - self._last_commit
        if (
            self.state.rows
            and (
                elapsed >= self._settings.commit_interval_s
                or len(self.state.rows) >= self._settings.max_rows_per_commit
            )
        ) or (not self.state.rows and self._has_progress() and elapsed >= self._settings.progress_commit_interval_s):
            self.commit()

    def commit(self) -> None:
        """Commit the buffered rows that progress covers (in chunks of ``max_rows_per_commit``) and the progress.

        A row above its partition's progress stays buffered: rows below it may still be held
        upstream (the dedup releases by event-time slot, not by offset), and recording the
        row's offset would mark them decided (see the module docstring).
        """
        covered = merge_offsets(self.committed, self.state.progress)
        ready, waiting = split_covered(self.state.rows, covered)
        if self._landed:
            # An append landed and a later step of that commit raised, so the buffer still holds
            # its rows: appending them again (on close, after the epoch failed) would store them twice.
            again = sum(1 for row in ready if row.coordinates.position in self._landed)
            ready = [row for row in ready if row.coordinates.position not in self._landed]
            log.warning("rows already committed left out", extra={"table": self.name, "rows": again})
        if not ready and not self._has_progress():
            return
        # The waiting rows' encodings, in buffer order: a prefix of them, as ``_packed`` is of the buffer.
        packed = [self._packed[index] for index in waiting if index < len(self._packed)]
        rows = sorted(ready, key=lambda row: row.coordinates.position)
        size = self._settings.max_rows_per_commit
        chunks = [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]
        for index, chunk in enumerate(chunks):
            # Every row at or below the progress has arrived and is in ``rows``, sorted by
            # offset, so a chunk's maxima cover every row before it; the progress itself is
            # only safe to record with the last chunk.
            progress = self.state.progress if index == len(chunks) - 1 else {}
            self._commit_chunk(chunk, progress)
        self.state = CommitterState(rows=[self.state.rows[index] for index in waiting])
        self._packed = packed
        self._landed.clear()
        self.seal()
        self._last_commit = self._clock()

    def packed_state(self) -> PackedState:
        """The buffer and progress as a recovery snapshot; rows not snapshotted before are pickled now."""
        rows = self.state.rows
        self._packed.extend(PackedState.pack(row) for row in rows[len(self._packed) :])
        # Copies: Bytewax may serialise the snapshot after the next epoch appended to the buffer.
        return PackedState(list(self._packed), dict(self.state.progress))

    def _commit_chunk(self, rows: list[TableRow], progress: Offsets) -> None:
        started = time.perf_counter()
        outage = Outage(self.name, "commit", self._settings.catalog_outage_s)
        conflicts, stale = 0, self._stale
        while True:
            try:
                if stale:
                    # After a conflict, or a failure whose outcome is unknown (the append may have
                    # landed): re-read every table, keep only the rows still needed.
                    rows = self._reread(rows)
                    stale = self._stale = False
                if rows:  # the rules as the table holds them now (a load): not for a progress-only commit
                    rows = left_out_quarantined(rows, self._load_table(self.name), self.name, self._branch)
                offsets = merge_offsets(self.committed, progress, row_maxima(rows))
                if not rows and offsets == self.committed:
                    outage.cleared()
                    return
                snapshot_id = self._append(rows, offsets)
                self._landed.update(row.coordinates.position for row in rows)
            except Exception as exc:
                if not is_commit_conflict(exc):
                    self._retry_or_fail(exc, outage)
                    stale = True
                    continue
                metrics.COMMITS.labels(self.name, "conflict").inc()
                conflicts += 1
                log.warning(
                    "iceberg commit conflict, re-reading committed offsets",
                    extra={"table": self.name, "attempt": conflicts, "error": str(exc)},
                )
                if conflicts >= self._settings.commit_attempts:
                    self._fail()
                    raise CommitFailed(
                        f"commit to {self.name} failed after {conflicts} attempts (concurrent writers?)"
                    ) from exc
                # Jittered backoff (50 ms doubling, full jitter): writers that collided do not collide again in step.
                time.sleep(random.uniform(0.0, 0.05 * 2 ** (conflicts - 1)))
                stale = True
                continue
            outage.cleared()
            self.committed = offsets
            metrics.COMMITS.labels(self.name, "ok").inc()
            metrics.ROWS_WRITTEN.labels(self.name).inc(len(rows))
            metrics.COMMIT_ROWS.labels(self.name).observe(len(rows))
            metrics.COMMIT_DURATION.labels(self.name).observe(time.perf_counter() - started)
            self.reports.append(CommitReport(self.name, snapshot_id, len(rows), offsets))
            log.info(
                "iceberg commit",
                extra={"table": self.name, "rows": len(rows), "snapshot_id": snapshot_id},
            )
            self._after_commit(rows, offsets)
            return

    def _after_commit(self, rows: list[TableRow], offsets: Offsets) -> None:
        """What follows a commit that landed: nothing here may fail the commit, or it would be repeated."""
        try:
            if enforce_landed_rules(rows, self._table, self._branch):
                self._reread([])  # the sink's own delete moved the head: learn it as after a conflict
        except Exception as exc:  # the head is unknown: the next commit re-reads it first, as after a conflict
            self._stale = True
            log.warning("re-reading the table after a quarantine delete failed", extra={"table": self.name,
                        "error": one_line(exc)})  # fmt: skip
        if self._on_commit is not None:  # lag tooling only: its faults are logged, never the sink's
            try:
                self._on_commit(self.name, offsets)
            except Exception:
                log.exception("reporting committed offsets to the consumer group failed", extra={"table": self.name})

    def _retry_or_fail(self, exc: Exception, outage: Outage) -> None:
        """Wait out a catalog outage (backoff); fail the committer on anything else, or a too-long outage."""
        if not is_transient(exc):
            self._fail()
            raise CatalogError(f"commit to {self.name} failed and cannot be retried: {one_line(exc)}") from exc
        try:
            outage.wait(exc)
        except CatalogUnavailable:
            self._fail()
            raise

    def _reread(self, rows: list[TableRow]) -> list[TableRow]:
        """Reload the tables' offsets and rows in the contested window; the rows still needed."""
        self._table = self._load_table(self.name)
        self.committed = committed_offsets(self._table, self._branch)
        self.ledger.refresh()
        needed = [row for row in rows if self.ledger.needs_row(row.coordinates)]
        for row in needed:
            self.ledger.record(row.coordinates)
        return needed

    def _fail(self) -> None:
        """Count a failure that stops the flow; teardown must not try the catalog again."""
        metrics.COMMITS.labels(self.name, "failed").inc()
        self.failed = True

    def _append(self, rows: list[TableRow], offsets: Offsets) -> int:
        frame = arrow_frame(rows, self._table.schema().as_arrow())
        properties = {OFFSETS_PROPERTY: encode_offsets(offsets), ROWS_PROPERTY: str(len(rows))}
        transaction = self._table.transaction()
        transaction.append(frame, snapshot_properties=properties, branch=self._branch)
        self._table = transaction.commit_transaction()
        head = branch_head(self._table, self._branch)
        assert head is not None  # the commit above made one
        return head.snapshot_id

    def _has_progress(self) -> bool:
        return any(offset > self.committed.get(key, -1) for key, offset in self.state.progress.items())


class _TablePartition(StatefulSinkPartition[SinkItem, SinkState]):
    def __init__(self, committer: TableCommitter) -> None:
        self.committer = committer

    def write_batch(self, values: list[SinkItem]) -> None:
        self.committer.add(values)

    def snapshot(self) -> SinkState:
        # Called when an epoch closes: every row of it has reached this partition.
        self.committer.seal()
        self.committer.on_epoch_end()
        return self.committer.packed_state()

    def close(self) -> None:
        # Also called on SIGINT/SIGTERM or a step's exception, mid-epoch: see the module docstring.
        # Bytewax also calls it while unwinding from an error; raising here would be a panic in a
        # destructor (the process aborts, the error never logged). What is not committed is
        # replayed after a restart, so a failure is logged and the close goes on.
        try:
            self.committer.commit_sealed()
        except Exception as exc:
            log.error(
                "iceberg commit on close failed; the restart replays what it held",
                extra={"table": self.committer.name, "error": one_line(exc)},
            )


class IcebergSink(FixedPartitionedSink[SinkItem, SinkState]):
    """One partition (and so one committer) per table; items are ``(table_name, item)``."""

    def __init__(
        self,
        load_table: Callable[[str], Table],
        contracts: dict[str, TableContract],
        branch: str,
        settings: SinkSettings,
        on_build: Callable[[TableCommitter], None] | None = None,
        on_commit: Callable[[str, Offsets], None] | None = None,
    ) -> None:
        self._load_table = load_table
        self._on_commit = on_commit
        self._contracts = contracts
        self._names = sorted(contracts)
        self._branch = branch
        self._settings = settings
        self._on_build = on_build

    def list_parts(self) -> list[str]:
        return list(self._names)

    def part_fn(self, item_key: str) -> int:
        return self._names.index(item_key)

    def build_part(
        self, step_id: str, for_part: str, resume_state: SinkState | None
    ) -> StatefulSinkPartition[SinkItem, SinkState]:
        committer = TableCommitter.open(
            self._load_table,
            self._contracts[for_part],
            self._names,
            self._branch,
            self._settings,
            state=resume_state,
            on_commit=self._on_commit,
        )
        if self._on_build is not None:
            self._on_build(committer)
        return _TablePartition(committer)
