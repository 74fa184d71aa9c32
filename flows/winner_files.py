"""The dedup windows' journal on disk: sealed winners as files beside the recovery store.

Each file is written once (to a temporary name, synced, renamed), named by a hash of its bytes,
and referenced by the bucket's recovery snapshots until its newest winner leaves the window
(``operators/winners.py``). A retired file is removed only after ``grace_s``: until then an older
snapshot that still references it may be the one a restart resumes from (Bytewax keeps a snapshot
``backup_interval`` after a newer one supersedes it, and workers close epochs at their own pace).

A crash leaves two kinds of file behind: seals of an epoch that never completed, and retired
files whose grace the crash cut short (the retired list lives in memory). At start,
:func:`referenced_by_store` reads which files the snapshots kept in the recovery store still
reference and :meth:`WinnerFiles.sweep` removes the others.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import closing
from pathlib import Path

from flywheel.config import RecoverySettings
from flywheel.errors import RecoveryStateDamaged
from flywheel.operators.held_dedup import HeldSnapshot
from flywheel.operators.winners import Block, SegmentRef, decode_segment, encode_segment, seal_reference

log = logging.getLogger(__name__)

# Seconds a retired segment outlives the last snapshot that referenced it, at the least.
MIN_GRACE_S = 120.0


class WinnerFiles:
    """A :class:`~flywheel.operators.winners.WinnerJournal` of files in ``directory`` (created on first seal)."""

    def __init__(self, directory: Path, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self._grace_s = grace_s
        self._clock = clock
        self._retired: list[tuple[float, str]] = []  # (remove after, file name)

    @classmethod
    def for_recovery(cls, recovery: RecoverySettings) -> WinnerFiles:
        """The journal inside the recovery directory (a reset removes both), with its grace period."""
        grace = recovery.backup_interval_s + max(MIN_GRACE_S, 60 * recovery.snapshot_interval_s)
        return cls(Path(recovery.directory) / "dedup-winners", grace)

    def seal(self, blocks: Sequence[Block]) -> SegmentRef:
        """Write ``blocks`` once, durably; return their reference."""
        data = encode_segment(blocks)
        name = hashlib.blake2b(data, digest_size=16).hexdigest() + ".seg"
        path = self.directory / name
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{name}.{os.getpid()}.partial")
            with partial.open("wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        self._remove_due()
        return seal_reference(name, blocks)

    def read(self, segment: SegmentRef) -> list[Block]:
        """The blocks of ``segment``; a missing file is damaged recovery state, said plainly."""
        path = self.directory / segment.name
        try:
            return decode_segment(path.read_bytes())
        except FileNotFoundError:
            raise RecoveryStateDamaged(
                f"the dedup journal file {path} ({segment.count} winners) referenced by the recovery state "
                "is missing; restore the recovery directory from its backup, or reset recovery "
                "(the tables' winners are recalled at start, winners not committed yet are lost)"
            ) from None

    def retire(self, segments: Iterable[SegmentRef]) -> None:
        """Remove these segments' files once ``grace_s`` has passed."""
        due = self._clock() + self._grace_s
        self._retired.extend((due, segment.name) for segment in segments)
        self._remove_due()

    def sweep(self, referenced: Collection[str], now: float | None = None) -> list[str]:
        """Remove the files that no kept snapshot references, and unfinished writes; return their names.

        Only files older than the grace period go (by modification time, ``now`` wall-clock
        seconds): a younger one may be a seal that a process sharing the directory has not
        snapshotted yet. Call it before the flow starts, with :func:`referenced_by_store`'s set.
        """
        if not self.directory.is_dir():
            return []
        oldest_kept = (time.time() if now is None else now) - self._grace_s
        removed: list[str] = []
        for path in sorted(self.directory.iterdir()):
            unused = path.suffix == ".seg" and path.name not in referenced
            if not (unused or path.suffix == ".partial"):
                continue
            try:
                if path.stat().st_mtime > oldest_kept:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:  # left for the next start; never fatal to the flow
                log.warning("could not remove a dedup journal file", extra={"file": path.name, "error": str(exc)})
                continue
            removed.append(path.name)
        return removed

    def _remove_due(self) -> None:
        now = self._clock()
        keep: list[tuple[float, str]] = []
        for due, name in self._retired:
            if due > now:
                keep.append((due, name))
                continue
            try:
                (self.directory / name).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:  # kept for the next try; never fatal to the flow
                log.warning("could not remove a retired dedup journal file", extra={"file": name, "error": str(exc)})
                keep.append((due, name))
        self._retired = keep


def referenced_by_store(directory: Path, step_prefix: str) -> set[str] | None:
    """Names of the journal files that the snapshots kept in the recovery store in ``directory`` reference.

    Reads every kept snapshot of the steps whose id starts with ``step_prefix`` (the held
    dedup's), not only the newest: an older one may be the one a restart resumes from. None,
    with a warning saying why, when the store cannot tell: a partition is missing (a cluster
    whose processes keep their own directories), unreadable, or holds a state it cannot load;
    then nothing may be swept.
    """
    paths = sorted(directory.glob("part-*.sqlite3"))
    names: set[str] = set()
    try:
        indexes: set[int] = set()
        counts: set[int] = set()
        for path in paths:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as store:
                for index, count in store.execute("SELECT part_index, part_count FROM parts"):
                    indexes.add(index)
                    counts.add(count)
                rows = store.execute(
                    "SELECT ser_change FROM snaps WHERE substr(step_id, 1, ?) = ? AND ser_change IS NOT NULL",
                    (len(step_prefix), step_prefix),
                )
                for (data,) in rows:
                    state = pickle.loads(data)
                    if isinstance(state, HeldSnapshot):
                        names.update(segment.name for segment in state.winners.sealed)
    except Exception as exc:  # sqlite3.Error, an unpickling error: any of them means "cannot tell"
        log.warning("the recovery store could not be read; dedup journal files are kept", extra={"error": repr(exc)})
        return None
    if len(counts) != 1 or indexes != set(range(counts.pop())):
        log.warning(
            "the recovery store lacks partitions; dedup journal files are kept",
            extra={"directory": str(directory), "partitions": sorted(indexes)},
        )
        return None
    return names
