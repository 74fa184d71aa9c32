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

**Intervals.** Each rate comes with a 95% Wilson score interval, widened for users: one user's
reactions are alike (the same habits, often the same kind of question), so n reactions from a few
users carry less evidence than n independent ones. The interval uses the effective sample size
n / deff, where deff (the design effect, at least 1) is the cluster-robust variance of the ratio
estimate with users as clusters divided by the binomial variance. A reaction whose user is
unknown is its own cluster.

**Comparisons.** Each version is compared with the one before it (in order of first appearance)
by the difference in edit rate with Newcombe's hybrid score interval on those widened intervals.
Where the two were served side by side (a rollout: users split into arms by a hash of their id)
and each has at least ``MIN_CONCURRENT`` reactions in the period both were answering, only that
period is compared (``design = "concurrent"``): the arms saw the same days and the same traffic.
Otherwise the comparison is before/after over every reaction (``design = "sequential"``), which
also measures whatever else changed between the periods (other users, other questions, a holiday):
read it as an observation, not an experiment.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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
# Reactions each version needs in the period both were served before that period alone is compared.
MIN_CONCURRENT = 20.0


@dataclass(frozen=True)
class Reaction:
    """One stored reaction: its event, the version that produced the answer, the signal, its weight, its user."""

    event_id: str
    model_version: str
    signal: str
    occurred_at: datetime
    weight: float = 1.0
    user_id: str = ""  # "" = unknown: the reaction is its own cluster

    @property
    def cluster(self) -> str:
        """Whose reactions are alike: the user, or the event alone when the user is unknown."""
        return f"user:{self.user_id}" if self.user_id else f"event:{self.event_id}"


@dataclass(frozen=True)
class Rate:
    """``count`` of ``total``, with its 95% Wilson interval (widened by ``design_effect``)."""

    count: float
    total: float
    low: float
    high: float
    users: int = 0  # clusters the reactions came from (0: not known, the interval is the plain Wilson one)
    # The weighted total over the effective sample size: clustering by user and sampling weights together.
    design_effect: float = 1.0

    @property
    def value(self) -> float:
        """The observed share."""
        return self.count / self.total if self.total else 0.0


@dataclass(frozen=True)
class Difference:
    """``value`` = rate of this version minus rate of ``against``, with its 95% interval.

    ``design`` says what was compared: ``concurrent`` (only the period both versions were served,
    from ``since`` to ``until``) or ``sequential`` (every reaction to each: before/after).
    """

    against: str
    value: float
    low: float
    high: float
    design: str = "sequential"
    since: datetime | None = None
    until: datetime | None = None


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


def design_effect(clusters: Sequence[tuple[float, float]]) -> float:
    """Variance inflation of a share whose trials come in clusters of ``(count, total)``; at least 1.

    The cluster-robust (linearisation) variance of the ratio estimate, k/(k-1) * sum((y_i - p n_i)^2)
    / N^2, over the binomial variance p(1-p)/N. With fewer than two clusters, or a share of 0 or 1,
    there is nothing to estimate it from and it is 1.
    """
    total = sum(n for _, n in clusters)
    k = len(clusters)
    if k < 2 or total <= 0:
        return 1.0
    share = sum(y for y, _ in clusters) / total
    binomial = share * (1 - share) / total
    if binomial <= 0:
        return 1.0
    robust = k / (k - 1) * sum((y - share * n) ** 2 for y, n in clusters) / (total * total)
    return max(1.0, robust / binomial)


def clustered_rate(clusters: Sequence[tuple[float, float]], weight_squares: float | None = None) -> Rate:
    """A share over clusters of ``(count, total)``, its Wilson interval on the effective sample size.

    The effective size is the weighted total over the design effect, and never more than Kish's
    ``total**2 / weight_squares`` (``weight_squares``: the sum of the squared weights of the
    reactions, when they are weighted): one sampled thumbs-up standing for 100 is one observation,
    not 100, and the design effect cannot say so where it is 1 (a share of 0 or 1, one user).
    Where it cannot be estimated at all (one user, or every user at 0% or 100%), each user counts
    as one observation: the worst case, as users whose reactions are all alike would be.
    """
    count, total = sum(y for y, _ in clusters), sum(n for _, n in clusters)
    deff = design_effect(clusters)
    effective = total / deff
    if clusters and (len(clusters) < 2 or count in (0, total)):
        # Nothing to estimate the users' likeness from (one user; everyone alike at 0% or 100%):
        # the worst case, each user one observation, not every reaction an independent one.
        effective = min(effective, float(len(clusters)))
    if weight_squares is not None and weight_squares > 0:
        effective = min(effective, total * total / weight_squares)
    low, high = wilson(count / total * effective if total else 0.0, effective)
    return Rate(count, total, low, high, users=len(clusters), design_effect=total / effective if effective else deff)


