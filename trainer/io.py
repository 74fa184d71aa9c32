"""What the tracker and the trainer read from their topics and tables, beyond the shared clients.

Producing, reading topics and Iceberg refs are :mod:`flywheel.infra.kafka` and
:mod:`flywheel.infra.catalog`; this module adds the trigger and result views on them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TypeVar

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from flywheel.config import KafkaSettings
from flywheel.infra.catalog import history
from flywheel.infra.kafka_reads import read_to_end
from flywheel.trainer.events import TrainingResult, TrainingTrigger

log = logging.getLogger(__name__)

TriggerRecord = TypeVar("TriggerRecord", TrainingTrigger, TrainingResult)


def main_history(table: Table) -> list[Snapshot]:
    """Ancestors of the head of ``main``, oldest first."""
    return list(reversed(list(history(table))))


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
