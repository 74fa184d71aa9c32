"""Run the curation dataflow in memory: Bytewax's testing source and sinks, no broker, no catalog."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bytewax.outputs import Sink
from bytewax.testing import TestingSink, TestingSource, run_main

from flywheel.flows.chain import CurationChain
from flywheel.flows.config import FlowConfig
from flywheel.flows.curation import build_flow
from flywheel.flows.decisions import SourceItem
from flywheel.flows.tally import RunStats
from flywheel.schemas.events import InteractionEvent, encode_event
from flywheel.schemas.records import (
    OutboundMessage,
    SinkItem,
    SourceCoordinates,
    SourceMessage,
    SourceProgress,
    TableRow,
    sink_entries,
)
from flywheel.schemas.tables import REJECTIONS, contracts

TOPIC = "flywheel.interactions.v1"


def as_source_items(
    values: Sequence[InteractionEvent | bytes | None], topic: str = TOPIC, received: Sequence[int] | None = None
) -> list[SourceItem]:
    """Messages at offsets 0.. of partition 0 (events encoded, bytes as given), then one progress marker.

    ``received``: each message's Kafka timestamp (ms); by default an event's message is received
    when the event happened (its ``occurred_at``), and bytes come without a timestamp.
    """
    items: list[SourceItem] = []
    for offset, value in enumerate(values):
        if isinstance(value, InteractionEvent):
            raw, key, received_ms = encode_event(value), value.thread_id.encode(), received_at(value)
        else:
            raw, key, received_ms = value, None, 0
        if received is not None:
            received_ms = received[offset]
        items.append(SourceMessage(SourceCoordinates(topic, 0, offset, received_ms), key, raw))
    items.append(SourceProgress(topic, 0, len(values) - 1))
    return items


def received_at(event: InteractionEvent) -> int:
    """The event's ``occurred_at`` as a Kafka timestamp (milliseconds since the epoch)."""
    return int(event.occurred_at.timestamp() * 1000)


@dataclass
class FlowRun:
    """What one in-memory run wrote: table items by table, topic messages, run statistics."""

    table_items: list[tuple[str, SinkItem]]
    messages: list[OutboundMessage]
    stats: RunStats
    rows: dict[str, list[TableRow]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for table, batch in self.table_items:
            for item in sink_entries([batch]):
                if isinstance(item, TableRow):
                    assert item.table == table, f"row for {item.table} keyed to {table}"
                    self.rows.setdefault(table, []).append(item)

    def event_ids(self, table: str) -> list[str]:
        """Event ids of the rows written to ``table``, in order."""
        return [row.values["event_id"] for row in self.rows.get(table, [])]

    def values(self, table: str, event_id: str) -> dict[str, Any]:
        """The single row of ``event_id`` in ``table``."""
        found = [row.values for row in self.rows.get(table, []) if row.values["event_id"] == event_id]
        assert len(found) == 1, f"{event_id} has {len(found)} rows in {table}"
        return found[0]

    def rejections(self) -> dict[str, tuple[str, str]]:
        """Stage and reason of each rejected event id."""
        return {
            row.values["event_id"]: (row.values["stage"], row.values["reason"]) for row in self.rows.get(REJECTIONS, [])
        }

    def progress(self) -> dict[str, list[SourceProgress]]:
        """The progress markers each table's committer received."""
        markers: dict[str, list[SourceProgress]] = {}
        for table, item in self.table_items:
            if isinstance(item, SourceProgress):
                markers.setdefault(table, []).append(item)
        return markers

    def topic(self, name: str) -> list[OutboundMessage]:
        """Messages written to one output topic."""
        return [message for message in self.messages if message.topic == name]


def run_curation(
    values: Sequence[InteractionEvent | bytes | None],
    config: FlowConfig | None = None,
    chain: CurationChain | None = None,
    tables: Sink[tuple[str, SinkItem]] | None = None,
    received: Sequence[int] | None = None,
) -> FlowRun:
    """Run ``values`` through the curation flow to the end and collect what it wrote.

    Table items are collected in memory unless ``tables`` (e.g. the Iceberg sink) is given;
    ``received``: the messages' Kafka timestamps (see :func:`as_source_items`).
    """
    config = config or FlowConfig()
    chain = chain or CurationChain.build(config.curation, config.validation, config.topics)
    table_items: list[tuple[str, SinkItem]] = []
    messages: list[OutboundMessage] = []
    stats = RunStats()
    flow = build_flow(
        chain,
        TestingSource(as_source_items(values, config.topics.interactions, received)),
        tables if tables is not None else TestingSink(table_items),
        TestingSink(messages),
        sorted(contracts()),
        stats,
    )
    run_main(flow)
    return FlowRun(table_items, messages, stats)
