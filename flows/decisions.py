"""What travels between the curation flow's steps, and the type guards that split it.

Each guard is a ``TypeGuard``, so ``op.branch`` (and the composites in ``flows/gates.py``)
know the type on each side of a split without asserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

import msgspec

from flywheel.operators.distance import EditMeasure
from flywheel.operators.outcome import Drop
from flywheel.schemas.events import Rejection
from flywheel.schemas.records import Position, SourcedEvent, SourceMessage, SourceProgress

SourceItem = SourceMessage | SourceProgress


@dataclass
class Invalid:
    """A message that failed decoding or validation, bound for the DLQ."""

    message: SourceMessage
    rejection: Rejection


# gc=False: frozen, per event, no cycle through them; untracked by the cyclic collector (schemas/events.py).
class Candidate(msgspec.Struct, gc=False, frozen=True):
    """An event still on its way to a table, with the evidence gathered so far (edits: a DPO pair)."""

    sourced: SourcedEvent
    chosen: str
    measure: EditMeasure | None = None
    scores: dict[str, float] = msgspec.field(default_factory=dict)


class Dropped(msgspec.Struct, gc=False, frozen=True):
    """An event a curation gate dropped, on its way to the rejections table."""

    sourced: SourcedEvent
    drop: Drop


Decision = Candidate | Dropped
Decoded = SourcedEvent | Invalid


class Sampled(msgspec.Struct, gc=False, frozen=True):
    """A positive candidate the stratified hash sample drew, with what reweighting needs."""

    sourced: SourcedEvent
    stratum: str
    sampling_rate: float


class NotSampled(msgspec.Struct, gc=False, frozen=True):
    """A positive candidate the sample did not draw: counted, not stored."""

    sourced: SourcedEvent


Draw = Sampled | NotSampled


def is_progress(item: SourceItem) -> TypeGuard[SourceProgress]:
    """Tell a progress marker from a message."""
    return isinstance(item, SourceProgress)


def is_message(item: SourceItem) -> TypeGuard[SourceMessage]:
    """Tell a source message from a progress marker."""
    return isinstance(item, SourceMessage)


def is_event(item: Decoded) -> TypeGuard[SourcedEvent]:
    """Tell a decoded, valid event from an invalid message."""
    return isinstance(item, SourcedEvent)


def is_invalid(item: Decoded | SourceProgress) -> TypeGuard[Invalid]:
    """Tell an invalid message from a decoded event (or a progress marker)."""
    return isinstance(item, Invalid)


def is_event_or_progress(item: Decoded | SourceProgress) -> TypeGuard[SourcedEvent | SourceProgress]:
    """Tell a decoded event or a progress marker (the source's ordered path) from an invalid message."""
    return not isinstance(item, Invalid)


def is_candidate(decision: Decision) -> TypeGuard[Candidate]:
    """Tell an event a gate kept from one it dropped."""
    return isinstance(decision, Candidate)


def is_dropped(decision: Decision) -> TypeGuard[Dropped]:
    """Tell an event a gate dropped from one it kept."""
    return isinstance(decision, Dropped)


def is_sampled(draw: Draw) -> TypeGuard[Sampled]:
    """Tell a drawn positive from one the sample skipped."""
    return isinstance(draw, Sampled)


def is_not_sampled(draw: Draw) -> TypeGuard[NotSampled]:
    """Tell a skipped positive from a drawn one."""
    return isinstance(draw, NotSampled)


def is_clean_positive(screened: Sampled | Dropped) -> TypeGuard[Sampled]:
    """Tell a sampled positive the policy kept from one it dropped."""
    return isinstance(screened, Sampled)


def is_dropped_positive(screened: Sampled | Dropped) -> TypeGuard[Dropped]:
    """Tell a sampled positive the policy dropped from one it kept."""
    return isinstance(screened, Dropped)


def position_of(sourced: SourcedEvent) -> Position:
    """The event's source topic, partition and offset (what dedup and quota remember it by)."""
    return sourced.coordinates.position
