"""The functions the curation dataflow calls: operators bound to their config, plus metrics.

Each method is one named step of ``flows/curation.py``. Business rules live in
``operators/``; this module only wires configuration, counters and row building together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flywheel import metrics
from flywheel.settings import Settings
from operators.dead_letter import dead_letter
from operators.decode import decode_event
from operators.distance import measure_edit
from operators.rows import pair_row
from schemas.events import Rejection, Signal
from schemas.records import OutboundMessage, SinkItem, SourcedEvent, SourceMessage, SourceProgress, TableRow
from schemas.tables import contracts


@dataclass
class Invalid:
    """A message that failed decoding or validation, bound for the DLQ."""

    message: SourceMessage
    rejection: Rejection


@dataclass
class RunStats:
    """Counts for the run summary (this process only)."""

    events_read: int = 0
    dead_letters: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)


class CurationSteps:
    """Step functions with their configuration bound in."""

    def __init__(self, settings: Settings, stats: RunStats | None = None) -> None:
        self._settings = settings
        self._tables = sorted(contracts())
        self.policy_version = "none"
        self.stats = stats or RunStats()

    # -- source ---------------------------------------------------------------------------

    @staticmethod
    def is_progress(item: SourceMessage | SourceProgress) -> bool:
        """Progress markers bypass curation and go straight to every table's committer."""
        return isinstance(item, SourceProgress)

    def progress_for_every_table(self, marker: SourceMessage | SourceProgress) -> list[tuple[str, SinkItem]]:
        """One copy of a progress marker per table."""
        assert isinstance(marker, SourceProgress)
        return [(table, marker) for table in self._tables]

    # -- decode + validate -----------------------------------------------------------------

    def decode(self, message: SourceMessage | SourceProgress) -> SourcedEvent | Invalid:
        """Decode and validate one message; failures become :class:`Invalid` with a reason."""
        assert isinstance(message, SourceMessage)
        self.stats.events_read += 1
        decoded = decode_event(message.value, self._settings.validation)
        if isinstance(decoded, Rejection):
            return Invalid(message, decoded)
        signal = decoded.signal.value
        self.stats.by_signal[signal] = self.stats.by_signal.get(signal, 0) + 1
        metrics.EVENTS_CONSUMED.labels(signal).inc()
        return SourcedEvent(message.coordinates, decoded)

    @staticmethod
    def is_valid(item: SourcedEvent | Invalid) -> bool:
        return isinstance(item, SourcedEvent)

    def to_dead_letter(self, item: SourcedEvent | Invalid) -> OutboundMessage:
        """The DLQ message (raw bytes, reason, source coordinates) for an invalid message."""
        assert isinstance(item, Invalid)
        self.stats.dead_letters += 1
        metrics.DLQ_MESSAGES.labels(item.rejection.reason).inc()
        return dead_letter(item.message, item.rejection, self._settings.topics.dlq)

    # -- routing ---------------------------------------------------------------------------

    @staticmethod
    def is_edit(item: SourcedEvent | Invalid) -> bool:
        return isinstance(item, SourcedEvent) and item.event.signal is Signal.EDIT

    # -- edit -> DPO pair ------------------------------------------------------------------

    def to_pair(self, item: SourcedEvent | Invalid) -> TableRow:
        """Map an edit to a DPO pair row: chosen = the user's edit, rejected = the model's answer."""
        assert isinstance(item, SourcedEvent) and item.event.final_user_edit is not None
        measure = measure_edit(item.event.response, item.event.final_user_edit)
        metrics.SIMILARITY.observe(measure.similarity)
        return pair_row(item, item.event.final_user_edit, measure, {}, self.policy_version, _now())

    # -- sink ------------------------------------------------------------------------------

    @staticmethod
    def key_by_table(row: TableRow) -> tuple[str, SinkItem]:
        """Route a row to its table's committer."""
        return (row.table, row)


def _now() -> datetime:
    # Processing time, stored as curated_at only; never used in a decision.
    return datetime.now(UTC)
