"""Table maintenance: expire old snapshots and compact small files, without touching the ledger.

The flow commits every few seconds per table, so snapshots and small data files pile up and
slow commits and scans. ``flywheel data maintain`` (a CronJob in Kubernetes) runs both.

Invariants kept (the exactly-once ledger lives in snapshot summaries, see ``infra/offsets.py``):

* Expiry never removes a tag or branch head (pyiceberg protects them: every ``train-*`` and
  ``trigger-*`` tag stays readable), nor any snapshot between a ref's head and the nearest
  ancestor that carries ``flywheel.source-offsets``: ``offsets_as_of`` walks parents, and a
  broken chain would read as "nothing committed" and re-ingest the stream.
* Expiry then deletes the files only expired snapshots could read (never a file a kept
  snapshot holds live), so the warehouse shrinks too.
* Compaction is one ``overwrite`` snapshot per table that swaps small files for fewer big ones
  (same rows) and carries the latest ``flywheel.source-offsets`` forward, so the new head is a
  ledger entry itself. It never retries through pyiceberg (the tables disable that): on a
  conflict with the flow it commits the files it wrote again on the new head, with that head's
  offsets (re-read), so it can never store stale offsets.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile, ManifestEntryStatus, ManifestFile
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from flywheel.config import MaintenanceSettings
from flywheel.errors import CommitFailed
from flywheel.infra.catalog import OFFSETS_PROPERTY, branch_head, committed_offsets, encode_offsets
from flywheel.infra.retry import is_commit_conflict

log = logging.getLogger(__name__)

COMPACTED_PROPERTY = "flywheel.compacted-files"


@dataclass(frozen=True)
class Expiry:
    """What snapshot expiry removed and kept (``files_deleted``: data files, manifests, manifest lists)."""

    table: str
    expired: int
    kept: int
    files_deleted: int = 0


@dataclass(frozen=True)
class Compaction:
    """What compaction rewrote (``snapshot_id`` is None when nothing was worth it)."""

    table: str
    files_before: int
    files_after: int
    rows: int
    snapshot_id: int | None


def expire_snapshots(table: Table, settings: MaintenanceSettings, now: datetime | None = None) -> Expiry:
    """Expire snapshots older than ``snapshot_max_age_h``, keeping the newest ``retain_last``, refs and the ledger."""
    table.refresh()
    now = now or datetime.now(UTC)
    cutoff_ms = int((now - timedelta(hours=settings.snapshot_max_age_h)).timestamp() * 1000)
    keep = _protected(table, settings.retain_last)
    old = [s.snapshot_id for s in table.metadata.snapshots if s.timestamp_ms < cutoff_ms]
    doomed = [snapshot_id for snapshot_id in old if snapshot_id not in keep]
    if not doomed:
        return Expiry(table.name()[-1], 0, len(table.metadata.snapshots))
    # Decided before the commit, from the metadata that still lists the doomed snapshots.
    unreferenced = _files_only_of(table, set(doomed)) if settings.delete_expired_files else set()
    table.maintenance.expire_snapshots().by_ids(doomed).commit()
    table.refresh()
    for path in sorted(unreferenced):
        table.io.delete(path)
    log.info(
        "expired snapshots",
        extra={"table": table.name()[-1], "expired": len(doomed), "files_deleted": len(unreferenced)},
    )
    return Expiry(table.name()[-1], len(doomed), len(table.metadata.snapshots), len(unreferenced))


def _files_only_of(table: Table, doomed: set[int]) -> set[str]:
    """Files (data, manifests, manifest lists) that no kept snapshot can read.

    A data file stays when a kept snapshot holds it live (added or existing; an entry marking it
    deleted does not make it readable), so time travel to every kept snapshot keeps working.
    Files a concurrent commit adds are in no doomed snapshot and are never candidates.
    """
    entries: dict[str, tuple[set[str], set[str]]] = {}  # manifest -> (live data files, all data files)

    def files_of(manifest_path: str, manifest: ManifestFile) -> tuple[set[str], set[str]]:
        if manifest_path not in entries:
            listed = manifest.fetch_manifest_entry(table.io, discard_deleted=False)
            live = {e.data_file.file_path for e in listed if e.status != ManifestEntryStatus.DELETED}
            entries[manifest_path] = (live, {e.data_file.file_path for e in listed})
        return entries[manifest_path]

    kept: set[str] = set()
    candidates: set[str] = set()
    for snapshot in table.metadata.snapshots:
        is_doomed = snapshot.snapshot_id in doomed
        (candidates if is_doomed else kept).add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            live, every = files_of(manifest.manifest_path, manifest)
            (candidates if is_doomed else kept).add(manifest.manifest_path)
            if is_doomed:
                candidates.update(every)
            else:
                kept.update(live)
    return candidates - kept


def _protected(table: Table, retain_last: int) -> set[int]:
    """Snapshots expiry must keep: ref heads, their chains to the ledger, the newest of main."""
    keep: set[int] = set()
    for ref in table.metadata.refs.values():
        keep.update(s.snapshot_id for s in _chain_to_ledger(table, table.snapshot_by_id(ref.snapshot_id)))
    newest = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True)[:retain_last]
    keep.update(s.snapshot_id for s in newest)
    return keep


def _chain_to_ledger(table: Table, snapshot: Snapshot | None) -> list[Snapshot]:
    """``snapshot`` and its ancestors up to and including the first one carrying source offsets."""
    chain: list[Snapshot] = []
    for ancestor in ancestors_of(snapshot, table.metadata):
        chain.append(ancestor)
        if ancestor.summary is not None and OFFSETS_PROPERTY in ancestor.summary.additional_properties:
            break
    return chain


def compact(table: Table, settings: MaintenanceSettings) -> Compaction:
    """Rewrite each partition's small files into fewer files, as one overwrite snapshot on main.

    The new files are written once. A commit that conflicts with the flow (which only appends) is
    made again on the new head, with the offsets that head carries, as long as every file it
    replaces is still live there: the files are not rewritten, so the retry takes milliseconds
    and a busy table cannot starve its compaction. If a replaced file is gone (another writer
    rewrote or deleted it), the written files are removed and the rewrite is planned again.
    """
    name = table.name()[-1]
    for attempt in range(1, settings.commit_attempts + 1):
        table.refresh()
        groups = plan_compaction(table, settings)
        if not groups:
            return Compaction(name, 0, 0, 0, None)
        try:
            return rewrite(table, groups, settings)
        except Replan as exc:
            log.info("compaction re-planned", extra={"table": name, "attempt": attempt, "reason": str(exc)})
    raise CommitFailed(f"{name}: compaction re-planned {settings.commit_attempts} times; files kept changing")


def plan_compaction(table: Table, settings: MaintenanceSettings) -> list[list[FileScanTask]]:
    """The head's small files worth rewriting, per partition (none when the table has no snapshot)."""
    if branch_head(table) is None:
        return []
    target = settings.target_file_size_mb * 1024 * 1024
    return _small_file_groups(list(table.scan().plan_files()), target, settings.compact_min_files)


