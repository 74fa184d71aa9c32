"""The edit-rate change's interval that holds at every look (``impact_statistics.anytime``).

The impact table is printed on demand and its gauges refresh every few minutes: whoever watches
them reads the interval again and again. Simulated rollouts, read after every 50 reactions per
arm, show what that does to a one-look interval and what the confidence sequence keeps.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from flywheel.serving.impact import Reaction, impact_by_version
from flywheel.serving.impact_gauges import export_gauges
from flywheel.serving.impact_statistics import (
    PLANNED_REACTIONS,
    Difference,
    Rate,
    anytime,
    difference,
    mixture_multiplier,
    wilson,
)

LOOKS, STEP, ROLLOUTS = 20, 50, 400


def _rate(count: int, total: int) -> Rate:
    low, high = wilson(count, total)
    return Rate(count, total, low, high)


def _watched(newer: float, older: float, seed: int) -> tuple[float, float, float, float]:
    """Shares of ``ROLLOUTS`` simulated rollouts (edit rates ``newer`` vs ``older``) where the
    one-look and the any-look interval exclude 0 at some look, and at the last look."""
    draw = random.Random(seed)
    one_ever = any_ever = one_last = any_last = 0
    for _ in range(ROLLOUTS):
        mine = theirs = 0
        one_seen = any_seen = False
        for look in range(1, LOOKS + 1):
            mine += sum(draw.random() < newer for _ in range(STEP))
            theirs += sum(draw.random() < older for _ in range(STEP))
            change = anytime(difference(_rate(mine, look * STEP), _rate(theirs, look * STEP), "old"), PLANNED_REACTIONS)
            assert change.anytime_low is not None and change.anytime_high is not None
            one = change.low > 0 or change.high < 0
            any_ = change.anytime_low > 0 or change.anytime_high < 0
            one_seen, any_seen = one_seen or one, any_seen or any_
        one_ever, any_ever = one_ever + one_seen, any_ever + any_seen
        one_last, any_last = one_last + one, any_last + any_
    return one_ever / ROLLOUTS, any_ever / ROLLOUTS, one_last / ROLLOUTS, any_last / ROLLOUTS


def test_identical_versions_watched_at_every_look_stay_within_five_percent() -> None:
    one_ever, any_ever, one_last, _ = _watched(0.3, 0.3, seed=7)
    # One look: about 5%. Twenty looks of the same interval: several times that (the peeking problem).
    assert one_last <= 0.08
    assert one_ever >= 0.15
    # The confidence sequence holds at all looks at once.
    assert any_ever <= 0.05


def test_a_real_improvement_is_still_found() -> None:
    _, any_ever, one_last, any_last = _watched(0.2, 0.3, seed=11)
    assert one_last >= 0.95
    assert any_last >= 0.9 and any_ever >= any_last  # 1,000 reactions per arm: 10 points found


def test_the_any_look_interval_holds_the_one_look_interval_and_is_about_three_errors_at_the_plan() -> None:
    change = Difference("old", -0.10, -0.14, -0.06)  # about 0.02 a standard error (0.04 / 1.96)
    wide = anytime(change, planned_reactions=1250)  # planned information 2 * 1250 = 1 / 0.02**2
    assert wide.anytime_low is not None and wide.anytime_high is not None
    assert wide.anytime_low < change.low and wide.anytime_high > change.high
    error = 0.04 / 1.959963984540054
    assert (change.value - wide.anytime_low) / error == pytest.approx(mixture_multiplier(1 / error**2, 2500))
    assert mixture_multiplier(2500, 2500) == pytest.approx(3.035, abs=0.001)
    # Farther from the plan, wider per standard error, either way.
    assert mixture_multiplier(250, 2500) > mixture_multiplier(25000, 2500) > mixture_multiplier(2500, 2500)


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _reactions(version: str, start: int, edits: int, count: int) -> list[Reaction]:
    return [
        Reaction(
            f"{version}-{n}",
            version,
            "edit" if n < edits else "thumbs_up",
            T0 + timedelta(minutes=start + n),
            user_id=f"u{n}",
        )
        for n in range(count)
    ]


def test_the_gauges_export_the_change_with_its_any_look_interval() -> None:
    figures = impact_by_version(_reactions("base", 0, 60, 100) + _reactions("r1", 200, 20, 100))
    change = figures[1].edit_rate_change
    assert change is not None and change.anytime_low is not None and change.anytime_high is not None
    assert change.anytime_low < change.low < change.value < change.high < change.anytime_high
    export_gauges(figures, max_versions=8)
    labels = {"model_version": "r1", "against": "base", "design": "sequential"}
    assert REGISTRY.get_sample_value("flywheel_impact_edit_rate_change", labels) == pytest.approx(-0.4)
    assert REGISTRY.get_sample_value("flywheel_impact_edit_rate_change_lower", labels) == pytest.approx(
        change.anytime_low
    )
    assert REGISTRY.get_sample_value("flywheel_impact_edit_rate_change_upper", labels) == pytest.approx(
        change.anytime_high
    )
    # Its setback share moves with its edit rate here (edits and thumbs-up only): its series, the same figures.
    setbacks = figures[1].setback_rate_change
    assert setbacks is not None and setbacks.anytime_low is not None
    assert REGISTRY.get_sample_value("flywheel_impact_setback_rate_change", labels) == pytest.approx(-0.4)
    assert REGISTRY.get_sample_value("flywheel_impact_setback_rate_change_lower", labels) == pytest.approx(
        setbacks.anytime_low
    )
    # The first version has nothing to be compared with: no change series.
    base = {"model_version": "base", "against": "base", "design": "sequential"}
    assert REGISTRY.get_sample_value("flywheel_impact_edit_rate_change", base) is None
    assert REGISTRY.get_sample_value("flywheel_impact_setback_rate_change", base) is None
