"""Small Iceberg and Kafka helpers shared by the tracker, the trainer and export.

Tables are created with pyiceberg's automatic commit retry off (the flow's sink retries itself),
so ref updates here retry on :class:`CommitFailedException` after reloading the table.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TypeVar

from confluent_kafka import KafkaError, Producer
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from flywheel.config import KafkaSettings
from flywheel.errors import DeliveryError, TagConflictError
from flywheel.infra.broker import read_to_end
from flywheel.trainer.events import TrainingResult, TrainingTrigger

log = logging.getLogger(__name__)

TriggerRecord = TypeVar("TriggerRecord", TrainingTrigger, TrainingResult)


def total_records(snapshot: Snapshot | None) -> int:
    """Rows in the table as of ``snapshot`` (its summary's ``total-records``), 0 for none."""
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.get("total-records") or 0)


def main_history(table: Table) -> list[Snapshot]:
    """Ancestors of the table's current snapshot, oldest first."""
    return list(reversed(list(ancestors_of(table.current_snapshot(), table.metadata))))


def ensure_tag(catalog: Catalog, identifier: str, tag: str, snapshot_id: int, attempts: int = 10) -> Table:
    """Create tag ``tag`` on ``snapshot_id`` unless it already points there; returns the fresh table."""
    for attempt in range(attempts):
        table = catalog.load_table(identifier)
        ref = table.metadata.refs.get(tag)
        if ref is not None:
            if ref.snapshot_id != snapshot_id:
                raise TagConflictError(f"tag {tag} on {identifier} points at {ref.snapshot_id}, not {snapshot_id}")
            return table
        try:
            table.manage_snapshots().create_tag(snapshot_id, tag).commit()
            return catalog.load_table(identifier)
        except CommitFailedException:
            log.info("tag commit conflicted; retrying", extra={"tag": tag, "attempt": attempt + 1})
            time.sleep(0.05 * (attempt + 1))
    raise CommitFailedException(f"could not tag {identifier}@{snapshot_id} as {tag} in {attempts} attempts")


def resolve_snapshot(table: Table, ref: str) -> Snapshot:
    """A snapshot by id, tag or branch name; ``LookupError`` with a clear message if there is none."""
    if ref.lstrip("-").isdigit():
        snapshot = table.snapshot_by_id(int(ref))
        if snapshot is not None:
            return snapshot
    snapshot = table.snapshot_by_name(ref)
    if snapshot is None:
        known = sorted(table.metadata.refs)
        raise LookupError(f"no snapshot or tag {ref!r} in {'.'.join(table.name())}; refs: {known}")
    return snapshot


def idempotent_producer(kafka: KafkaSettings) -> Producer:
    """A producer that never duplicates a message on its own retries."""
    return Producer(kafka.client(**{"enable.idempotence": True, "acks": "all", "linger.ms": 5}))


def produce_durably(producer: Producer, topic: str, key: str, value: bytes, timeout_s: float = 30.0) -> None:
    """Produce one message and wait until the broker acknowledged it; raise on failure."""
    errors: list[KafkaError] = []

    def _delivered(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(err)

    producer.produce(topic, key=key.encode(), value=value, on_delivery=_delivered)
    remaining = producer.flush(timeout_s)
    if errors or remaining:
        raise DeliveryError(f"could not deliver {key} to {topic}: {errors or 'flush timed out'}")


def read_topic(kafka: KafkaSettings, topic: str, timeout_s: float = 30.0) -> Iterable[bytes]:
    """Every message value currently in ``topic``, read to partition EOF on every partition."""
    for message in read_to_end(kafka, topic, timeout_s):
        value = message.value()
        if value is not None:
            yield value


def trigger_ids_on(kafka: KafkaSettings, topic: str, model: type[TriggerRecord]) -> set[str]:
    """The ``trigger_id`` of every message on ``topic`` that decodes as ``model``."""
    ids: set[str] = set()
    for value in read_topic(kafka, topic):
        try:
            ids.add(model.model_validate_json(value).trigger_id)
        except ValueError:
            log.warning("ignoring an undecodable message", extra={"topic": topic})
    return ids
