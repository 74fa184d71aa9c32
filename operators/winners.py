"""The dedup window's recovery record: its winners as an append-only journal of compact blocks.

Bytewax snapshots every dedup bucket at every epoch. Pickling the whole window each time made
a snapshot's cost grow with the window (about 1 s per epoch at a million remembered keys, a
63 MB snapshot): the flow slowed to a third of its rate as a 24 h window filled. Instead, a
window records each winner once, when it is remembered:

* at a snapshot, the winners remembered since the previous one are encoded into one block
  (msgpack columns, written once, never re-encoded);
* once a bucket's blocks hold ``seal_at`` winners they are *sealed*: handed to a
  :class:`WinnerJournal` that stores them once (the flow's journal is a directory next to the
  recovery store, ``flows/winner_files.py``) and gives back a small :class:`SegmentRef`;
* the snapshot itself holds only the segment references, the unsealed blocks and a few
  numbers, so its size is bounded by ``seal_at``, not by the window;
* a segment whose newest winner is below the watermark holds nobody the window remembers: it is
  dropped from the references and retired from the journal.

Restoring replays the journal: a winner is remembered again exactly when its event time is at
or above the watermark, which is exactly when the window still remembered it (keys leave the
window only by falling below the watermark, and a key is only remembered again after it left).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from flywheel.schemas.records import Position

# A winner: its key, event time and source position (None: remembered without one).
Winner = tuple[str, float, Position | None]


class SegmentRef(msgspec.Struct, frozen=True):
    """A sealed run of winners kept by a :class:`WinnerJournal`: its name, newest time, size."""

    name: str
    newest: float
    count: int


class Block(msgspec.Struct, frozen=True):
    """Winners encoded once: columns as msgpack (``data``), their newest event time and count."""

    data: bytes
    newest: float
    count: int


class WindowSnapshot(msgspec.Struct, frozen=True):
    """A window's recovery state: settings, watermark inputs, sealed segments, unsealed blocks."""

    window_s: float
    reason: str
    max_seen: float | None
    sealed: tuple[SegmentRef, ...]
    blocks: tuple[Block, ...]


class WinnerJournal(Protocol):
    """Where sealed winners are kept (the flow's is a directory: ``flows/winner_files.py``)."""

    def seal(self, blocks: Sequence[Block]) -> SegmentRef:
        """Store ``blocks`` once; return the reference a snapshot keeps."""
        ...

    def read(self, segment: SegmentRef) -> list[Block]:
        """The blocks of a sealed segment (raises a clear error when it is gone)."""
        ...

    def retire(self, segments: Iterable[SegmentRef]) -> None:
        """Segments no snapshot from now on references (removed once no older one can be resumed)."""
        ...


class _Columns(msgspec.Struct, array_like=True):
    keys: list[str]
    times: list[float]
    topics: list[str]
    topic_of: list[int]  # index into topics; -1: no position
    partitions: list[int]
    offsets: list[int]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Columns)
_segment_encoder = msgspec.msgpack.Encoder()
_segment_decoder = msgspec.msgpack.Decoder(list[Block])


def encode_block(winners: Sequence[Winner]) -> Block:
    """Encode winners as one block (columns; each topic name once)."""
    topics: dict[str, int] = {}
    columns = _Columns([], [], [], [], [], [])
    for key, moment, position in winners:
        columns.keys.append(key)
        columns.times.append(moment)
        if position is None:
            columns.topic_of.append(-1)
            columns.partitions.append(0)
            columns.offsets.append(0)
            continue
        topic, partition, offset = position  # a Position, or a plain tuple of the same three
        columns.topic_of.append(topics.setdefault(topic, len(topics)))
        columns.partitions.append(partition)
        columns.offsets.append(offset)
    columns.topics = list(topics)
    return Block(_encoder.encode(columns), max(columns.times, default=float("-inf")), len(winners))


def decode_block(block: Block) -> list[Winner]:
    """The winners of a block, in the order they were remembered."""
    columns = _decoder.decode(block.data)
    winners: list[Winner] = []
    for key, moment, topic, partition, offset in zip(
        columns.keys, columns.times, columns.topic_of, columns.partitions, columns.offsets, strict=True
    ):
        winners.append((key, moment, None if topic < 0 else Position(columns.topics[topic], partition, offset)))
    return winners


def encode_segment(blocks: Sequence[Block]) -> bytes:
    """The bytes a journal stores for a sealed segment."""
    return _segment_encoder.encode(list(blocks))


def decode_segment(data: bytes) -> list[Block]:
    """The blocks of a stored segment."""
    return _segment_decoder.decode(data)


def seal_reference(name: str, blocks: Sequence[Block]) -> SegmentRef:
    """The reference of a segment of ``blocks`` stored under ``name``."""
    return SegmentRef(
        name, max((block.newest for block in blocks), default=float("-inf")), sum(block.count for block in blocks)
    )


class MemoryJournal:
    """A journal in this process's memory, for tests (a flow without a journal passes None: its
    winners' blocks then stay in its snapshots)."""

    def __init__(self) -> None:
        self.segments: dict[str, list[Block]] = {}
        self.retired: list[str] = []

    def seal(self, blocks: Sequence[Block]) -> SegmentRef:
        """Keep ``blocks`` under the next name."""
        name = f"segment-{len(self.segments) + len(self.retired)}"
        self.segments[name] = list(blocks)
        return seal_reference(name, blocks)

    def read(self, segment: SegmentRef) -> list[Block]:
        """The blocks kept under the segment's name."""
        try:
            return list(self.segments[segment.name])
        except KeyError:
            raise LookupError(f"dedup journal: no segment {segment.name}") from None

    def retire(self, segments: Iterable[SegmentRef]) -> None:
        """Forget the segments at once (nothing older is ever resumed from memory)."""
        for segment in segments:
            if self.segments.pop(segment.name, None) is not None:
                self.retired.append(segment.name)
