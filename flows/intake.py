"""Decode and validate source messages; what fails becomes a DLQ message with its reason."""

from __future__ import annotations

from flywheel import metrics
from flywheel.config import DLQ_MAX_MESSAGE_BYTES, ValidationSettings
from flywheel.flows.decisions import Decoded, Invalid
from flywheel.operators.dead_letter import dead_letter
from flywheel.operators.decode import clean_event, decode_event, is_clean_json
from flywheel.schemas.events import Rejection
from flywheel.schemas.records import OutboundMessage, SourcedEvent, SourceMessage, SourceProgress


class Intake:
    """Decoding bound to the validation limits and the DLQ topic."""

    def __init__(self, limits: ValidationSettings, dlq_topic: str, dlq_max_bytes: int = DLQ_MAX_MESSAGE_BYTES) -> None:
        self._limits = limits
        self._dlq_topic = dlq_topic
        self._dlq_max_bytes = dlq_max_bytes

    def decode(self, message: SourceMessage) -> Decoded:
        """Decode and validate one message; failures become :class:`Invalid` with a reason."""
        decoded = decode_event(message.value, self._limits, message.coordinates.timestamp_ms)
        if isinstance(decoded, Rejection):
            return Invalid(message, decoded)
        if message.value is not None and is_clean_json(message.value):  # nearly every message: nothing to clean
            # The bytes decode to this very event: they travel with it, pickled where it crosses.
            return SourcedEvent(message.coordinates, decoded, message.value)
        # NFC and no control/bidi characters before any decision (removed, not rejected: counted).
        event, removed = clean_event(decoded)
        for kind, count in removed.items():
            metrics.TEXT_HYGIENE.labels(kind).inc(count)
        return SourcedEvent(message.coordinates, event)

    def decode_in_place(self, item: SourceMessage | SourceProgress) -> Decoded | SourceProgress:
        """Decode a message; pass a progress marker through (it keeps its place behind its messages)."""
        return item if isinstance(item, SourceProgress) else self.decode(item)

    def to_dead_letter(self, invalid: Invalid) -> OutboundMessage:
        """Build the DLQ message (raw bytes, reason, source coordinates) of an invalid message."""
        letter = dead_letter(invalid.message, invalid.rejection, self._dlq_topic, self._dlq_max_bytes)
        if letter.value is not invalid.message.value:  # cut to fit the DLQ: whole only in the source topic
            metrics.DLQ_TRUNCATED.labels(invalid.rejection.reason).inc()
        return letter
