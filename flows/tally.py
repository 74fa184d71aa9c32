"""Count what the flow decided, in one place: the run summary's numbers and the Prometheus metrics.

The business steps only decide; :func:`count_outcomes` inspects their outcome streams.
Only gauges of keyed state (the quota's user share) are set where that state lives.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import bytewax.operators as op
from bytewax.dataflow import Stream, operator
from prometheus_client import Counter

from flywheel import metrics
from flywheel.flows.decisions import Candidate, Decision, Decoded, Draw, Dropped, Invalid, Sampled
from flywheel.operators.outcome import Stage
from flywheel.schemas.records import SourceProgress

ACCEPTED = "accepted"
# Every this many decoded messages the run stats record (count, time.monotonic(), CPU seconds of
# the process): enough for a benchmark to measure a steady-state rate without timing every event.
PROGRESS_EVERY = 1000
_TOXICITY_PREFIX = "toxicity:"


@dataclass
class RunStats:
    """Counts for the run summary (this process only)."""

    events_read: int = 0
    first_event_at: float | None = None  # perf_counter() when the first message was decoded
    # (messages decoded so far, time.monotonic(), time.process_time()) every PROGRESS_EVERY
    # messages; monotonic because it is comparable across the processes of one machine.
    progress: list[tuple[int, float, float]] = field(default_factory=list)
    dead_letters: int = 0
    by_signal: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, int] = field(default_factory=dict)
    # Time inside the safety stage (policy has its own step; this is the toxicity model).
    toxicity_items: int = 0
    toxicity_seconds: float = 0.0


class Tally:
    """Turns outcomes into run statistics and metric updates."""

    def __init__(self, stats: RunStats, toxicity_backend: str) -> None:
        self.stats = stats
        self._toxicity_backend = toxicity_backend

    def decoded(self, items: list[Decoded | SourceProgress]) -> list[None]:
        """Count a batch of source messages: read, and either consumed by signal or dead-lettered.

        Progress markers are not counted. Prometheus is updated once per signal and reason per
        batch, not per message (a counter's ``inc`` takes a lock).
        """
        stats = self.stats
        signals: dict[str, int] = {}
        dead: dict[str, int] = {}
        for item in items:
            if isinstance(item, SourceProgress):
                continue
            if stats.first_event_at is None:
                stats.first_event_at = time.perf_counter()
            stats.events_read += 1
            if stats.events_read % PROGRESS_EVERY == 0:
                stats.progress.append((stats.events_read, time.monotonic(), time.process_time()))
            if isinstance(item, Invalid):
                dead[item.rejection.reason] = dead.get(item.rejection.reason, 0) + 1
            else:
                signal = item.event.signal.value
                signals[signal] = signals.get(signal, 0) + 1
        for signal, count in signals.items():
            stats.by_signal[signal] = stats.by_signal.get(signal, 0) + count
            _labelled(metrics.EVENTS_CONSUMED, signal).inc(count)
        for reason, count in dead.items():
            stats.dead_letters += count
            metrics.DLQ_MESSAGES.labels(reason).inc(count)
        return []

    def views(self, items: list[Candidate]) -> list[None]:
        """Count a batch of views (routed, counted, never stored): one metric update per batch."""
        self.decided("route", "view", len(items))
        return []

    def decided(self, stage: str, reason: str, count: int = 1) -> None:
        """Count ``count`` curation decisions of one kind."""
        if count <= 0:
            return
        key = f"{stage}:{reason}"
        self.stats.decisions[key] = self.stats.decisions.get(key, 0) + count
        _labelled(metrics.DECISIONS, stage, reason).inc(count)

    def measured(self, decision: Decision) -> None:
        """Observe the similarity the distance band measured (kept or dropped)."""
        if isinstance(decision, Candidate):
            if decision.measure is not None:
                metrics.SIMILARITY.observe(decision.measure.similarity)
        elif decision.drop.stage == Stage.DISTANCE:
            metrics.SIMILARITY.observe(decision.drop.scores["similarity"])

    def scored(self, decision: Decision) -> None:
        """Observe the highest toxicity score of an edit the model scored (kept or dropped)."""
        scores = decision.scores if isinstance(decision, Candidate) else decision.drop.scores
        toxicity = [value for label, value in scores.items() if label.startswith(_TOXICITY_PREFIX)]
        if toxicity:
            metrics.TOXICITY.labels(self._toxicity_backend).observe(max(toxicity))

    def timed(
        self, check_batch: Callable[[list[Candidate]], list[Decision]]
    ) -> Callable[[list[Candidate]], list[Decision]]:
        """Wrap the toxicity batch so the run summary gets its items and seconds."""

        @functools.wraps(check_batch)
        def timed_batch(candidates: list[Candidate]) -> list[Decision]:
            started = time.perf_counter()
            decisions = check_batch(candidates)
            self.stats.toxicity_items += len(candidates)
            self.stats.toxicity_seconds += time.perf_counter() - started
            return decisions

        return timed_batch


@operator
def count_outcomes(
    step_id: str,
    decoded: Stream[Decoded | SourceProgress],
    views: Stream[Candidate],
    feedback: Stream[Candidate],
    draws: Stream[Draw],
    measured: Stream[Decision],
    scored: Stream[Decision],
    accepted: Stream[Candidate],
    reviewed: Stream[Candidate],
    dropped: Stream[Dropped],
    tally: Tally,
) -> None:
    """Count every outcome of the curation flow (run summary and Prometheus)."""
    # The two per-message counts (every message, every view) count whole batches: one call per batch.
    op.flat_map_batch("decoded", decoded, tally.decoded)
    op.flat_map_batch("views", views, tally.views)
    op.inspect("feedback", feedback, lambda _step, _item: tally.decided("route", "feedback"))
    op.inspect(
        "draws",
        draws,
        lambda _step, draw: tally.decided("sampling", "sampled" if isinstance(draw, Sampled) else "not_sampled"),
    )
    op.inspect("measured", measured, lambda _step, decision: tally.measured(decision))
    op.inspect("scored", scored, lambda _step, decision: tally.scored(decision))
    op.inspect("accepted", accepted, lambda _step, _item: tally.decided("pair", ACCEPTED))
    op.inspect("reviewed", reviewed, lambda _step, _item: tally.decided(Stage.REVIEW, ACCEPTED))
    op.inspect("dropped", dropped, lambda _step, item: tally.decided(item.drop.stage, item.drop.reason))


@functools.cache
def _labelled(metric: Counter, *labels: str) -> Counter:
    # .labels() costs a lock and a dict build per call; label sets are small and bounded.
    return metric.labels(*labels)
