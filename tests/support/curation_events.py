"""Builders of interaction events for the curation operator tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flywheel.schemas.events import InteractionEvent, Signal

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_event(signal: Signal = Signal.EDIT, **overrides: Any) -> InteractionEvent:
    """An event with sensible defaults; keyword arguments override any field."""
    fields: dict[str, Any] = {
        "event_id": "e-1",
        "signal": signal,
        "occurred_at": T0,
        "thread_id": "t-1",
        "user_id": "u-1",
        "prompt": "Write a python function",
        "response": "def foo(): pass",
        "segment": "pro",
        "model_version": "v3",
    }
    if signal is Signal.EDIT:
        fields["final_user_edit"] = "def calculate_tax(): return 0.2"
    if signal is Signal.RATING:
        fields["rating"] = 5
    fields.update(overrides)
    return InteractionEvent(**fields)
