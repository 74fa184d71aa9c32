"""Impact by model version: what users did with each version's answers, from the Iceberg tables.

**How interactions are counted.** One interaction is one stored reaction to an answer: one source
event (distinct ``event_id``) with a row in any table, attributed to the ``model_version`` the
event carries. Edits are counted whatever curation decided (a ``dpo_pairs`` row, or a
``rejections`` row with ``signal = edit``: an edit the band, the safety gate or a quota refused is
still an edit the user made). Thumbs-up and high ratings are stored as a sample
(``positive_examples``, rate per stratum), so each sampled row counts ``1 / sampling_rate``
(a Horvitz-Thompson estimate; with rate 1 the count is exact). A ``view`` (an answer read without
a reaction) is counted by the flow, not stored, so it is not in the denominator: the rates here are
per reaction, not per answer served (answers served per version are the server's
``flywheel_serving_answers_total``). A reviewer's decision is not a user's reaction: reviewer pairs
(``source = reviewer``) and the audit rows of ``review`` events are left out.

Each rate comes with a 95% Wilson score interval; the difference between a version and the one
before it (in order of first appearance) comes with Newcombe's hybrid score interval.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flywheel.config import CatalogSettings
from flywheel.operators.review import REVIEWER_SOURCE
from flywheel.schemas.events import Signal
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS
from flywheel.serving import metrics

log = logging.getLogger(__name__)

Z95 = 1.959963984540054
SIGNALS = ("edit", "thumbs_up", "thumbs_down", "regenerate")


@dataclass(frozen=True)
class Reaction:
    """One stored reaction: its event, the version that produced the answer, the signal, its weight."""

    event_id: str
    model_version: str
    signal: str
    occurred_at: datetime
    weight: float = 1.0


@dataclass(frozen=True)
class Rate:
    """``count`` of ``total``, with its 95% Wilson interval."""

    count: float
    total: float
    low: float
    high: float

    @property
    def value(self) -> float:
        """The observed share."""
        return self.count / self.total if self.total else 0.0


@dataclass(frozen=True)
class Difference:
    """``value`` = rate of this version minus rate of ``against``, with its 95% interval."""

    against: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class VersionImpact:
    """One model version's figures."""

    model_version: str
    interactions: float
    rates: Mapping[str, Rate]
    first_seen: datetime
    edit_rate_change: Difference | None = None


