"""Deciding a rollout from live traffic: complete it when users edit the candidate's answers less
and meet no more setbacks otherwise, stop it when either rises.

A rollout (``flywheel model rollout``, or every promotion with ``rollout.promotion_share``) splits
users between the current version and a candidate by a hash of ``user_id``; the impact table
compares the two arms over the periods both answered (``concurrent``). The judge reads that
comparison at every impact refresh, so it reads it many times: only the interval that holds at
every look (``impact_statistics.anytime``) may decide, never the one-look interval, which crosses
0 by chance at some look far more often than 5% of the time.

It reads two changes of that comparison: the edit rate's, and the setback share's (edits,
regenerations, thumbs-down, abandons, escalations and low ratings over all reactions;
``serving/impact.py``). Rates are per stored reaction, so a candidate whose answers users
regenerate or thumb down instead of editing lowers the edit rate by swelling its denominator: the
edit rate alone would promote it. Its rule:

* the edit rate and the setback share are both below the current version's at the upper ends of
  their intervals: **complete** (the candidate becomes current for everyone);
* either is above it at the lower end: **stop** (everyone gets the current version again);
* otherwise, or without a concurrent comparison with the current version: **wait**;
* but not forever: past ``rollout.max_reactions`` reactions in each arm, or ``rollout.max_age_days``
  since the rollout began, a wait becomes **no_difference**: the rollout ends and the current
  version stays (a candidate not shown better is not promoted). Evidence read at the same look
  still wins: a limit never overrides a complete or a stop.

The alias is re-read before acting: if anyone changed it meanwhile (an operator, another
replica's judge) the decision is dropped, and the next refresh judges the alias as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from flywheel.serving import metrics
from flywheel.serving.config import RolloutSettings
from flywheel.serving.impact import VersionImpact
from flywheel.serving.impact_statistics import Difference
from flywheel.serving.registry import Alias, RegistryView

log = logging.getLogger(__name__)

Action = Literal["complete", "stop", "no_difference", "wait"]


@dataclass(frozen=True)
class RolloutDecision:
    """What the judge decided for the rollout of ``candidate`` against ``current``, and why."""

    action: Action
    reason: str
    current: str
    candidate: str | None


def decide(
    alias: Alias,
    figures: Sequence[VersionImpact],
    limits: RolloutSettings | None = None,
    now: datetime | None = None,
) -> RolloutDecision:
    """The decision for the alias's rollout, from the impact figures (pure: reads nothing, writes nothing).

    ``limits``: the rollout's maximum reactions per arm and age (None: none); ``now`` is what the
    age is read against (None: the age limit is not checked).
    """
    candidate, current = alias.candidate, alias.current
    if candidate is None or alias.candidate_share <= 0:
        return RolloutDecision("wait", "no rollout: everyone gets the current version", current, None)
    waited = _waited(alias, now, limits)
    mine = next((v for v in figures if v.model_version == candidate), None)
    edits = mine.edit_rate_change if mine is not None else None
    setbacks = mine.setback_rate_change if mine is not None else None
    if edits is None or setbacks is None or not (_arms_of(edits, current) and _arms_of(setbacks, current)):
        return _wait_or_end(
            f"no concurrent comparison of {candidate} with {current} yet (too few reactions of identified "
            "users in each arm)",
            waited,
            alias,
        )
    found = {"edits": _any_look(edits), "setbacks": _any_look(setbacks)}
    bounds = {name: bound for name, bound in found.items() if bound is not None}
    if len(bounds) < len(found):
        return _wait_or_end("no interval that holds at every look", waited, alias)
    figure = (
        f"edit rate {_points(edits.value, bounds['edits'])}, setback share "
        f"{_points(setbacks.value, bounds['setbacks'])} against {current}"
    )
    rose = [name for name, (low, _) in bounds.items() if low > 0]
    fell = [name for name, (_, high) in bounds.items() if high < 0]
    if rose:  # more edits, or complaints moved to other signals: either is enough to stop
        reason = f"more {' and more '.join(rose)} with {candidate}'s answers: {figure}"
        return RolloutDecision("stop", reason, current, candidate)
    if len(fell) == len(bounds):
        reason = f"fewer edits and fewer setbacks with {candidate}'s answers: {figure}"
        return RolloutDecision("complete", reason, current, candidate)
    if fell:  # one fell, the other did not move: not yet shown better
        (other,) = set(bounds) - set(fell)
        figure = f"fewer {fell[0]} with {candidate}'s answers but not yet fewer {other}: {figure}"
    arms = f"{edits.reactions:,} reactions to {candidate}, {edits.against_reactions:,} to {current}"
    most = limits.max_reactions if limits is not None else None
    if most is not None and min(edits.reactions, edits.against_reactions) >= most:
        return _no_difference(f"after {arms} (limit {most:,} per arm): {figure}", alias)
    if not fell:
        figure = f"no difference yet: {figure}"
    return _wait_or_end(f"{figure}; {arms}", waited, alias)


def _arms_of(change: Difference, current: str) -> bool:
    """True when ``change`` compares the rollout's two arms: concurrently, against ``current``."""
    return change.against == current and change.design == "concurrent"


