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

Where that variance is estimated from fewer than 30 users, the interval uses Student's t with
(users - 1) degrees of freedom in place of the normal 1.96: the estimate itself is that uncertain.

**Comparisons.** Each version is compared with the one it replaced or ran beside: from the
registry alias's history (``serving/served.py``), the version current when it first answered;
without the history, the version most of the reactions just before its first one came from. The
difference in edit rate has Newcombe's hybrid score interval on those widened intervals. Where
the history shows the two answering side by side (a rollout: users split into arms by a hash of
their id) and each arm has at least ``MIN_CONCURRENT`` reactions of identified users in those
periods, only those are compared (``design = "concurrent"``): the arms saw the same days and the
same traffic. Requests without a user id always go to the current version, so their reactions
are no arm's; a rollout whose share changed is compared period by period and the differences
combined (weighted by each period's reactions), so a drift in traffic does not fall more on the
arm that grew. For versions the history never routed (answers logged by another serving stack),
the span their reactions' times overlap stands in for it, labelled ``overlapping``: weaker, as a
version replaced outright collects late reactions that overlap its successor's first ones.
Otherwise the comparison is before/after over every reaction (``design = "sequential"``), which
also measures whatever else changed between the periods (other users, other questions, a holiday):
read it as an observation, not an experiment. A reaction whose version the client did not say
(``unknown``, the gateway's default) is put on the version another reaction to the same answer
(``request_id``) names (``serving/attribution.py``); the rest are shown, never compared.

**Setbacks.** The edit rate alone can fall because users complain in other ways: per reaction, a
version whose answers are regenerated or thumbed down instead of edited has a lower edit share
without being any better. So each comparison also gives the change in the share of reactions that
are *setbacks*, reactions saying the answer failed: ``edit``, ``regenerate``, ``thumbs_down``,
``abandon``, ``escalation``, and a ``rating`` of at most ``LOW_RATING`` (2 of 5: the ratings
routed to human review; the rating is read from ``positive_examples`` and ``feedback_signals``, and
a ``rejections`` row has none: a rating there is a sampled positive dropped for PII or a
redelivery). ``thumbs_up``, ``copy``, ``follow_up`` and ratings of 3 and above are not setbacks.
Both changes come from the same reactions, the same design and the same interval machinery.

The intervals are for one look. Gauges refreshed every few minutes and read until one looks
significant find differences between identical versions far more often than 5% of the time:
decide the rollout's length (or its number of reactions) first, and read the interval then.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flywheel.config import CatalogSettings
from flywheel.operators.dedup import DUPLICATE_EVENT_ID
from flywheel.operators.review import REVIEWER_SOURCE
from flywheel.operators.routing import LOW_RATING
from flywheel.operators.sampling import SAMPLING_RATE_SCORE
from flywheel.schemas.events import Signal
from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS
from flywheel.serving.attribution import UNKNOWN, attribute_by_request
from flywheel.serving.impact_statistics import (
    PLANNED_REACTIONS,
    Difference,
    Rate,
    anytime,
    clustered_rate,
    combined,
    difference,
)
from flywheel.serving.served import ServedPeriod, replaced, served_periods

log = logging.getLogger(__name__)

SIGNALS = ("edit", "thumbs_up", "thumbs_down", "regenerate")
# The share of reactions saying the answer failed (see the module's "Setbacks"), a rate beside the signals'.
SETBACK = "setback"
SETBACK_SIGNALS = frozenset({"edit", "regenerate", "thumbs_down", "abandon", "escalation"})
# The shares whose change each version gets against the one it replaced (VersionImpact's *_rate_change).
COMPARED = ("edit", SETBACK)
# Reactions each version needs in the period both were served before that period alone is compared.
MIN_CONCURRENT = 20.0
# Reactions before a version's first one that say which version it replaced, without the alias history.
PRECEDING = 50


@dataclass(frozen=True)
class Reaction:
    """One stored reaction: its event, the version that produced the answer, the signal, its weight, its user."""

    event_id: str
    model_version: str
    signal: str
    occurred_at: datetime
    weight: float = 1.0
    user_id: str = ""  # "" = unknown: the reaction is its own cluster
    request_id: str = ""  # the answer reacted to ("" = not said)
    attributed: bool = False  # the version is read from another reaction to the answer (attribution.py)
    rating: int | None = None  # a rating's stars, where the row stores them

    @property
    def cluster(self) -> str:
        """Whose reactions are alike: the user, or the event alone when the user is unknown."""
        return f"user:{self.user_id}" if self.user_id else f"event:{self.event_id}"

    @property
    def setback(self) -> bool:
        """True when the reaction says the answer failed: a setback signal, or a rating of at most LOW_RATING."""
        if self.signal == Signal.RATING.value:
            return self.rating is not None and self.rating <= LOW_RATING
        return self.signal in SETBACK_SIGNALS


@dataclass(frozen=True)
class VersionImpact:
    """One model version's figures."""

    model_version: str
    interactions: float
    rates: Mapping[str, Rate]
    first_seen: datetime
    edit_rate_change: Difference | None = None
    attributed: float = 0.0  # interactions whose event said no version, put on this one by request_id
    # The change in the share of reactions that are setbacks, from the same comparison as edit_rate_change.
    setback_rate_change: Difference | None = None


def impact_by_version(
    reactions: Iterable[Reaction],
    min_concurrent: float = MIN_CONCURRENT,
    served: Sequence[ServedPeriod] | None = None,
    planned_reactions: float = PLANNED_REACTIONS,
) -> list[VersionImpact]:
    """Figures per model version, in order of first appearance, each compared with the one it replaced.

    ``served``: when each version answered (``serving/served.py``); without it no comparison is
    read as concurrent, as reaction times alone cannot show that two versions answered side by side.
    Each change carries, beside its one-look interval, the one that holds at every look
    (``impact_statistics.anytime``), tuned for ``planned_reactions`` per version.
    """
    seen: set[str] = set()
    by_version: dict[str, list[Reaction]] = {}
    for reaction in reactions:
        if reaction.event_id in seen:  # a replayed or retried event counts once
            continue
        seen.add(reaction.event_id)
        by_version.setdefault(reaction.model_version, []).append(reaction)
    first = {version: min(r.occurred_at for r in mine) for version, mine in by_version.items()}
    ordered = sorted(by_version, key=lambda v: (first[v], v))
    figures: list[VersionImpact] = []
    rates_of: dict[str, dict[str, Rate]] = {}
    for model_version in ordered:
        mine = by_version[model_version]
        rates = rates_of[model_version] = signal_rates(mine)
        changes: dict[str, Difference] = {}
        against = _against(model_version, by_version, first, served)
        if against is not None:
            theirs = by_version[against]
            if served and any(p.routes(v) for p in served for v in (model_version, against)):
                windows = [p for p in served if p.side_by_side(model_version, against)]
                found = concurrent_changes(mine, theirs, against, min_concurrent, windows)
            else:  # versions the history never routed (another serving stack's): reaction times only
                found = overlapping_changes(mine, theirs, against, min_concurrent)
            if found is None:
                found = {share: difference(rates[share], rates_of[against][share], against) for share in COMPARED}
            changes = {share: anytime(change, planned_reactions) for share, change in found.items()}
        total, attributed = sum(r.weight for r in mine), sum(r.weight for r in mine if r.attributed)
        figures.append(
            VersionImpact(
                model_version,
                total,
                rates,
                first[model_version],
                changes.get("edit"),
                attributed,
                changes.get(SETBACK),
            )
        )
    return figures


def overlapping_changes(
    newer: Sequence[Reaction], older: Sequence[Reaction], against: str, min_concurrent: float = MIN_CONCURRENT
) -> dict[str, Difference] | None:
    """The changes in the ``COMPARED`` shares over the span both versions' reactions overlap
    (``design = "overlapping"``).

    For versions no alias history routed: their reactions' times are all there is. Weaker than
    ``concurrent``: a version replaced outright collects late reactions after the switch, which
    overlap its successor's first ones.
    """
    since = max(min(r.occurred_at for r in newer), min(r.occurred_at for r in older))
    until = min(max(r.occurred_at for r in newer), max(r.occurred_at for r in older))
    if since > until:
        return None
    span = ServedPeriod(against, None, 0.0, since, until + timedelta(microseconds=1))
    found = concurrent_changes(newer, older, against, min_concurrent, [span])
    return None if found is None else {share: replace(c, design="overlapping") for share, c in found.items()}


def _against(
    version: str,
    by_version: Mapping[str, Sequence[Reaction]],
    first: Mapping[str, datetime],
    served: Sequence[ServedPeriod] | None,
) -> str | None:
    """The version ``version`` is compared with (None: none, it came first or it is ``unknown``)."""
    if version == UNKNOWN:
        return None
    earlier = {v for v in by_version if v not in (version, UNKNOWN) and (first[v], v) < (first[version], version)}
    if served:
        previous = replaced(served, version)
        if previous in earlier:
            return previous
    # The version most of the reactions just before this one's first came from.
    before = sorted(
        (r.occurred_at, r.model_version) for v in earlier for r in by_version[v] if r.occurred_at < first[version]
    )[-PRECEDING:]
    if not before:
        return None
    counts = Counter(v for _, v in before)
    return max(counts, key=lambda v: (counts[v], first[v]))


def signal_rates(reactions: Sequence[Reaction]) -> dict[str, Rate]:
    """Each signal's share of ``reactions`` (weighted), and the setbacks' (``SETBACK``), each interval
    widened for reactions of one user."""
    per_user: dict[str, dict[str, float]] = {}
    for reaction in reactions:
        counts = per_user.setdefault(reaction.cluster, {})
        counts[reaction.signal] = counts.get(reaction.signal, 0.0) + reaction.weight
        if reaction.setback:
            counts[SETBACK] = counts.get(SETBACK, 0.0) + reaction.weight
    users = [(counts, sum(n for name, n in counts.items() if name != SETBACK)) for counts in per_user.values()]
    squares = sum(reaction.weight * reaction.weight for reaction in reactions)
    identified = sum(1 for cluster in per_user if cluster.startswith("user:"))
    return {
        signal: clustered_rate([(counts.get(signal, 0.0), n) for counts, n in users], squares, identified)
        for signal in (*SIGNALS, SETBACK)
    }


def concurrent_changes(
    newer: Sequence[Reaction],
    older: Sequence[Reaction],
    against: str,
    min_concurrent: float = MIN_CONCURRENT,
    windows: Sequence[ServedPeriod] = (),
) -> dict[str, Difference] | None:
    """Each ``COMPARED`` share (edits, setbacks) of ``newer`` minus ``older`` over ``windows`` (periods
    both answered side by side), by share.

    Only identified users' reactions count (requests without a user id always go to the current
    version: they are no arm's). None unless each side has ``min_concurrent`` reactions there; a
    rollout whose share changed is compared window by window and the differences combined.
    """
    strata: list[tuple[list[Reaction], list[Reaction]]] = []
    for window in windows:
        sides = [[r for r in side if r.user_id and window.holds(r.occurred_at)] for side in (newer, older)]
        if sides[0] and sides[1]:
            strata.append((sides[0], sides[1]))
    counts = [sum(len(stratum[index]) for stratum in strata) for index in (0, 1)]
    if not strata or min(counts) < min_concurrent:  # reactions, not weights: a sampled thumbs-up is one
        return None
    rated = [(signal_rates(mine), signal_rates(theirs), len(mine), len(theirs)) for mine, theirs in strata]
    moments = [r.occurred_at for mine, theirs in strata for r in (*mine, *theirs)]
    changes = {}
    for share in COMPARED:
        parts = [(difference(mine[share], theirs[share], against), n, m) for mine, theirs, n, m in rated]
        found = parts[0][0] if len(parts) == 1 else combined(parts, against)
        changes[share] = replace(
            found,
            design="concurrent",
            since=min(moments),
            until=max(moments),
            reactions=counts[0],
            against_reactions=counts[1],
        )
    return changes


def reactions_from_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> list[Reaction]:
    """The reactions stored in one table's rows (columns: event_id, model_version, occurred_at, ...)."""
    reactions = []
    for row in rows:
        if row.get("source") == REVIEWER_SOURCE or row.get("signal") == Signal.REVIEW.value:
            continue  # a reviewer's answer or dismissal, not a user's reaction to the answer
        if table == DPO_PAIRS:
            signal, weight = "edit", 1.0
        elif table == POSITIVE_EXAMPLES:
            signal, weight = str(row["signal"]), _inverse(float(row["sampling_rate"]))
        elif table == REJECTIONS:
            if row.get("reason") == DUPLICATE_EVENT_ID or row.get("signal") == Signal.VIEW.value:
                # A redelivery of an event its first occurrence counts (or, for an unsampled thumbs-up,
                # deliberately does not store); a view is no reaction at all. A duplicate of another
                # event's content (another user making the same edit) is a reaction of its own.
                continue
            # A sampled thumbs-up dropped for PII in its answer stands for 1 / its rate, as a stored one.
            scores = dict(row.get("scores") or ())
            signal, weight = str(row["signal"]), _inverse(float(scores.get(SAMPLING_RATE_SCORE, 1.0)))
        else:
            signal, weight = str(row["signal"]), 1.0
        user, request = str(row.get("user_id") or ""), str(row.get("request_id") or "")
        version, stars = str(row["model_version"]), row.get("rating")
        rating = int(stars) if stars is not None else None
        reactions.append(
            Reaction(str(row["event_id"]), version, signal, row["occurred_at"], weight, user, request, rating=rating)
        )
    return reactions


def _inverse(sampling_rate: float) -> float:
    return 1.0 / sampling_rate if sampling_rate > 0 else 1.0


_IDENTITY = ("event_id", "user_id", "request_id", "model_version", "occurred_at")
_COLUMNS = {
    DPO_PAIRS: _IDENTITY,
    POSITIVE_EXAMPLES: (*_IDENTITY, "signal", "rating", "sampling_rate"),
    FEEDBACK_SIGNALS: (*_IDENTITY, "signal", "rating"),  # a low rating is a setback
    REJECTIONS: (*_IDENTITY, "signal", "reason", "scores"),
}


def read_reactions(catalog: CatalogSettings) -> list[Reaction]:
    """Every stored reaction in the four tables of the configured catalog (main branch), attributed by request."""
    from flywheel.infra.catalog import open_catalog, table_identifier

    opened = open_catalog(catalog)
    reactions: list[Reaction] = []
    for name, columns in _COLUMNS.items():
        table = opened.load_table(table_identifier(catalog, name))
        if "source" in table.schema().column_names:  # older dpo_pairs tables have no source yet
            columns = (*columns, "source")
        rows = table.scan(selected_fields=columns).to_arrow().to_pylist()
        reactions.extend(reactions_from_rows(name, rows))
    return attribute_by_request(reactions)


def read_impact(
    catalog: CatalogSettings, registry_url: str | None = None, planned_reactions: float = PLANNED_REACTIONS
) -> list[VersionImpact]:
    """Scan the tables and compute impact by version; ``registry_url``: whose alias history says when
    each version answered (without it, or where it cannot be read, no comparison is concurrent)."""
    return impact_by_version(
        read_reactions(catalog), served=read_served(registry_url), planned_reactions=planned_reactions
    )


def read_served(registry_url: str | None) -> list[ServedPeriod] | None:
    """The served periods of the registry's alias history; None without a registry or when it cannot be read."""
    if not registry_url:
        return None
    from flywheel.serving.registry import AliasError, RegistryView

    try:
        return served_periods(RegistryView(registry_url).read_alias())
    except (AliasError, OSError) as exc:
        log.warning("registry alias unreadable: impact compared before/after only", extra={"error": str(exc)})
        return None
