"""The dedup windows' journal on disk: sealed winners as files beside the recovery store.

Each file is written once (to a temporary name, synced, renamed), named by a hash of its bytes,
and referenced by the bucket's recovery snapshots until its newest winner leaves the window
(``operators/winners.py``). A retired file is removed only after ``grace_s``: until then an older
snapshot that still references it may be the one a restart resumes from (Bytewax keeps a snapshot
``backup_interval`` after a newer one supersedes it, and workers close epochs at their own pace).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from flywheel.config import RecoverySettings
from flywheel.errors import RecoveryStateDamaged
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
