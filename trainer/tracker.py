"""Threshold tracker: one training trigger each time N net-new DPO pairs have been committed.

State lives in the table and the topic, never in the process:

* the crossings are a pure function of the ``dpo_pairs`` snapshot history: starting from the
  snapshot of the previous trigger (tag ``trigger-NNNNNN``), the first ancestor of ``main``
  whose ``total-records`` exceeds it by at least N is the next crossing;
* ``trigger_id`` is a hash of the table uuid and that snapshot id, so recomputing gives the same id;
* a trigger is produced only if the triggers topic does not already hold its id, then the
  snapshot is tagged. A crash between the two is repaired on the next check (id found, tag set).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from flywheel.infra.catalog import ensure_tag, open_catalog, table_identifier, total_records
from flywheel.infra.kafka import CheckedProducer
from flywheel.schemas.tables import DPO_PAIRS, POSITIVE_EXAMPLES
from flywheel.trainer import metrics
from flywheel.trainer.config import TrainerConfig
from flywheel.trainer.events import TrainingTrigger, trigger_id_for
from flywheel.trainer.io import main_history, trigger_ids_on

log = logging.getLogger(__name__)

TRIGGER_TAG = re.compile(r"^trigger-(\d{6,})$")


def trigger_tag(sequence: int) -> str:
    """The tag a trigger puts on the snapshot it was cut at."""
    return f"trigger-{sequence:06d}"


@dataclass
class TrackerReport:
    """What one tracker check saw and did."""

    pairs_since_trigger: int
    threshold: int
    emitted: list[TrainingTrigger] = field(default_factory=list)
    already_emitted: list[str] = field(default_factory=list)


def last_trigger(table: Table) -> tuple[int, Snapshot | None]:
    """The sequence number and snapshot of the table's latest trigger tag (0, None if none)."""
    best: tuple[int, Snapshot | None] = (0, None)
    for name, ref in table.metadata.refs.items():
        match = TRIGGER_TAG.match(name)
        if match and int(match.group(1)) > best[0]:
            best = (int(match.group(1)), table.snapshot_by_id(ref.snapshot_id))
    return best


def _after(history: list[Snapshot], floor: Snapshot | None) -> list[Snapshot]:
    """Snapshots of ``history`` newer than ``floor`` (by ancestry, or by time after a rollback)."""
    if floor is None:
        return history
    ids = [s.snapshot_id for s in history]
    if floor.snapshot_id in ids:
        return history[ids.index(floor.snapshot_id) + 1 :]
    return [s for s in history if s.timestamp_ms > floor.timestamp_ms]


def _snapshot_at(table: Table, timestamp_ms: int) -> Snapshot | None:
    """The table's main-branch snapshot current at ``timestamp_ms``."""
    candidates = [s for s in main_history(table) if s.timestamp_ms <= timestamp_ms]
    return candidates[-1] if candidates else None


def next_crossing(table: Table, threshold: int) -> tuple[Snapshot | None, int, int, Snapshot | None]:
    """(crossing snapshot or None, its sequence, net-new pairs now, previous trigger snapshot)."""
    sequence, floor = last_trigger(table)
    base = total_records(floor)
    history = main_history(table)
    for snapshot in _after(history, floor):
        if total_records(snapshot) - base >= threshold:
            return snapshot, sequence + 1, total_records(snapshot) - base, floor
    return None, sequence + 1, max(total_records(table.current_snapshot()) - base, 0), floor


def emitted_trigger_ids(settings: TrainerConfig) -> set[str]:
    """Trigger ids already on the triggers topic."""
    return trigger_ids_on(settings.kafka, settings.topics.training_triggers, TrainingTrigger)


def check(settings: TrainerConfig, catalog: Catalog | None = None) -> TrackerReport:
    """Emit one trigger per threshold crossing not yet triggered; idempotent across restarts."""
    catalog = catalog or open_catalog(settings.catalog)
    identifier = table_identifier(settings.catalog, DPO_PAIRS)
    positives_id = table_identifier(settings.catalog, POSITIVE_EXAMPLES)
    threshold = settings.trainer.threshold
    emitted_ids: set[str] | None = None
    producer = None
    report = TrackerReport(pairs_since_trigger=0, threshold=threshold)
    while True:
        table = catalog.load_table(identifier)
        crossing, sequence, pending, floor = next_crossing(table, threshold)
        if crossing is None:
            report.pairs_since_trigger = pending
            break
        trigger = TrainingTrigger(
            trigger_id=trigger_id_for(str(table.metadata.table_uuid), crossing.snapshot_id),
            table=identifier,
            table_uuid=str(table.metadata.table_uuid),
            snapshot_id=crossing.snapshot_id,
            snapshot_committed_at=datetime.fromtimestamp(crossing.timestamp_ms / 1000, tz=UTC),
            previous_snapshot_id=floor.snapshot_id if floor else None,
            positives_table=positives_id,
            positives_snapshot_id=_positives_snapshot(catalog, positives_id, crossing.timestamp_ms),
            threshold=threshold,
            new_pairs=pending,
            total_pairs=total_records(crossing),
            sequence=sequence,
        )
        if emitted_ids is None:
            emitted_ids = emitted_trigger_ids(settings)
        if trigger.trigger_id in emitted_ids:
            report.already_emitted.append(trigger.trigger_id)
        else:
            producer = producer or CheckedProducer(settings.kafka)
            producer.send_durably(
                settings.topics.training_triggers,
                trigger.trigger_id,
                trigger.model_dump_json().encode(),
            )
            emitted_ids.add(trigger.trigger_id)
            report.emitted.append(trigger)
            metrics.TRIGGERS.inc()
            log.info(
                "training trigger emitted",
                extra={
                    "trigger_id": trigger.trigger_id,
                    "snapshot_id": trigger.snapshot_id,
                    "new_pairs": pending,
                },
            )
        ensure_tag(catalog, identifier, trigger_tag(sequence), crossing.snapshot_id)
    metrics.PAIRS_SINCE_TRIGGER.set(report.pairs_since_trigger)
    return report


def _positives_snapshot(catalog: Catalog, identifier: str, timestamp_ms: int) -> int | None:
    try:
        snapshot = _snapshot_at(catalog.load_table(identifier), timestamp_ms)
    except Exception:  # a deployment without positives still trains on pairs
        log.warning("positives table unavailable at the crossing; the trainer looks again", exc_info=True)
        return None
    return snapshot.snapshot_id if snapshot else None


def run_tracker(settings: TrainerConfig, stop: threading.Event | None = None, once: bool = False) -> TrackerReport:
    """Check once, or every ``trainer.track_interval_s`` until ``stop`` is set."""
    stop = stop or threading.Event()
    catalog = open_catalog(settings.catalog)
    report = check(settings, catalog)
    while not once and not stop.wait(settings.trainer.track_interval_s):
        report = check(settings, catalog)
    return report