def rewrite(table: Table, groups: list[list[FileScanTask]], settings: MaintenanceSettings) -> Compaction:
    """Write ``groups`` (planned on ``table`` as loaded) into new files and swap them in; on any
    failure the new files are deleted again.

    Raises :class:`Replan` when, after a conflict, a file of ``groups`` is no longer live on the head.
    """
    written: list[DataFile] = []
    try:
        rows = _write_groups(table, groups, written)
        return _commit_rewrite(table, groups, written, rows, settings)
    except BaseException:
        # The rewrite never became a snapshot: its files are read by nothing. Left behind, each
        # failed attempt would leave a copy of the partitions in the warehouse.
        _remove_unreferenced(table, [data_file.file_path for data_file in written])
        raise


class Replan(Exception):
    """A file the rewrite replaces is no longer live on the head: plan again."""


def _write_groups(table: Table, groups: list[list[FileScanTask]], written: list[DataFile]) -> int:
    """Write each group's rows into new files (appended to ``written`` as they are made); the row count."""
    scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    write_uuid, counter, rows = uuid.uuid4(), itertools.count(0), 0
    for group in groups:
        data = scan.to_table(group)
        rows += data.num_rows
        written.extend(_dataframe_to_data_files(table.metadata, data, table.io, write_uuid, counter))
    return rows


def _commit_rewrite(
    table: Table, groups: list[list[FileScanTask]], written: list[DataFile], rows: int, settings: MaintenanceSettings
) -> Compaction:
    """Swap the groups' files for ``written`` in one snapshot, on the head as it is at each attempt.

    The first attempt is on the metadata ``groups`` were planned from, so every replaced file is
    live there; after a conflict the head is read again and checked (a manifest read per check).
    """
    name = table.name()[-1]
    replaced = [task.file for group in groups for task in group]
    for attempt in range(1, settings.commit_attempts + 1):
        if attempt > 1:
            live = {task.file.file_path for task in table.scan().plan_files()}
            gone = [data_file.file_path for data_file in replaced if data_file.file_path not in live]
            if gone:
                raise Replan(f"{len(gone)} of the files it replaces are no longer live")
        properties = {COMPACTED_PROPERTY: str(len(replaced))}
        offsets = committed_offsets(table)  # this head's: never an older ledger entry than the flow's
        if offsets:
            properties[OFFSETS_PROPERTY] = encode_offsets(offsets)
        try:
            with table.transaction() as tx, tx.update_snapshot(snapshot_properties=properties).overwrite() as rewrite:
                for data_file in replaced:
                    rewrite.delete_data_file(data_file)
                for data_file in written:
                    rewrite.append_data_file(data_file)
        except (CommitFailedException, ValueError) as exc:
            if not is_commit_conflict(exc):
                raise
            # The flow committed meanwhile: commit the same files again on its snapshot.
            log.info("compaction conflicted; committing on the new head", extra={"table": name, "attempt": attempt})
            table.refresh()
            continue
        table.refresh()
        after = branch_head(table)
        log.info("compacted", extra={"table": name, "files_before": len(replaced), "files_after": len(written)})
        return Compaction(name, len(replaced), len(written), rows, after.snapshot_id if after else None)
    raise CommitFailed(f"{name}: compaction conflicted {settings.commit_attempts} times")


def _remove_unreferenced(table: Table, paths: list[str]) -> None:
    """Delete files a failed commit wrote (best effort: a file that will not go is logged, not raised)."""
    for path in paths:
        try:
            table.io.delete(path)
        except OSError as exc:
            log.warning("could not delete an unreferenced file", extra={"path": path, "error": str(exc)})


def _small_file_groups(tasks: list[FileScanTask], target_bytes: int, min_files: int) -> list[list[FileScanTask]]:
    """Per partition, the small files worth rewriting (at least ``min_files`` of them, no delete files)."""
    by_partition: dict[tuple[int, Any], list[FileScanTask]] = defaultdict(list)
    for task in tasks:
        if task.file.file_size_in_bytes < target_bytes and not task.delete_files:
            by_partition[(task.file.spec_id, task.file.partition)].append(task)
    return [group for _, group in sorted(by_partition.items(), key=lambda kv: repr(kv[0])) if len(group) >= min_files]