def difference(newer: Rate, older: Rate, against: str) -> Difference:
    """Newcombe's hybrid score interval of ``newer - older`` (two independent proportions)."""
    p1, p2 = newer.value, older.value
    delta = p1 - p2
    low = delta - math.sqrt((p1 - newer.low) ** 2 + (older.high - p2) ** 2)
    high = delta + math.sqrt((newer.high - p1) ** 2 + (p2 - older.low) ** 2)
    return Difference(against, delta, low, high)


def impact_by_version(reactions: Iterable[Reaction], min_concurrent: float = MIN_CONCURRENT) -> list[VersionImpact]:
    """Figures per model version, in order of first appearance, each compared with the one before."""
    seen: set[str] = set()
    by_version: dict[str, list[Reaction]] = {}
    for reaction in reactions:
        if reaction.event_id in seen:  # a replayed or retried event counts once
            continue
        seen.add(reaction.event_id)
        by_version.setdefault(reaction.model_version, []).append(reaction)
    first = {version: min(r.occurred_at for r in mine) for version, mine in by_version.items()}
    figures: list[VersionImpact] = []
    for model_version in sorted(by_version, key=lambda v: (first[v], v)):
        mine = by_version[model_version]
        rates = signal_rates(mine)
        change = None
        if figures:
            older = figures[-1]
            change = concurrent_change(mine, by_version[older.model_version], older.model_version, min_concurrent)
            change = change or difference(rates["edit"], older.rates["edit"], older.model_version)
        total = sum(r.weight for r in mine)
        figures.append(VersionImpact(model_version, total, rates, first[model_version], change))
    return figures


def signal_rates(reactions: Sequence[Reaction]) -> dict[str, Rate]:
    """Each signal's share of ``reactions`` (weighted), its interval widened for reactions of one user."""
    per_user: dict[str, dict[str, float]] = {}
    for reaction in reactions:
        counts = per_user.setdefault(reaction.cluster, {})
        counts[reaction.signal] = counts.get(reaction.signal, 0.0) + reaction.weight
    users = [(counts, sum(counts.values())) for counts in per_user.values()]
    squares = sum(reaction.weight * reaction.weight for reaction in reactions)
    return {
        signal: clustered_rate([(counts.get(signal, 0.0), n) for counts, n in users], squares) for signal in SIGNALS
    }


def concurrent_change(
    newer: Sequence[Reaction], older: Sequence[Reaction], against: str, min_concurrent: float = MIN_CONCURRENT
) -> Difference | None:
    """The edit rate of ``newer`` minus ``older`` over the period both were served, when each has
    ``min_concurrent`` reactions there (a rollout's arms); None otherwise (compare before/after)."""
    since = max(min(r.occurred_at for r in newer), min(r.occurred_at for r in older))
    until = min(max(r.occurred_at for r in newer), max(r.occurred_at for r in older))
    if since > until:
        return None
    both = [[r for r in side if since <= r.occurred_at <= until] for side in (newer, older)]
    if any(len(side) < min_concurrent for side in both):  # reactions, not weights: a sampled thumbs-up is one
        return None
    found = difference(signal_rates(both[0])["edit"], signal_rates(both[1])["edit"], against)
    return replace(found, design="concurrent", since=since, until=until)


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
        user = str(row.get("user_id") or "")
        reactions.append(
            Reaction(str(row["event_id"]), str(row["model_version"]), signal, row["occurred_at"], weight, user)
        )
    return reactions


_COLUMNS = {
    DPO_PAIRS: ("event_id", "user_id", "model_version", "occurred_at"),
    POSITIVE_EXAMPLES: ("event_id", "user_id", "model_version", "occurred_at", "signal", "rating", "sampling_rate"),
    FEEDBACK_SIGNALS: ("event_id", "user_id", "model_version", "occurred_at", "signal"),
    REJECTIONS: ("event_id", "user_id", "model_version", "occurred_at", "signal"),
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
