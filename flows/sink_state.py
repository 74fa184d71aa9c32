"""What an Iceberg table committer keeps between epochs, and the recovery snapshot it hands Bytewax."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from flywheel.infra.catalog import Offsets
from flywheel.schemas.records import TableRow


@dataclass
class CommitterState:
    """What a committer must not lose between epochs: rows and progress not yet committed."""

    rows: list[TableRow] = field(default_factory=list)
    progress: Offsets = field(default_factory=dict)


@dataclass(frozen=True)
class PackedState:
    """A committer's recovery snapshot: its buffered rows each pickled once, when first snapshotted.

    Rows wait in the buffer for several snapshots (one a second, a commit every few seconds);
    pickling a list of bytes is a copy, so a row's encoding is paid once, not at every snapshot.
    """

    packed: list[bytes]
    progress: Offsets

    @staticmethod
    def pack(row: TableRow) -> bytes:
        """One row's entry in ``packed`` (``TableRow`` pickles as msgpack where that is exact)."""
        return pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)

    def rows(self) -> list[TableRow]:
        """The buffered rows, unpickled."""
        return [pickle.loads(row) for row in self.packed]


# What a committer resumes from: a packed snapshot, or the rows themselves (older releases).
SinkState = PackedState | CommitterState


def restored_rows(state: SinkState | None) -> list[TableRow]:
    """The rows a committer resumes with (none without a snapshot)."""
    if state is None:
        return []
    return state.rows() if isinstance(state, PackedState) else state.rows
