"""The statistics of the impact figures: Wilson intervals widened for users, Newcombe differences.

Each rate's interval uses the effective sample size: the weighted total over the design effect
(the cluster-robust variance of the ratio estimate, users as clusters, over the binomial one),
capped by Kish's size for weighted reactions; see ``serving/impact.py`` for how they are used.

A difference's 95% interval is for one look. Read again and again as reactions come in (a gauge,
a daily report), it finds a difference between identical versions far more often than 5% of the
time. :func:`anytime` adds the interval that may be read at every look: Robbins' normal-mixture
confidence sequence on the estimate's information (1 / variance), which holds at all sample sizes
at once (asymptotically: Waudby-Smith et al., "Time-uniform central limit theory and asymptotic
confidence sequences", 2021). Its mixture is tuned to be narrowest at ``planned_reactions`` per
version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

Z95 = 1.959963984540054
# Below this many users, Student's t in place of the normal quantile.
T_BELOW_USERS = 30
# Reactions per version the interval that holds at every look is narrowest near (``anytime``).
PLANNED_REACTIONS = 1000


@dataclass(frozen=True)
class Rate:
    """``count`` of ``total``, with its 95% Wilson interval (widened by ``design_effect``)."""

    count: float
    total: float
    low: float
    high: float
    users: int = 0  # identified users the reactions came from (reactions without a user id are not counted here)
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
    # The 95% interval that holds whenever it is read (``anytime``); None where not computed.
    anytime_low: float | None = None
    anytime_high: float | None = None
    # Reactions compared on each side (this version's, ``against``'s); 0 where not counted. A
    # concurrent comparison counts them, so a rollout's judge can end one that found nothing.
    reactions: int = 0
    against_reactions: int = 0


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


def clustered_rate(
    clusters: Sequence[tuple[float, float]], weight_squares: float | None = None, users: int | None = None
) -> Rate:
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
    known = len(clusters) if users is None else users
    # The clustered variance is an estimate from the users: with few of them, Student's t.
    estimated = len(clusters) >= 2 and 0 < count < total and deff > 1
    z = critical_value(known) if estimated else Z95
    low, high = wilson(count / total * effective if total else 0.0, effective, z)
    return Rate(count, total, low, high, users=known, design_effect=total / effective if effective else deff)


def critical_value(users: int) -> float:
    """The 97.5% quantile for a variance estimated from ``users`` users: Student's t below 30, else normal."""
    if users < 2 or users >= T_BELOW_USERS:
        return Z95
    from scipy.stats import t

    return float(t.ppf(0.975, users - 1))


def difference(newer: Rate, older: Rate, against: str) -> Difference:
    """Newcombe's hybrid score interval of ``newer - older`` (two independent proportions)."""
    p1, p2 = newer.value, older.value
    delta = p1 - p2
    low = delta - math.sqrt((p1 - newer.low) ** 2 + (older.high - p2) ** 2)
    high = delta + math.sqrt((newer.high - p1) ** 2 + (p2 - older.low) ** 2)
    return Difference(against, delta, low, high)


def combined(parts: Sequence[tuple[Difference, int, int]], against: str) -> Difference:
    """Differences of several periods as one: weighted by each period's harmonic size, each bound's
    distance from its estimate combined in quadrature (the MOVER method on a weighted sum)."""
    weights = [mine * theirs / (mine + theirs) for _, mine, theirs in parts]
    scale = sum(weights)
    shares = [weight / scale for weight in weights]
    value = sum(share * part.value for share, (part, _, _) in zip(shares, parts, strict=True))
    low = value - math.sqrt(
        sum((share * (p.value - p.low)) ** 2 for share, (p, _, _) in zip(shares, parts, strict=True))
    )
    high = value + math.sqrt(
        sum((share * (p.high - p.value)) ** 2 for share, (p, _, _) in zip(shares, parts, strict=True))
    )
    return Difference(against, value, low, high)


def mixture_multiplier(information: float, planned_information: float, alpha: float = 0.05) -> float:
    """The normal-mixture confidence sequence's half-width in standard errors at ``information``.

    With the mixture's variance tau^2 set so that tau^2 * I* = -2 log(alpha) + log(1 - 2 log(alpha))
    (the width is near its smallest at ``planned_information`` I*), the boundary is
    sqrt((1 + 1/(tau^2 I)) * (2 log(1/alpha) + log(1 + tau^2 I))) standard errors: 3.0 at I*, where
    a one-look interval is 1.96; larger before, slowly larger after.
    """
    scale = (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha))) / planned_information
    ratio = scale * information
    return math.sqrt((1 + 1 / ratio) * (2 * math.log(1 / alpha) + math.log(1 + ratio)))


def anytime(change: Difference, planned_reactions: float, z: float = Z95) -> Difference:
    """``change`` with its interval that holds at every look (``anytime_low`` / ``anytime_high``).

    Each side's standard error is read off the one-look bound (its distance from the estimate over
    ``z``; a bound computed with Student's t gives a larger one: conservative), and its half-width
    is :func:`mixture_multiplier` standard errors. ``planned_reactions``: reactions per version the
    interval is tuned for, at the worst-case variance of a difference of two shares (0.5 / n).
    """
    planned_information = 2 * planned_reactions
    bounds = []
    for distance in (change.value - change.low, change.high - change.value):
        error = distance / z
        if error <= 0:  # a degenerate one-look bound: nothing to widen
            bounds.append(distance)
            continue
        bounds.append(error * mixture_multiplier(1 / (error * error), planned_information))
    return replace(
        change,
        anytime_low=max(-1.0, change.value - bounds[0]),
        anytime_high=min(1.0, change.value + bounds[1]),
    )