def _any_look(change: Difference) -> tuple[float, float] | None:
    """The interval of ``change`` that holds at every look; None where it was not computed."""
    if change.anytime_low is None or change.anytime_high is None:
        return None
    return change.anytime_low, change.anytime_high


def _points(value: float, bound: tuple[float, float]) -> str:
    """A change in points with its any-look interval: ``-31.8 points (any look [-41.7, -21.0])``."""
    return f"{value * 100:+.1f} points (any look [{bound[0] * 100:+.1f}, {bound[1] * 100:+.1f}])"


def _waited(alias: Alias, now: datetime | None, limits: RolloutSettings | None) -> str | None:
    """How long the rollout ran, in words, when that is past ``limits.max_age_days``; None otherwise."""
    since = alias.candidate_since()
    if now is None or limits is None or limits.max_age_days is None or since is None:
        return None
    age = now - since
    if age < timedelta(days=limits.max_age_days):
        return None
    return f"after {age / timedelta(days=1):.1f} days (limit {limits.max_age_days:g})"


def _wait_or_end(reason: str, waited: str | None, alias: Alias) -> RolloutDecision:
    """Wait for ``reason``, unless the rollout has run past its age limit (``waited``)."""
    if waited is None:
        return RolloutDecision("wait", reason, alias.current, alias.candidate)
    return _no_difference(f"{waited}: {reason}", alias)


def _no_difference(evidence: str, alias: Alias) -> RolloutDecision:
    reason = f"no difference found {evidence}; keeping {alias.current}"
    return RolloutDecision("no_difference", reason, alias.current, alias.candidate)


class RolloutJudge:
    """Applies :func:`decide` to the registry's alias after each impact refresh."""

    def __init__(self, registry: RegistryView, limits: RolloutSettings | None = None) -> None:
        self.registry = registry
        self.limits = limits if limits is not None else RolloutSettings()

    def review(self, figures: Sequence[VersionImpact]) -> RolloutDecision:
        """Decide the current rollout and apply the decision; returns it (``wait`` when it was not applied)."""
        alias = self.registry.read_alias()
        decision = decide(alias, figures, self.limits, datetime.now(UTC))
        if decision.action == "wait":
            return decision
        now = self.registry.read_alias()
        if (now.current, now.candidate, now.candidate_share) != (alias.current, alias.candidate, alias.candidate_share):
            return RolloutDecision("wait", "the alias changed while judging: judged again next time", now.current, None)
        note = f"rollout judged: {decision.reason}"
        if decision.action == "complete":
            assert decision.candidate is not None  # a complete decision names its candidate
            self.registry.set_current(decision.candidate, note=note)
        else:  # stop, or no difference found: everyone back on the current version
            self.registry.rollout(None, 0.0, note=note)
        metrics.ROLLOUT_DECISIONS.labels(action=decision.action).inc()
        log.info("rollout decided", extra={"action": decision.action, "reason": decision.reason})
        return decision
