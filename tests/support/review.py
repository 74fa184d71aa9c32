"""Review test support: review items and review-topic messages built like the flow builds them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flywheel.config import ValidationSettings
from flywheel.review.items import ReviewItem, item_from_message
from flywheel.review.passwords import hash_password
from flywheel.schemas.events import InteractionEvent, Signal, encode_event
from flywheel.schemas.review import SOURCE_HEADER


def thumbs_down(index: int, **overrides: Any) -> InteractionEvent:
    """A thumbs-down event on a plausible answer."""
    fields: dict[str, Any] = {
        "event_id": f"td-{index}",
        "signal": Signal.THUMBS_DOWN,
        "occurred_at": datetime(2026, 11, 1, 12, index % 60, tzinfo=UTC),
        "thread_id": f"thread-{index}",
        "user_id": f"user-{index}",
        "prompt": f"Question {index}: how do I rotate my API credentials safely?",
        "response": f"Answer {index}: just delete the old key.",
        "segment": "pro" if index % 2 else "free",
        "model_id": "assistant",
        "model_version": "2026.11",
        "comment": "wrong",
    }
    fields.update(overrides)
    return InteractionEvent(**fields)


def review_item(index: int, **overrides: Any) -> ReviewItem:
    """The queue item of :func:`thumbs_down` as the consumer would store it."""
    event = thumbs_down(index, **overrides)
    headers = [(SOURCE_HEADER, f"interactions:0:{index}".encode())]
    return item_from_message(encode_event(event), headers, f"review:0:{index}", ValidationSettings())


def password_hash(password: str) -> str:
    """A stored hash of ``password``, cheaper than the default cost (n = 2^12) to keep tests quick."""
    return hash_password(password, n=2**12)
