"""The functions the curation dataflow calls: operators bound to their config, plus metrics.

Each method is one named step of ``flows/curation.py``. Business rules live in
``operators/``; this module only binds configuration, records metrics and builds rows.
Stateful steps (dedup, quota) take and return their state explicitly, as Bytewax's
``stateful_map`` wants, so recovery snapshots capture it.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec
from prometheus_client import Counter

from flywheel import metrics
from flywheel.flows.config import FlowConfig
from flywheel.operators.dead_letter import dead_letter
from flywheel.operators.decode import decode_event
from flywheel.operators.dedup import InteractionDedup, bucket_of, dedup_key
from flywheel.operators.distance import EditMeasure, check_band, measure_edit
from flywheel.operators.judge import JudgeItem, build_judge, check_verdict
from flywheel.operators.near_dup import NearDuplicateDetector, near_dup_group
from flywheel.operators.outcome import Drop
from flywheel.operators.policy import PolicyEngine
from flywheel.operators.quota import QuotaLedger, quota_key
from flywheel.operators.routing import Route, needs_review, route_of
from flywheel.operators.rows import feedback_row, pair_row, positive_row, rejection_row
from flywheel.operators.sampling import sample_positive
from flywheel.operators.toxicity import ToxicityGate, build_backend
from flywheel.schemas.events import Rejection
from flywheel.schemas.records import OutboundMessage, SinkItem, SourcedEvent, SourceMessage, SourceProgress, TableRow
from flywheel.schemas.tables import contracts

ACCEPTED = "accepted"
_review_encoder = msgspec.json.Encoder()


@dataclass
class Invalid:
    """A message that failed decoding or validation, bound for the DLQ."""

    message: SourceMessage
    rejection: Rejection


class Candidate(msgspec.Struct, frozen=True):
    """An edit on its way to becoming a DPO pair, with the evidence gathered so far."""

    sourced: SourcedEvent
    chosen: str
    measure: EditMeasure | None = None
    scores: dict[str, float] = msgspec.field(default_factory=dict)


class Dropped(msgspec.Struct, frozen=True):
    """An event a curation gate dropped, on its way to the rejections table."""

    sourced: SourcedEvent
    drop: Drop


Decision = Candidate | Dropped


@dataclass
class RunStats:
    """Counts for the run summary (this process only)."""

    events_read: int = 0
    first_event_at: float | None = None  # perf_counter() when the first message was decoded
    dead_letters: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    # Time inside the safety stage (policy has its own step; this is the toxicity model).
    toxicity_items: int = 0
    toxicity_seconds: float = 0.0

    def decided(self, stage: str, reason: str) -> None:
        key = f"{stage}:{reason}"
        self.decisions[key] = self.decisions.get(key, 0) + 1
        _labelled(metrics.DECISIONS, stage, reason).inc()


class CurationSteps:
    """Step functions with their configuration bound in."""

    def __init__(self, settings: FlowConfig, stats: RunStats | None = None) -> None:
        curation = settings.curation
        self._settings = settings
        self._curation = curation
        self._tables = sorted(contracts())
        self.policy = PolicyEngine.from_file(curation.policy.path())
        self.toxicity = build_backend(curation.toxicity)
        self.toxicity_gate = ToxicityGate.for_backend(curation.toxicity.thresholds, self.toxicity)
        self.judge = build_judge(curation.judge)
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
        if self.stats.first_event_at is None:
            self.stats.first_event_at = time.perf_counter()
        self.stats.events_read += 1
        decoded = decode_event(message.value, self._settings.validation)
        if isinstance(decoded, Rejection):
            return Invalid(message, decoded)
        signal = decoded.signal.value
        self.stats.by_signal[signal] = self.stats.by_signal.get(signal, 0) + 1
        _labelled(metrics.EVENTS_CONSUMED, signal).inc()
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

    # -- windowed dedup (stateful, keyed by hash bucket) -----------------------------------

    def dedup_bucket(self, item: SourcedEvent | Invalid) -> str:
        assert isinstance(item, SourcedEvent)
        return bucket_of(dedup_key(item.event), self._curation.dedup.buckets)

    def dedup(self, state: InteractionDedup | None, item: SourcedEvent | Invalid) -> tuple[InteractionDedup, Decision]:
        """Drop a repeated event id, or an edit whose normalised content was seen, within the window."""
        assert isinstance(item, SourcedEvent)
        dedup = self._curation.dedup
        state = state or InteractionDedup(timedelta(seconds=dedup.window_s), content=dedup.content)
        drop = state.observe(item.event, _position(item))
        chosen = item.event.final_user_edit or ""
        return state, Candidate(item, chosen) if drop is None else Dropped(item, drop)

    def near_duplicate_bucket(self, decision: Decision) -> str:
        assert isinstance(decision, Candidate)
        group = near_dup_group(decision.sourced.event) or decision.sourced.event.event_id
        return bucket_of(group, self._curation.dedup.buckets)

    def near_duplicate(
        self, state: NearDuplicateDetector | None, decision: Decision
    ) -> tuple[NearDuplicateDetector, Decision]:
        """Drop an edit whose text is a MinHash near-duplicate of a recent edit to the same prompt."""
        assert isinstance(decision, Candidate)
        dedup = self._curation.dedup
        state = state or NearDuplicateDetector(
            timedelta(seconds=dedup.window_s),
            dedup.near_duplicate_threshold,
            dedup.near_duplicate_num_perm,
            dedup.near_duplicate_shingle_size,
        )
        group = near_dup_group(decision.sourced.event)
        if group is None:
            return state, decision
        drop = state.observe(group, decision.chosen, decision.sourced.event.occurred_at, _position(decision.sourced))
        return state, decision if drop is None else Dropped(decision.sourced, drop)

    # -- routing ---------------------------------------------------------------------------

    def route(self, decision: Decision) -> Route:
        assert isinstance(decision, Candidate)
        return route_of(decision.sourced.event, self._curation.sampling.min_rating)

    def is_pair_candidate(self, decision: Decision) -> bool:
        return self.route(decision) is Route.PAIR_CANDIDATE

    def is_positive_candidate(self, decision: Decision) -> bool:
        return self.route(decision) is Route.POSITIVE_CANDIDATE

    def is_feedback(self, decision: Decision) -> bool:
        return self.route(decision) is Route.FEEDBACK

    def count_view(self, decision: Decision) -> None:
        """Views are counted, never stored."""
        if self.route(decision) is Route.VIEW:
            self.stats.decided("route", "view")

    # -- feedback and positives ------------------------------------------------------------

    def to_feedback_row(self, decision: Decision) -> TableRow:
        """An analytics row; thumbs_down and escalation are marked as sent to review."""
        assert isinstance(decision, Candidate)
        review = self._settings.topics.review if needs_review(decision.sourced.event) else None
        self.stats.decided("route", "feedback")
        return feedback_row(decision.sourced, review, _now())

    def to_review_messages(self, decision: Decision) -> list[OutboundMessage]:
        """The review-queue message for events a human should look at (possibly none)."""
        assert isinstance(decision, Candidate)
        sourced = decision.sourced
        if not needs_review(sourced.event):
            return []
        source = sourced.coordinates
        headers = [("flywheel.source", f"{source.topic}:{source.partition}:{source.offset}".encode())]
        key = sourced.event.thread_id.encode()
        return [OutboundMessage(self._settings.topics.review, key, _review_encoder.encode(sourced.event), headers)]

    def to_positive_rows(self, decision: Decision) -> list[TableRow]:
        """A positive example when the stratified hash sample draws it; nothing otherwise."""
        assert isinstance(decision, Candidate)
        sample = sample_positive(decision.sourced.event, self._curation.sampling)
        if sample is None:
            self.stats.decided("sampling", "not_sampled")
            return []
        self.stats.decided("sampling", "sampled")
        return [positive_row(decision.sourced, sample.stratum, sample.sampling_rate, self.policy.version, _now())]

    # -- edit chain: distance -> policy -> toxicity -> judge -> quota -> pair ----------------

    def distance_band(self, decision: Decision) -> Decision:
        """Measure the golden delta and keep edits inside the similarity band."""
        assert isinstance(decision, Candidate)
        event = decision.sourced.event
        measure = measure_edit(event.response, decision.chosen)
        metrics.SIMILARITY.observe(measure.similarity)
        drop = check_band(measure, self._curation.distance)
        if drop is not None:
            return Dropped(decision.sourced, drop)
        return msgspec.structs.replace(decision, measure=measure)

    def policy_gate(self, decision: Decision) -> Decision:
        """Deterministic rules: lengths, injection markers, blocked content, PII (reject or scrub)."""
        assert isinstance(decision, Candidate)
        event = decision.sourced.event
        verdict = self.policy.evaluate(event.prompt, decision.chosen, event.response)
        if verdict.drop is not None:
            return Dropped(decision.sourced, verdict.drop)
        scores = {**decision.scores, **{f"policy:{k}": v for k, v in verdict.findings.items()}}
        return msgspec.structs.replace(decision, chosen=verdict.chosen, scores=scores)

    def toxicity_gate_batch(self, decisions: list[Decision]) -> list[Decision]:
        """Score the user's edits in batches (never one call per item) and apply thresholds."""
        started = time.perf_counter()
        candidates = [d for d in decisions if isinstance(d, Candidate)]
        size = self._curation.toxicity.batch_size
        scored: list[dict[str, float]] = []
        for start in range(0, len(candidates), size):
            scored.extend(self.toxicity.score_batch([c.chosen for c in candidates[start : start + size]]))
        results: list[Decision] = []
        for candidate, scores in zip(candidates, scored, strict=True):
            if scores:
                metrics.TOXICITY.labels(self.toxicity.name).observe(max(scores.values()))
            drop = self.toxicity_gate.check(scores)
            if drop is not None:
                results.append(Dropped(candidate.sourced, drop))
            else:
                toxicity = {f"toxicity:{label}": value for label, value in scores.items()}
                results.append(msgspec.structs.replace(candidate, scores={**candidate.scores, **toxicity}))
        self.stats.toxicity_items += len(candidates)
        self.stats.toxicity_seconds += time.perf_counter() - started
        return results + [d for d in decisions if isinstance(d, Dropped)]

    def judge_gate_batch(self, decisions: list[Decision]) -> list[Decision]:
        """The LLM-as-a-judge hook, batched; a pass-through when it is off (the default)."""
        if self.judge is None:
            return decisions
        candidates = [d for d in decisions if isinstance(d, Candidate)]
        items = [JudgeItem(c.sourced.event.prompt, c.chosen, c.sourced.event.response) for c in candidates]
        results: list[Decision] = [d for d in decisions if isinstance(d, Dropped)]
        for candidate, verdict in zip(candidates, self.judge.judge_batch(items), strict=True):
            drop = check_verdict(verdict)
            results.append(candidate if drop is None else Dropped(candidate.sourced, drop))
        return results

    def quota_segment(self, decision: Decision) -> str:
        assert isinstance(decision, Candidate)
        return quota_key(decision.sourced.event)

    def quota(self, ledger: QuotaLedger | None, decision: Decision) -> tuple[QuotaLedger, Decision]:
        """Per-user and per-segment caps per event-time day, so no one can dominate the data."""
        assert isinstance(decision, Candidate)
        ledger = ledger or QuotaLedger(self._curation.quota)
        event = decision.sourced.event
        drop = ledger.admit(event.user_id, event.segment, event.occurred_at, _position(decision.sourced))
        if drop is not None:
            return ledger, Dropped(decision.sourced, drop)
        metrics.observe_user_share(event.segment, ledger.user_counts_on(event.occurred_at))
        return ledger, decision

    def to_pair_row(self, decision: Decision) -> TableRow:
        """The accepted DPO pair: chosen = the (scrubbed) user edit, rejected = the model answer."""
        assert isinstance(decision, Candidate) and decision.measure is not None
        self.stats.decided("pair", ACCEPTED)
        return pair_row(
            decision.sourced, decision.chosen, decision.measure, decision.scores, self.policy.version, _now()
        )

    # -- drops -> audit rows ---------------------------------------------------------------

    @staticmethod
    def is_candidate(decision: Decision) -> bool:
        return isinstance(decision, Candidate)

    def to_rejection_row(self, decision: Decision) -> TableRow:
        """The audit row of a drop: stage, reason, scores, policy version; texts PII-scrubbed."""
        assert isinstance(decision, Dropped)
        self.stats.decided(decision.drop.stage, decision.drop.reason)
        event = decision.sourced.event
        scrubbed = {
            "prompt": self.policy.scrub(event.prompt),
            "chosen": self.policy.scrub(event.final_user_edit) if event.final_user_edit is not None else None,
            "rejected": self.policy.scrub(event.response),
        }
        return rejection_row(decision.sourced, decision.drop, self.policy.version, scrubbed, _now())

    # -- sink ------------------------------------------------------------------------------

    @staticmethod
    def key_by_table(row: TableRow) -> tuple[str, SinkItem]:
        """Route a row to its table's committer."""
        return (row.table, row)


def _position(item: SourcedEvent) -> tuple[str, int, int]:
    source = item.coordinates
    return (source.topic, source.partition, source.offset)


@functools.cache
def _labelled(metric: Counter, *labels: str) -> Counter:
    # .labels() costs a lock and a dict build per call; label sets are small and bounded.
    return metric.labels(*labels)


def _now() -> datetime:
    # Processing time, stored as curated_at only; never used in a decision.
    return datetime.now(UTC)
