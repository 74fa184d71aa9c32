"""Source offsets stored in Iceberg snapshot summaries: the sink's exactly-once ledger.

Every commit the flow makes stores, under :data:`OFFSETS_PROPERTY`, the last source offset
(inclusive) it has accounted for on every partition. Rows at or below it are already in the
table; a restart resumes after it.
"""

from __future__ import annotations

import json

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

OFFSETS_PROPERTY = "flywheel.source-offsets"
ROWS_PROPERTY = "flywheel.rows"

# (topic, partition) -> last offset accounted for, inclusive.
Offsets = dict[tuple[str, int], int]


def encode_offsets(offsets: Offsets) -> str:
    """Serialise offsets for a snapshot summary: ``{"topic": {"partition": offset}}``."""
    nested: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in sorted(offsets.items()):
        nested.setdefault(topic, {})[str(partition)] = offset
    return json.dumps(nested, separators=(",", ":"), sort_keys=True)


def decode_offsets(text: str) -> Offsets:
    """Inverse of :func:`encode_offsets`."""
    nested = json.loads(text)
    return {
        (topic, int(partition)): int(offset)
        for topic, partitions in nested.items()
        for partition, offset in partitions.items()
    }


def merge_offsets(*maps: Offsets) -> Offsets:
    """Per-partition maximum of several offset maps."""
    merged: Offsets = {}
    for offsets in maps:
        for key, offset in offsets.items():
            if offset > merged.get(key, -1):
                merged[key] = offset
    return merged


def branch_head(table: Table, branch: str) -> Snapshot | None:
    """The snapshot a branch points at (``None`` for an empty table or a missing branch)."""
    if branch == "main":
        return table.current_snapshot()
    return table.snapshot_by_name(branch)


def committed_offsets(table: Table, branch: str = "main") -> Offsets:
    """Offsets stored by the most recent flow commit on ``branch``.

    Walks back through parents so snapshots made by other writers (maintenance,
    quarantine deletes) do not hide the ledger.
    """
    return offsets_as_of(table, branch_head(table, branch))


def offsets_as_of(table: Table, snapshot: Snapshot | None) -> Offsets:
    """Offsets stored by the most recent flow commit at or before ``snapshot``."""
    while snapshot is not None:
        summary = snapshot.summary
        if summary is not None and OFFSETS_PROPERTY in summary.additional_properties:
            return decode_offsets(summary.additional_properties[OFFSETS_PROPERTY])
        if snapshot.parent_snapshot_id is None:
            break
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id)
    return {}
