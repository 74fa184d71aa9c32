"""Dataset versioning: revert a table to a tag, quarantine a time window (poisoning response).

Both are deletes committed as new snapshots, never a rewind of the table's history: the
flow's offsets ledger stays where it is, so the stream does not re-ingest what was removed,
and the removed rows stay readable by time travel for the audit. A restart that reads again
messages some tables had not committed yet (the flow's contested window) asks
:func:`removed_positions` too, so a removed row is not written again either.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import BooleanExpression, Or
from pyiceberg.table import Table, Transaction
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from flywheel.errors import DatasetError
from flywheel.infra.catalog import (
    branch_head,
    committed_offsets,
    from_source,
    occurred_between,
    offsets_as_of,
    source_positions,
)
from flywheel.schemas.records import Position

REVERTED_TO_PROPERTY = "flywheel.reverted-to"
QUARANTINE_PROPERTY = "flywheel.quarantine"
_REMOVALS = (REVERTED_TO_PROPERTY, QUARANTINE_PROPERTY)
T = TypeVar("T")
# Table properties ``flywheel.quarantine.<rule id>``: the windows rows are kept out of, as JSON.
RULE_PREFIX = "flywheel.quarantine."


@dataclass(frozen=True)
class QuarantineRule:
    """An event-time window (optionally one user's) whose rows a table no longer takes.

    Stored as a table property, so every writer reads it with the table's metadata: the flow's
    sink leaves matching rows out of each commit (rows it had buffered, held or not read yet
    when the quarantine ran), not only the rows the quarantine's delete found.
    """

    start: datetime
    end: datetime
    user_id: str | None
    reason: str
    branch: str = "main"  # the branch whose writers leave the window out (rules stored before: main)

    @property
    def rule_id(self) -> str:
        """A stable id: the same window, user and branch quarantined twice is one rule, whatever UTC offset."""
        start, end = (moment.astimezone(UTC).isoformat() for moment in (self.start, self.end))
        window = f"{start}|{end}|{self.user_id or ''}" + (f"|{self.branch}" if self.branch != "main" else "")
        return hashlib.sha256(window.encode()).hexdigest()[:12]

    def encode(self) -> str:
        """The property value."""
        data = {"from": self.start.isoformat(), "to": self.end.isoformat(), "user_id": self.user_id}
        return json.dumps({**data, "reason": self.reason, "branch": self.branch})

    @classmethod
    def decode(cls, value: str) -> QuarantineRule:
        """A rule from its property value."""
        data = json.loads(value)
        start, end = datetime.fromisoformat(data["from"]), datetime.fromisoformat(data["to"])
        return cls(start, end, data["user_id"], data["reason"], data.get("branch", "main"))

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether a row (its column values) falls in the window, and is the user's when the rule names one."""
        occurred = values.get("occurred_at")
        if not isinstance(occurred, datetime):
            return False
        occurred = occurred if occurred.tzinfo else occurred.replace(tzinfo=UTC)
        return self.start <= occurred < self.end and (self.user_id is None or values.get("user_id") == self.user_id)


@functools.lru_cache(maxsize=64)
def _decoded(items: tuple[tuple[str, str], ...]) -> tuple[QuarantineRule, ...]:
    return tuple(QuarantineRule.decode(value) for _, value in items)


def quarantine_rules(properties: Mapping[str, str], branch: str | None = None) -> tuple[QuarantineRule, ...]:
    """The quarantine rules among a table's properties (decoded once per distinct set); only ``branch``'s if given."""
    items = tuple(sorted((key, value) for key, value in properties.items() if key.startswith(RULE_PREFIX)))
    rules = _decoded(items) if items else ()
    return rules if branch is None else tuple(rule for rule in rules if rule.branch == branch)


def lift_quarantine(table: Table, rule_id: str) -> bool:
    """Remove a quarantine rule: later rows of its window are taken again (removed rows stay removed)."""
    table.refresh()
    key = RULE_PREFIX + rule_id
    if key not in table.properties:
        return False
    _commit_properties(table, lambda transaction: transaction.remove_properties(key))
    return True


def _commit_properties(table: Table, change: Callable[[Transaction], object]) -> None:
    def commit() -> None:
        transaction = table.transaction()
        change(transaction)
        transaction.commit_transaction()

    _retried(table, commit)


def _retried(table: Table, action: Callable[[], T], attempts: int = 10) -> T:
    """``action()``, again on the table read anew after each commit conflict (the flow commits all along)."""
    for attempt in range(attempts - 1):
        try:
            return action()
        except CommitFailedException:
            time.sleep(0.05 * (attempt + 1))
            table.refresh()
    return action()


@dataclass(frozen=True)
class Removal:
    """What a revert or quarantine removed."""

    table: str
    rows: int
    snapshot_id: int | None
    # A quarantine's rule (table property ``flywheel.quarantine.<id>``), which keeps later rows out.
    rule_id: str | None = None


def revert_to_tag(table: Table, tag: str) -> Removal:
    """Delete every row the flow added after ``tag`` (by source offsets, not by time)."""
    table.refresh()  # the flow may have committed since the caller loaded the table
    tagged = table.snapshot_by_name(tag)
    if tagged is None:
        raise DatasetError(f"{table.name()[-1]}: no tag or branch named {tag!r}")
    kept = offsets_as_of(table, tagged)
    current = committed_offsets(table)
    added = [
        from_source(topic, partition, after=kept.get((topic, partition), -1))
        for (topic, partition), offset in sorted(current.items())
        if offset > kept.get((topic, partition), -1)
    ]
    if not added:
        return Removal(table.name()[-1], 0, None)
    return _delete(table, functools.reduce(Or, added), {REVERTED_TO_PROPERTY: tag})


def revert_all_to_tag(tables: Sequence[Table], tag: str, *, skip_untagged: bool = False) -> list[Removal]:
    """Revert every table to ``tag``, or none: a table without the tag fails before any is touched.

    ``skip_untagged``: leave the tables without the tag alone instead (a training run's
    ``train-<run_id>`` and the tracker's ``trigger-NNNNNN`` tag ``dpo_pairs`` only); at least one
    table must have it.
    """
    for table in tables:
        table.refresh()
    tagged = [table for table in tables if table.snapshot_by_name(tag) is not None]
    untagged = sorted(table.name()[-1] for table in tables if table.snapshot_by_name(tag) is None)
    if not tagged or (untagged and not skip_untagged):
        raise DatasetError(f"no tag or branch named {tag!r} on {', '.join(untagged)}; nothing reverted")
    return [revert_to_tag(table, tag) for table in tagged]


def quarantine(
    table: Table, start: datetime, end: datetime, reason: str, user_id: str | None = None, branch: str = "main"
) -> Removal:
    """Delete the rows whose event time falls in ``[start, end)`` (optionally one user's) on ``branch``.

    The window also becomes a rule in the table's properties, which keeps the rows the flow
    commits afterwards out (``flows/quarantined.py``).
    """
    table.refresh()
    start, end = (moment if moment.tzinfo else moment.replace(tzinfo=UTC) for moment in (start, end))
    if end <= start:
        raise DatasetError(f"quarantine window is empty: {start.isoformat()} .. {end.isoformat()}")
    if not reason.strip():
        raise DatasetError("a quarantine needs a reason (it is stored in the snapshot summary)")
    # The rule first, then the delete: a row the flow commits after the rule is left out by the
    # sink, or deleted by it right after its commit when the rule landed while it was committing
    # (:func:`enforce_quarantine`); one committed before the rule is in the table the delete reads.
    if branch != "main" and branch not in table.metadata.refs:
        raise DatasetError(
            f"no branch {branch!r} on {'.'.join(table.name())}; nothing quarantined (check catalog.branch)"
        )
    rule = QuarantineRule(start, end, user_id, reason, branch)
    _commit_properties(
        table, lambda transaction: transaction.set_properties({RULE_PREFIX + rule.rule_id: rule.encode()})
    )
    row_filter = occurred_between(start, end, user_id)
    window = f"{start.isoformat()}..{end.isoformat()}" + (f" user={user_id}" if user_id else "")
    removal = _delete(table, row_filter, {QUARANTINE_PROPERTY: f"{window} reason={reason}"}, branch)
    return Removal(removal.table, removal.rows, removal.snapshot_id, rule.rule_id)


def enforce_quarantine(table: Table, rules: Sequence[QuarantineRule], branch: str = "main") -> Removal:
    """Delete the rows ``rules`` hold on ``branch``: those a commit wrote while the rules were landing.

    A catalog applies an append onto the table as it is at commit time (pyiceberg's SQL catalog
    and REST alike check only the branch head): a rule committed while the flow's sink wrote its
    files does not stop the append, and the quarantine's delete, when it found nothing to delete,
    moved no head that would have. The sink finds the rule in the metadata its commit returned
    and calls this. Marked as a quarantine, so the flow's ledger treats the rows as decided.
    """
    row_filter = functools.reduce(Or, [occurred_between(rule.start, rule.end, rule.user_id) for rule in rules])
    ids = ",".join(rule.rule_id for rule in rules)
    return _delete(table, row_filter, {QUARANTINE_PROPERTY: f"rules {ids}: rows committed as they landed"}, branch)


def removed_positions(table: Table, head: Snapshot, row_filter: BooleanExpression) -> set[Position]:
    """Source positions (matching ``row_filter``) of rows a revert or quarantine in ``head``'s history deleted.

    Read from the snapshot before each removal. A removal whose parent snapshot has been expired
    cannot be read any more and is skipped (expiry keeps the last ``retain_last`` snapshots, and
    the positions that matter are the few the flow had not committed everywhere yet).
    """
    found: set[Position] = set()
    for snapshot in ancestors_of(head, table.metadata):
        summary = snapshot.summary
        removal = summary is not None and any(key in summary.additional_properties for key in _REMOVALS)
        if not removal or snapshot.parent_snapshot_id is None:
            continue
        parent = table.snapshot_by_id(snapshot.parent_snapshot_id)
        if parent is not None:
            found |= source_positions(table, parent, row_filter)
    return found


def _delete(table: Table, row_filter: BooleanExpression, properties: dict[str, str], branch: str = "main") -> Removal:
    def delete_on_head() -> Removal:
        head = branch_head(table, branch)
        if head is None:
            return Removal(table.name()[-1], 0, None)
        rows = table.scan(row_filter=row_filter, snapshot_id=head.snapshot_id).count()
        if rows:
            table.delete(row_filter, snapshot_properties=properties, branch=branch)
            table.refresh()
        after = branch_head(table, branch)
        return Removal(table.name()[-1], rows, after.snapshot_id if after and rows else None)

    return _retried(table, delete_on_head)
