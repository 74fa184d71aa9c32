"""A review item: one review-topic message, decoded, with why it is in the queue.

The flow writes the interaction event (JSON, the topic contract) with headers naming its source
message (``flywheel.source`` = ``topic:partition:offset``) and, for held-back edits, the gate's
verdict (``flywheel.review.reason``, ``flywheel.review.detail``). An item is identified by the
event id: a replayed epoch, or the queue consumer re-reading after a crash, maps to the same item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from flywheel.config import ValidationSettings
from flywheel.operators.decode import decode_event, scrubbed_limits
from flywheel.operators.pii import placeholders
from flywheel.schemas.conversation import CONVERSATION_KEY
from flywheel.schemas.events import InteractionEvent, Rejection, Signal
from flywheel.schemas.review import DETAIL_HEADER, REASON_HEADER, SOURCE_HEADER

# Why an item is queued, when the flow did not say: by the event's signal.
_REASON_BY_SIGNAL = {
    Signal.THUMBS_DOWN: "thumbs_down",
    Signal.ESCALATION: "escalation",
    Signal.RATING: "low_rating",
    Signal.EDIT: "held_edit",
}
# Metadata keys that may carry the earlier turns of the conversation, as [{role, content}, ...].
TURN_KEYS = (CONVERSATION_KEY, "turns", "history", "messages")
# The flow checked the raw event against the limits, then scrubbed it: a placeholder can be longer
# than what it replaces ("born 1/2/90" -> "born [DATE_OF_BIRTH]", x1.75; "a@b.co" -> "[EMAIL]").
# Review messages are read with scrubbed_limits (operators/decode.py), as the gateway and the flow
# read the reviewer's decision that sends them back, so no scrubbed item is refused either way.


class UndecodableItem(ValueError):
    """A review-topic message that is not a valid interaction event."""


@dataclass(frozen=True)
class ReviewItem:
    """What a reviewer sees and answers."""

    item_id: str
    event_id: str
    reason: str
    detail: str
    signal: str
    occurred_at: datetime
    thread_id: str
    request_id: str | None
    user_id: str
    segment: str
    model_id: str
    model_version: str
    prompt: str
    response: str
    user_edit: str | None
    rating: int | None
    comment: str | None
    metadata: dict[str, Any]
    source: str
    queue_position: str  # review topic:partition:offset this item was read from

    @property
    def turns(self) -> list[dict[str, str]]:
        """Earlier turns of the conversation, when the event's metadata carries them."""
        for key in TURN_KEYS:
            value = self.metadata.get(key)
            if isinstance(value, list) and all(isinstance(turn, dict) for turn in value):
                return [{"role": str(t.get("role", "?")), "content": str(t.get("content", ""))} for t in value]
        return []

    @property
    def draft(self) -> str:
        """What the reviewer's answer starts from: the user's edit, else the model's answer."""
        return self.user_edit or self.response

    def masked_in(self, answer: str) -> list[str]:
        """The placeholders of scrubbed PII (``[EMAIL]``, ...) in ``answer`` that the prompt does not hold.

        The item was scrubbed before it was queued, so its texts can hold them. The flow's policy
        drops a pair whose chosen keeps one (``pii_in_chosen:placeholder``, ``operators/policy.py``:
        the same rule), or, where the policy keeps them, trains the model to print them.
        """
        return placeholders(answer, self.prompt)

    @property
    def other_metadata(self) -> dict[str, Any]:
        """Metadata without the turns, shown as it is."""
        return {key: value for key, value in self.metadata.items() if key not in TURN_KEYS}


def item_id_of(event_id: str) -> str:
    """A URL-safe, stable id for the item of an event."""
    return hashlib.blake2b(f"review-item:{event_id}".encode(), digest_size=12).hexdigest()


def item_from_message(
    value: bytes | None,
    headers: Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None,
    queue_position: str,
    validation: ValidationSettings,
) -> ReviewItem:
    """Decode one review-topic message into an item; raise :class:`UndecodableItem` if it is not an event.

    The size limits are ``validation``'s times ``SCRUB_GROWTH`` (``operators/decode.py``): the flow
    wrote the item scrubbed.
    """
    decoded = decode_event(value, scrubbed_limits(validation))
    if isinstance(decoded, Rejection):
        raise UndecodableItem(f"{decoded.reason}: {decoded.detail}")
    pairs = headers.items() if isinstance(headers, Mapping) else headers or []
    found = {name: raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw or "" for name, raw in pairs}
    return _item(decoded, found, queue_position)


def _item(event: InteractionEvent, headers: dict[str, str], queue_position: str) -> ReviewItem:
    reason = headers.get(REASON_HEADER) or _REASON_BY_SIGNAL.get(event.signal, event.signal.value)
    return ReviewItem(
        item_id=item_id_of(event.event_id),
        event_id=event.event_id,
        reason=reason,
        detail=headers.get(DETAIL_HEADER, ""),
        signal=event.signal.value,
        occurred_at=event.occurred_at,
        thread_id=event.thread_id,
        request_id=event.request_id,
        user_id=event.user_id,
        segment=event.segment,
        model_id=event.model_id,
        model_version=event.model_version,
        prompt=event.prompt,
        response=event.response,
        user_edit=event.final_user_edit,
        rating=event.rating,
        comment=event.comment,
        metadata=orjson.loads(orjson.dumps(event.metadata)),
        source=headers.get(SOURCE_HEADER, ""),
        queue_position=queue_position,
    )
