"""Where the flow starts reading: what the Iceberg tables hold, or explicit offsets.

A timestamp is turned into offsets by :func:`flywheel.infra.kafka.offsets_for_time`.

Resuming from the tables assumes the topic is the one they were written from. A new or reset
broker (the local one keeps its topics in memory) starts its offsets at 0 again while the
catalog remembers the old ones: the source would wait beyond the topic's end, and the ledger
would drop the new messages below the old offsets as already decided. A resume position past
a partition's end shows it, and is refused before the flow starts (a new topic that has
already grown past the old offsets cannot be told apart from the old one).
"""

from __future__ import annotations

from collections.abc import Iterable

from pyiceberg.table import Table

from flywheel.config import CatalogSettings, KafkaSettings
from flywheel.errors import ConfigError, OffsetsAheadOfTopic
from flywheel.infra.catalog import committed_offsets
from flywheel.infra.kafka_reads import end_offsets

RESET_COMMAND = "flywheel stack reset --yes"


def from_tables(tables: Iterable[Table], topic: str, partitions: list[int], branch: str) -> dict[int, int]:
    """First offset not yet accounted for by *every* table: the minimum over tables."""
    ledgers = [committed_offsets(table, branch) for table in tables]
    return {
        partition: min((ledger.get((topic, partition), -1) + 1 for ledger in ledgers), default=0)
        for partition in partitions
    }


def parse_offsets(spec: str, partitions: list[int]) -> dict[int, int]:
    """Parse ``--from-offsets``: ``"0:120,1:98"`` per partition, or one number for all."""
    spec = spec.strip()
    if spec.isdigit():
        return dict.fromkeys(partitions, int(spec))
    offsets: dict[int, int] = {}
    for part in spec.split(","):
        try:
            partition_text, offset_text = part.split(":")
            partition, offset = int(partition_text), int(offset_text)
        except ValueError:
            raise ConfigError(f"bad offset spec {part!r}: expected PARTITION:OFFSET, e.g. 0:120,1:98") from None
        if partition not in partitions:
            raise ConfigError(f"partition {partition} does not exist (partitions: {partitions})")
        if offset < 0:
            raise ConfigError(f"offset for partition {partition} must be >= 0, got {offset}")
        offsets[partition] = offset
    return {partition: offsets.get(partition, 0) for partition in partitions}


def refuse_if_ahead(kafka: KafkaSettings, catalog: CatalogSettings, topic: str, start: dict[int, int]) -> None:
    """Raise :class:`OffsetsAheadOfTopic` if a resume offset lies past its partition's end."""
    resumed = [partition for partition, offset in start.items() if offset > 0]
    if not resumed:
        return  # nothing committed yet: nothing to be ahead
    ends = end_offsets(kafka, topic, resumed, timeout_s=kafka.connect_timeout_s)
    ahead = {partition: (start[partition], end) for partition, end in ends.items() if start[partition] > end}
    if not ahead:
        return
    where = ", ".join(
        f"partition {p} resumes at {offset} but ends at {end}" for p, (offset, end) in sorted(ahead.items())
    )
    raise OffsetsAheadOfTopic(
        f"the catalog at {catalog.shown_uri} has consumed {topic!r} further than the topic on "
        f"{kafka.bootstrap_servers} goes ({where}): the broker is new or was reset since the tables "
        "were written. Point the flow at the matching broker and catalog, or start over with "
        f"`{RESET_COMMAND}` (drops the flywheel tables in namespace {catalog.namespace!r} and the "
        "recovery state)"
    )