def wilson(count: float, total: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``count`` successes in ``total`` trials (``(0, 1)`` when empty)."""
    if total <= 0:
        return 0.0, 1.0
    share = count / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def rate(count: float, total: float) -> Rate:
    """A share with its Wilson interval."""
    low, high = wilson(count, total)
    return Rate(count, total, low, high)


def difference(newer: Rate, older: Rate, against: str) -> Difference:
    """Newcombe's hybrid score interval of ``newer - older`` (two independent proportions)."""
    p1, p2 = newer.value, older.value
    delta = p1 - p2
    low = delta - math.sqrt((p1 - newer.low) ** 2 + (older.high - p2) ** 2)
    high = delta + math.sqrt((newer.high - p1) ** 2 + (p2 - older.low) ** 2)
    return Difference(against, delta, low, high)


def impact_by_version(reactions: Iterable[Reaction]) -> list[VersionImpact]:
    """Figures per model version, in order of first appearance, each compared with the one before."""
    seen: set[str] = set()
    weights: dict[str, dict[str, float]] = {}
    first: dict[str, datetime] = {}
    for reaction in reactions:
        if reaction.event_id in seen:  # a replayed or retried event counts once
            continue
        seen.add(reaction.event_id)
        version = weights.setdefault(reaction.model_version, {})
        version[reaction.signal] = version.get(reaction.signal, 0.0) + reaction.weight
        known = first.get(reaction.model_version)
        first[reaction.model_version] = min(known, reaction.occurred_at) if known else reaction.occurred_at
    figures: list[VersionImpact] = []
    for model_version in sorted(weights, key=lambda v: (first[v], v)):
        counts = weights[model_version]
        total = sum(counts.values())
        rates = {signal: rate(counts.get(signal, 0.0), total) for signal in SIGNALS}
        change = None
        if figures:
            change = difference(rates["edit"], figures[-1].rates["edit"], figures[-1].model_version)
        figures.append(VersionImpact(model_version, total, rates, first[model_version], change))
    return figures


def reactions_from_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> list[Reaction]:
    """The reactions stored in one table's rows (columns: event_id, model_version, occurred_at, ...)."""
    reactions = []
    for row in rows:
        if row.get("source") == REVIEWER_SOURCE or row.get("signal") == Signal.REVIEW.value:
            continue  # a reviewer's answer or dismissal, not a user's reaction to the answer
        if table == DPO_PAIRS:
            signal, weight = "edit", 1.0
        elif table == POSITIVE_EXAMPLES:
            sampling_rate = float(row["sampling_rate"])
            signal, weight = str(row["signal"]), (1.0 / sampling_rate if sampling_rate > 0 else 1.0)
        else:
            signal, weight = str(row["signal"]), 1.0
        reactions.append(Reaction(str(row["event_id"]), str(row["model_version"]), signal, row["occurred_at"], weight))
    return reactions


_COLUMNS = {
    DPO_PAIRS: ("event_id", "model_version", "occurred_at"),
    POSITIVE_EXAMPLES: ("event_id", "model_version", "occurred_at", "signal", "rating", "sampling_rate"),
    FEEDBACK_SIGNALS: ("event_id", "model_version", "occurred_at", "signal"),
    REJECTIONS: ("event_id", "model_version", "occurred_at", "signal"),
}


def read_reactions(catalog: CatalogSettings) -> list[Reaction]:
    """Every stored reaction in the four tables of the configured catalog (main branch)."""
    from flywheel.infra.catalog import open_catalog, table_identifier

    opened = open_catalog(catalog)
    reactions: list[Reaction] = []
    for name, columns in _COLUMNS.items():
        table = opened.load_table(table_identifier(catalog, name))
        if "source" in table.schema().column_names:  # older dpo_pairs tables have no source yet
            columns = (*columns, "source")
        rows = table.scan(selected_fields=columns).to_arrow().to_pylist()
        reactions.extend(reactions_from_rows(name, rows))
    return reactions


def read_impact(catalog: CatalogSettings) -> list[VersionImpact]:
    """Scan the tables and compute impact by version."""
    return impact_by_version(read_reactions(catalog))


def export_gauges(figures: Sequence[VersionImpact], max_versions: int) -> None:
    """Set the impact gauges for the ``max_versions`` most recent versions (older series are dropped)."""
    for gauge in (metrics.IMPACT_INTERACTIONS, metrics.IMPACT_RATE, metrics.IMPACT_RATE_LOW, metrics.IMPACT_RATE_HIGH):
        gauge.clear()
    for version in figures[-max_versions:]:
        metrics.IMPACT_INTERACTIONS.labels(version.model_version).set(version.interactions)
        for signal, figure in version.rates.items():
            metrics.IMPACT_RATE.labels(version.model_version, signal).set(figure.value)
            metrics.IMPACT_RATE_LOW.labels(version.model_version, signal).set(figure.low)
            metrics.IMPACT_RATE_HIGH.labels(version.model_version, signal).set(figure.high)


class ImpactRefresher:
    """Recomputes the impact gauges every ``interval_s`` in a background thread (0 = never)."""

    def __init__(self, catalog: CatalogSettings, interval_s: float, max_versions: int) -> None:
        self.catalog = catalog
        self.interval_s = interval_s
        self.max_versions = max_versions
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        """Read the tables once and set the gauges; a failure is logged and retried next period."""
        try:
            export_gauges(read_impact(self.catalog), self.max_versions)
        except Exception as exc:  # the catalog may be down or the tables not created yet; serving goes on
            log.warning("impact refresh failed", extra={"error": str(exc)})

    def start(self) -> None:
        """Start refreshing (no-op when the interval is 0)."""
        if self.interval_s > 0:
            self._thread = threading.Thread(target=self._run, name="serving-impact", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self.refresh()
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def stop(self) -> None:
        """Stop refreshing."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
