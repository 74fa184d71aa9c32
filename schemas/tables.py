"""Iceberg table contracts: DPO pairs, positive examples, feedback signals, rejections.

Every row carries its source coordinates (topic, partition, offset): that is what makes
the sink exactly-once and every row traceable to the message it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    NestedField,
    StringType,
    TimestamptzType,
)

DPO_PAIRS = "dpo_pairs"
POSITIVE_EXAMPLES = "positive_examples"
FEEDBACK_SIGNALS = "feedback_signals"
REJECTIONS = "rejections"


@dataclass(frozen=True)
class TableContract:
    """A table's name, Iceberg schema and partitioning."""

    name: str
    schema: Schema
    partition_spec: PartitionSpec

    @property
    def arrow_schema(self) -> pa.Schema:
        """The pyarrow schema rows are assembled into before an append."""
        return self.schema.as_arrow()


class _Fields:
    """Assigns field ids in declaration order so each schema reads like a column list."""

    def __init__(self) -> None:
        self.fields: list[NestedField] = []

    def add(self, name: str, kind: object, required: bool = False, doc: str | None = None) -> _Fields:
        field_id = len(self.fields) + 1
        self.fields.append(NestedField(field_id, name, kind, required=required, doc=doc))  # type: ignore[arg-type]
        return self

    def identity(self) -> _Fields:
        """Who and which model the interaction belongs to."""
        return (
            self.add("event_id", StringType(), required=True, doc="idempotency key of the source event")
            .add("thread_id", StringType(), required=True)
            .add("request_id", StringType())
            .add("user_id", StringType(), required=True, doc="pseudonymous user id")
            .add("segment", StringType(), required=True, doc="user cohort")
            .add("model_id", StringType(), required=True)
            .add("model_version", StringType(), required=True)
        )

    def lineage(self) -> _Fields:
        """Source coordinates and times; the sink's exactly-once bookkeeping reads these."""
        return (
            self.add("source_topic", StringType(), required=True)
            .add("source_partition", IntegerType(), required=True)
            .add("source_offset", LongType(), required=True)
            .add("occurred_at", TimestamptzType(), required=True, doc="event time, UTC")
            .add("curated_at", TimestamptzType(), required=True, doc="processing time, UTC")
        )

    def recall(self) -> _Fields:
        """Added after the first release (optional, at the end): what a restart rebuilds dedup from."""
        return self.add(
            "dedup_key",
            StringType(),
            doc="the dedup step's key: an edit's content hash (prompt, chosen, rejected), else the event id",
        )

    def schema(self) -> Schema:
        return Schema(*self.fields)


def _scores() -> MapType:
    # Placeholder ids; pyiceberg reassigns nested ids when it creates the table.
    return MapType(key_id=1000, key_type=StringType(), value_id=1001, value_type=DoubleType())


def _by_day(schema: Schema) -> PartitionSpec:
    source_id = schema.find_field("occurred_at").field_id
    return PartitionSpec(
        PartitionField(source_id=source_id, field_id=1000, transform=DayTransform(), name="occurred_day")
    )


def _dpo_pairs() -> TableContract:
    fields = (
        _Fields()
        .add("pair_id", StringType(), required=True, doc="hash of event_id: stable across replays")
        .identity()
        .add("prompt", StringType(), required=True, doc="x")
        .add("chosen", StringType(), required=True, doc="y_user: the user's edit, the winning response")
        .add("rejected", StringType(), required=True, doc="y_model: the model's answer, the losing response")
        .add(
            "similarity",
            DoubleType(),
            required=True,
            doc="normalized Levenshtein similarity of rejected vs chosen",
        )
        .add("edit_distance", IntegerType(), required=True, doc="Levenshtein distance, characters")
        .add("edit_inserts", IntegerType(), required=True)
        .add("edit_deletes", IntegerType(), required=True)
        .add("edit_replaces", IntegerType(), required=True)
        .add("safety_scores", _scores(), doc="toxicity and policy scores of chosen")
        .add("policy_version", StringType(), required=True)
        .lineage()
        # Added after the first release (optional, at the end: an additive schema change).
        .add("source", StringType(), doc="who wrote chosen: user (an edit) or reviewer (human review)")
        .add("reviewer_id", StringType(), doc="the reviewer who wrote or approved chosen (source=reviewer)")
        .add(
            "metadata",
            StringType(),
            doc='JSON {"conversation": [{"role", "content"}, ...]}: the turns before prompt, PII scrubbed; '
            "null for a single-turn event",
        )
        .recall()
    )
    schema = fields.schema()
    return TableContract(DPO_PAIRS, schema, _by_day(schema))


def _positive_examples() -> TableContract:
    fields = (
        _Fields()
        .add("example_id", StringType(), required=True)
        .identity()
        .add("signal", StringType(), required=True)
        .add("rating", IntegerType())
        .add("prompt", StringType(), required=True)
        .add("response", StringType(), required=True)
        .add("stratum", StringType(), required=True, doc="sampling stratum, e.g. segment|model_version")
        .add("sampling_rate", DoubleType(), required=True, doc="inclusion probability; weight = 1 / rate")
        .add("policy_version", StringType(), required=True)
        .lineage()
        .recall()
    )
    schema = fields.schema()
    return TableContract(POSITIVE_EXAMPLES, schema, _by_day(schema))


def _feedback_signals() -> TableContract:
    fields = (
        _Fields()
        .identity()
        .add("signal", StringType(), required=True)
        .add("rating", IntegerType())
        .add("comment", StringType())
        .add("prompt", StringType())
        .add("response", StringType())
        .add("routed_to_review", StringType(), doc="review topic name when routed to human review")
        .lineage()
        .recall()
    )
    schema = fields.schema()
    return TableContract(FEEDBACK_SIGNALS, schema, _by_day(schema))


def _rejections() -> TableContract:
    fields = (
        _Fields()
        .identity()
        .add("signal", StringType(), required=True)
        .add("stage", StringType(), required=True, doc="curation stage that dropped the event")
        .add("reason", StringType(), required=True, doc="stable reason code")
        .add("detail", StringType(), doc="human-readable explanation, PII scrubbed")
        .add("scores", _scores())
        .add("policy_version", StringType(), required=True)
        .add("prompt", StringType(), doc="PII scrubbed")
        .add("chosen", StringType(), doc="PII scrubbed")
        .add("rejected", StringType(), doc="PII scrubbed")
        .lineage()
        .recall()
    )
    schema = fields.schema()
    return TableContract(REJECTIONS, schema, _by_day(schema))


def contracts() -> dict[str, TableContract]:
    """Every table the flow writes, by name."""
    built = (_dpo_pairs(), _positive_examples(), _feedback_signals(), _rejections())
    return {contract.name: contract for contract in built}
