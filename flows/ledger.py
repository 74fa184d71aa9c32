"""Which source messages already have their row, across *all* tables.

Every source message ends up in at most one table (a pair, a positive, a feedback row or a
rejection) or in none. Tables commit independently, so after a crash they can stand at
different offsets, and a replayed message can be decided differently the second time (a
quota or dedup boundary depends on arrival order). Filtering each table only by its own
offsets would then store the message twice (once per decision) or lose it.

So the ledger looks at every table:

* ``floor``: the lowest committed offset over all tables. Every table has decided every
  message at or below it: any new row there is a replay and is dropped.
* ``ceiling``: the highest committed offset over all tables. Between floor and ceiling some
  tables have committed and some have not: a new row is dropped only if the message already
  has a row in *some* table (looked up once, at start, by source coordinates).
* above the ceiling nothing is committed anywhere: every row is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyiceberg.table import Table

from flywheel.infra.offsets import Offsets, committed_offsets
from flywheel.schemas.records import SourceCoordinates

Position = tuple[str, int, int]  # topic, partition, offset


class DecisionLedger:
    """Answers "does this source message still need a row?" for one committer."""

    def __init__(self, load_table: Callable[[str], Table], tables: Iterable[str], branch: str) -> None:
        self._load_table = load_table
        self._tables = list(tables)
        self._branch = branch
        self.floor: Offsets = {}
        self.ceiling: Offsets = {}
        self.placed: set[Position] = set()
        self.refresh()

    def refresh(self) -> None:
        """Re-read every table's committed offsets and the rows in the contested window."""
        loaded = [self._load_table(name) for name in self._tables]
        ledgers = [committed_offsets(table, self._branch) for table in loaded]
        keys = {key for ledger in ledgers for key in ledger}
        self.floor = {key: min(ledger.get(key, -1) for ledger in ledgers) for key in keys}
        self.ceiling = {key: max(ledger.get(key, -1) for ledger in ledgers) for key in keys}
        self.placed = set()
        for (topic, partition), high in self.ceiling.items():
            low = self.floor[(topic, partition)]
            if high > low:
                for table in loaded:
                    self.placed.update(_positions(table, self._branch, topic, partition, low, high))

    def needs_row(self, source: SourceCoordinates) -> bool:
        """True when no table holds (or will hold, by an earlier decision) this message's row."""
        key = (source.topic, source.partition)
        if source.offset <= self.floor.get(key, -1):
            return False
        if source.offset > self.ceiling.get(key, -1):
            return True
        return (source.topic, source.partition, source.offset) not in self.placed

    def record(self, source: SourceCoordinates) -> None:
        """Remember that a row for this message is now buffered or written."""
        key = (source.topic, source.partition)
        if self.floor.get(key, -1) < source.offset <= self.ceiling.get(key, -1):
            self.placed.add((source.topic, source.partition, source.offset))


def _positions(table: Table, branch: str, topic: str, partition: int, low: int, high: int) -> set[Position]:
    """Source positions of the rows a table holds with ``low < offset <= high``."""
    snapshot = table.current_snapshot() if branch == "main" else table.snapshot_by_name(branch)
    if snapshot is None:
        return set()
    # Topic names are [a-zA-Z0-9._-] only (Kafka's rule), so they need no escaping here.
    row_filter = (
        f"source_topic = '{topic}' AND source_partition = {partition} "
        f"AND source_offset > {low} AND source_offset <= {high}"
    )
    scan = table.scan(
        row_filter=row_filter,
        selected_fields=("source_topic", "source_partition", "source_offset"),
        snapshot_id=snapshot.snapshot_id,
    )
    frame = scan.to_arrow()
    return set(
        zip(
            frame.column("source_topic").to_pylist(),
            frame.column("source_partition").to_pylist(),
            frame.column("source_offset").to_pylist(),
            strict=True,
        )
    )
