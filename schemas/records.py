"""What travels between the flow's steps: source messages, progress markers, table rows."""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from flywheel.schemas.events import InteractionEvent


class Position(NamedTuple):
    """Where a source message is: topic, partition, offset (a tuple: hashes, sorts and pickles as one)."""

    topic: str
    partition: int
    offset: int


class SourceCoordinates(msgspec.Struct, frozen=True, array_like=True):
    """Where a message came from; every stored row carries these."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int

    @property
    def position(self) -> Position:
        """The message's position, without its timestamp."""
        return Position(self.topic, self.partition, self.offset)


class SourceMessage(msgspec.Struct, frozen=True, array_like=True):
    """One raw Kafka message, before decoding."""

    coordinates: SourceCoordinates
    key: bytes | None
    value: bytes | None


class SourceProgress(msgspec.Struct, frozen=True, array_like=True):
    """The source has emitted every message of ``topic``/``partition`` up to ``offset`` inclusive.

    Emitted once per non-empty source batch and broadcast to every table's committer, so a
    table that receives no rows still records how far the flow has read.
    """

    topic: str
    partition: int
    offset: int


class SourcedEvent(msgspec.Struct, frozen=True, array_like=True):
    """A decoded, valid interaction event with its source coordinates."""

    coordinates: SourceCoordinates
    event: InteractionEvent


class TableRow(msgspec.Struct, frozen=True, array_like=True):
    """A row for one Iceberg table; ``values`` follows the table contract's columns."""

    table: str
    coordinates: SourceCoordinates
    values: dict[str, Any]


SinkItem = TableRow | SourceProgress


class OutboundMessage(msgspec.Struct, frozen=True):
    """A message for one of the flywheel's output topics (DLQ, review)."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = msgspec.field(default_factory=list)
