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
  has a row in *some* table, or had one that a quarantine or revert removed (looked up once,
  at start, by source coordinates).
* above the ceiling nothing is committed anywhere: every row is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyiceberg.table import Table

from flywheel.infra.catalog import Offsets, branch_head, committed_offsets, from_source, source_positions
from flywheel.infra.dataset import removed_positions
from flywheel.schemas.records import Position, SourceCoordinates


class DecisionLedger:
    """Answers "does this source message still need a row?" for one committer."""

    def __init__(self, load_table: Callable[[str], Table], tables: Iterable[str], branch: str) -> None:
        self._load_table = load_table
        self._tables = list(tables)
        self._branch = branch
        self.floor: Offsets = {}
        self.ceiling: Offsets = {}
        self.placed: set[Position] = set()

    @classmethod
    def load(cls, load_table: Callable[[str], Table], tables: Iterable[str], branch: str) -> DecisionLedger:
        """A ledger with every table's committed offsets read (the constructor reads nothing)."""
        ledger = cls(load_table, tables, branch)
        ledger.refresh()
        return ledger

    def refresh(self) -> None:
        """Re-read every table's committed offsets and the rows in the contested window."""
        loaded = [self._load_table(name) for name in self._tables]
        ledgers = [committed_offsets(table, self._branch) for table in loaded]
        keys = {key for ledger in ledgers for key in ledger}
        self.floor = {key: min(ledger.get(key, -1) for ledger in ledgers) for key in keys}
        self.ceiling = {key: max(ledger.get(key, -1) for ledger in ledgers) for key in keys}
        self.placed = set()
        heads = [(table, branch_head(table, self._branch)) for table in loaded]
        for (topic, partition), high in self.ceiling.items():
            low = self.floor[(topic, partition)]
            if high > low:
                contested = from_source(topic, partition, after=low, through=high)
                for table, head in heads:
                    if head is not None:
                        self.placed.update(source_positions(table, head, contested))
                        # A row a quarantine or revert removed was decided too: not written again.
                        self.placed.update(removed_positions(table, head, contested))

    def needs_row(self, source: SourceCoordinates) -> bool:
        """True when no table holds (or will hold, by an earlier decision) this message's row."""
        key = (source.topic, source.partition)
        if source.offset <= self.floor.get(key, -1):
            return False
        if source.offset > self.ceiling.get(key, -1):
            return True
        return source.position not in self.placed

    def record(self, source: SourceCoordinates) -> None:
        """Remember that a row for this message is now buffered or written."""
        key = (source.topic, source.partition)
        if self.floor.get(key, -1) < source.offset <= self.ceiling.get(key, -1):
            self.placed.add(source.position)
