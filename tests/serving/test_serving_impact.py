"""Impact by model version against a fixture whose figures are computed by hand, and the comparisons
the live-traffic audit found over-claiming (a switch read as a rollout, the wrong comparator, a
rollout whose share grew, anonymous requests in one arm, the ``unknown`` version, few users)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS
from flywheel.serving.impact import Reaction, impact_by_version, reactions_from_rows
from flywheel.serving.impact_gauges import export_gauges
from flywheel.serving.impact_statistics import Rate, critical_value, design_effect, difference, wilson
from flywheel.serving.served import ServedPeriod

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _row(event_id: str, version: str, minute: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "model_version": version, "occurred_at": T0 + timedelta(minutes=minute), **extra}


def _fixture() -> dict[str, list[dict[str, Any]]]:
    """base: 4 edits (one refused by curation, one replayed), 2 thumbs-down, 1 regenerate, 1 abandon,
    1 sampled thumbs-up at rate 0.5 (counts 2) = 10. r1: 1 edit, 1 thumbs-down, 8 thumbs-up = 10."""
    return {
        DPO_PAIRS: [
            _row("e1", "base", 0, source="user"),
            _row("e2", "base", 1),
            _row("e3", "base", 2),
            _row("f1", "r1", 60),
            _row("review-1", "base", 30, source="reviewer"),  # a reviewer's answer: not a user's reaction
        ],
        REJECTIONS: [
            _row("e4", "base", 3, signal="edit"),  # e.g. outside the distance band: still an edit
            _row("e1", "base", 4, signal="edit"),  # the same event again (dedup): counted once
            _row("review-2", "base", 31, signal="review"),  # a reviewer's dismissal: not counted either
        ],
        FEEDBACK_SIGNALS: [
            _row("e5", "base", 5, signal="thumbs_down"),
            _row("e6", "base", 6, signal="thumbs_down"),
            _row("e7", "base", 7, signal="regenerate"),
            _row("e8", "base", 8, signal="abandon"),
            _row("f2", "r1", 61, signal="thumbs_down"),
        ],
        POSITIVE_EXAMPLES: [_row("e9", "base", 9, signal="thumbs_up", rating=None, sampling_rate=0.5)]
        + [_row(f"f{i}", "r1", 60 + i, signal="thumbs_up", rating=None, sampling_rate=1.0) for i in range(3, 11)],
    }


def _figures() -> list[Any]:
    reactions = [r for table, rows in _fixture().items() for r in reactions_from_rows(table, rows)]
    return impact_by_version(reactions)


def test_counts_and_rates_per_version() -> None:
    base, r1 = _figures()
    assert (base.model_version, r1.model_version) == ("base", "r1")  # order of first appearance
    assert base.interactions == 10 and r1.interactions == 10
    # Setbacks: base's edits, thumbs-down, regenerate and abandon (8); r1's edit and thumbs-down (2).
    assert {s: f.count for s, f in base.rates.items()} == {
        "edit": 4,
        "thumbs_up": 2,
        "thumbs_down": 2,
        "regenerate": 1,
        "setback": 8,
    }
    assert {s: f.count for s, f in r1.rates.items()} == {
        "edit": 1,
        "thumbs_up": 8,
        "thumbs_down": 1,
        "regenerate": 0,
        "setback": 2,
    }
    assert base.rates["edit"].value == pytest.approx(0.4) and r1.rates["edit"].value == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("count", "total", "low", "high"),
    # Published 95% Wilson score intervals.
    [
        (4, 10, 0.1682, 0.6873),
        (1, 10, 0.0179, 0.4042),
        (2, 10, 0.0567, 0.5098),
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
    ],
)
def test_wilson_intervals(count: int, total: int, low: float, high: float) -> None:
    assert wilson(count, total) == pytest.approx((low, high), abs=5e-4)


def test_edit_rate_change_has_newcombe_interval() -> None:
    base, r1 = _figures()
    change = r1.edit_rate_change
    assert change is not None and change.against == "base"
    assert change.design == "sequential" and change.since is None  # never served side by side
    # No user ids: every reaction is its own cluster. r1: 10 clusters of one reaction, deff = k/(k-1)
    # = 10/9. base: 9 clusters, the sampled thumbs-up weighs 2; p = 0.4, sum((y - p n)^2) = 4 * 0.36
    # + 4 * 0.16 + 0.64 = 2.72, so deff = 9/8 * 2.72/100 / (0.4 * 0.6 / 10) = 1.275 (by hand).
    assert r1.rates["edit"].design_effect == pytest.approx(10 / 9)
    assert base.rates["edit"].design_effect == pytest.approx(1.275)
    assert (base.rates["edit"].low, base.rates["edit"].high) == pytest.approx(wilson(4 / 1.275, 10 / 1.275))
    expected = difference(r1.rates["edit"], base.rates["edit"], "base")
    assert (change.value, change.low, change.high) == pytest.approx((-0.3, expected.low, expected.high))
    # Newcombe (1998), example (a): 56/70 - 48/80 = 0.2000, 95% CI 0.0524 to 0.3339
    newer, older = Rate(56, 70, *wilson(56, 70)), Rate(48, 80, *wilson(48, 80))
    published = difference(newer, older, "x")
    assert (published.low, published.high) == pytest.approx((0.0524, 0.3339), abs=5e-4)


def test_design_effect_by_hand() -> None:
    # Independent reactions (clusters of one): only the small-sample factor k/(k-1).
    assert design_effect([(1.0, 1.0)] * 30 + [(0.0, 1.0)] * 70) == pytest.approx(100 / 99)
    # Two users of ten, one edits everything, the other nothing: p = 0.5, robust variance
    # 2/1 * (25 + 25) / 400 = 0.25 over binomial 0.25/20: deff 20, one effective reaction per... pair.
    assert design_effect([(10.0, 10.0), (0.0, 10.0)]) == pytest.approx(20.0)
    # Users who behave alike add nothing: deff stays 1 (never below), and with one user there is
    # nothing to estimate it from.
    assert design_effect([(2.0, 4.0)] * 10) == 1.0
    assert design_effect([(3.0, 10.0)]) == 1.0
    assert design_effect([(0.0, 5.0), (0.0, 5.0)]) == 1.0


def _reactions(version: str, user_count: int, per_user: int, edits_per_user: int, minute: int = 0) -> list[Reaction]:
    return [
        Reaction(
            f"{version}-{minute}-u{u}-{i}",
            version,
            "edit" if i < edits_per_user else "thumbs_up",
            T0 + timedelta(minutes=minute + i),
            user_id=f"u{u}",
        )
        for u in range(user_count)
        for i in range(per_user)
    ]


def test_reactions_of_few_users_get_a_wider_interval_than_as_many_independent_ones() -> None:
    # 40 reactions at 50%: from 40 users (one each), or from 4 users of 10 who each edit all or nothing.
    def reaction(n: int, user: str, signal: str) -> Reaction:
        return Reaction(f"e{n}", "v", signal, T0 + timedelta(minutes=n), user_id=user)

    spread = [reaction(n, f"u{n}", "edit" if n % 2 else "thumbs_up") for n in range(40)]
    clustered = [reaction(n, f"u{n // 10}", "edit" if n < 20 else "thumbs_up") for n in range(40)]
    (loose,) = impact_by_version(spread)
    (tight_users,) = impact_by_version(clustered)
    assert loose.rates["edit"].value == tight_users.rates["edit"].value == 0.5
    assert tight_users.rates["edit"].users == 4 and loose.rates["edit"].users == 40
    width = lambda figure: figure.rates["edit"].high - figure.rates["edit"].low  # noqa: E731
    assert width(tight_users) > 2 * width(loose)  # 4 users say little: [0.09, 0.91]-ish, not [0.35, 0.65]
    assert tight_users.rates["edit"].low < 0.2 and loose.rates["edit"].low > 0.3


def test_a_rollout_compares_its_arms_in_the_same_period() -> None:
    # base alone in the first period, users edit 80%; then a rollout: base and r1 side by side, and
    # everyone edits 30% (the questions changed). The arms are the same: the change is ~0, and
    # before/after over every reaction would have credited r1 with the drift (-0.36).
    before = _reactions("base", 10, 10, 8, minute=0)
    rollout_base = _reactions("base", 10, 10, 3, minute=1000)
    rollout_r1 = [
        Reaction(r.event_id.replace("base", "r1"), "r1", r.signal, r.occurred_at, user_id="r" + r.user_id)
        for r in _reactions("base", 10, 10, 3, minute=1000)
    ]
    served = [
        ServedPeriod("base", None, 0.0, None, T0 + timedelta(minutes=1000)),
        ServedPeriod("base", "r1", 0.5, T0 + timedelta(minutes=1000), None),
    ]
    base, r1 = impact_by_version(before + rollout_base + rollout_r1, served=served)
    change = r1.edit_rate_change
    assert change is not None and change.design == "concurrent"
    assert change.since == T0 + timedelta(minutes=1000) and change.until == T0 + timedelta(minutes=1009)
    assert change.value == pytest.approx(0.0) and change.low < 0 < change.high
    sequential = r1.rates["edit"].value - base.rates["edit"].value
    assert sequential == pytest.approx(-0.25)  # what before/after would have said


def test_late_reactions_after_a_switch_do_not_make_a_comparison_concurrent() -> None:
    # base until minute 100; r1 from then on; three late reactions to base answers arrive after the
    # switch: too few to compare the period they share, so the comparison stays before/after.
    base = _reactions("base", 5, 10, 8) + _reactions("base", 3, 1, 1, minute=105)
    r1 = _reactions("r1", 5, 10, 2, minute=100)
    _, figures = impact_by_version(base + r1)
    change = figures.edit_rate_change
    assert change is not None and change.design == "sequential"
    assert change.value == pytest.approx(0.2 - 43 / 53)


def test_a_sampled_reaction_is_one_observation_however_much_it_weighs() -> None:
    # 5 users thumb up at a 1% sample: stored as 5 positives of weight 100. The rate is 0 edits of
    # 500 reactions, but the interval is that of 5 observations, not of 500 (design effect 1 here:
    # a share of 0 leaves nothing to estimate clustering from).
    thumbs = [Reaction(f"t{n}", "v", "thumbs_up", T0 + timedelta(minutes=n), 100.0, f"u{n}") for n in range(5)]
    (figure,) = impact_by_version(thumbs)
    edit, thumbs_up = figure.rates["edit"], figure.rates["thumbs_up"]
    assert figure.interactions == 500 and edit.value == 0.0 and thumbs_up.value == 1.0
    assert (edit.low, edit.high) == pytest.approx(wilson(0, 5)) and edit.high > 0.4
    assert (thumbs_up.low, thumbs_up.high) == pytest.approx(wilson(5, 5))
    assert edit.design_effect == pytest.approx(100.0)


def test_without_a_design_effect_to_estimate_each_user_is_one_observation() -> None:
    # 4 users, 10 reactions each, none an edit: nothing says whether the users are alike, so the
    # interval is that of 4 observations ([0, 49%]), not of 40 independent ones ([0, 8.8%]).
    quiet = [
        Reaction(f"q{u}-{i}", "v", "thumbs_up", T0 + timedelta(minutes=i), user_id=f"u{u}")
        for u in range(4)
        for i in range(10)
    ]
    (figure,) = impact_by_version(quiet)
    assert (figure.rates["edit"].low, figure.rates["edit"].high) == pytest.approx(wilson(0, 4))
    # One user, half edits: a figure about one user, not about users.
    (alone,) = impact_by_version(_reactions("v", 1, 40, 20))
    assert alone.rates["edit"].value == 0.5
    assert (alone.rates["edit"].low, alone.rates["edit"].high) == pytest.approx(wilson(0.5, 1))
    # Reactions of unknown users are their own clusters: 40 of them stay 40 observations.
    (unknown,) = impact_by_version([Reaction(f"n{i}", "v", "view", T0) for i in range(40)])
    assert (unknown.rates["edit"].low, unknown.rates["edit"].high) == pytest.approx(wilson(0, 40))


def test_a_version_with_two_reactions_is_not_compared_as_a_rollout_arm() -> None:
    # r1: one sampled thumbs-up (weight 100) and one edit, beside base's 40 reactions: weights would
    # clear the 20 a concurrent comparison needs, reactions do not.
    base = [
        Reaction(f"b{n}", "base", "edit" if n % 2 else "thumbs_down", T0 + timedelta(minutes=n), user_id=f"u{n}")
        for n in range(40)
    ]
    r1 = [
        Reaction("r-up", "r1", "thumbs_up", T0 + timedelta(minutes=5), 100.0, "x1"),
        Reaction("r-edit", "r1", "edit", T0 + timedelta(minutes=6), 1.0, "x2"),
    ]
    _, figures = impact_by_version(base + r1)
    change = figures.edit_rate_change
    assert change is not None and change.design == "sequential"
    assert change.low < 0 < change.high  # two observations cannot show an improvement


def test_gauges_are_capped_to_the_most_recent_versions() -> None:
    reactions = [r for table, rows in _fixture().items() for r in reactions_from_rows(table, rows)]
    late = reactions_from_rows(DPO_PAIRS, [_row("g1", "r2", 120)])
    export_gauges(impact_by_version(reactions + late), max_versions=2)

    def value(version: str, signal: str) -> float | None:
        return REGISTRY.get_sample_value("flywheel_impact_rate", {"model_version": version, "signal": signal})

    assert value("base", "edit") is None  # beyond the cap: no series
    assert value("r1", "edit") == pytest.approx(0.1) and value("r2", "edit") == pytest.approx(1.0)
    assert REGISTRY.get_sample_value("flywheel_impact_interactions", {"model_version": "r1"}) == 10


def _at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def _arm(version: str, users: list[str], start: int, count: int, edit_share: float, seed: int) -> list[Reaction]:
    """``count`` reactions a minute apart from ``users`` in turn, a seeded ``edit_share`` of them edits."""
    draw = random.Random(seed)
    return [
        Reaction(
            f"{version}-{seed}-{n}",
            version,
            "edit" if draw.random() < edit_share else "thumbs_up",
            _at(start + n),
            user_id=users[n % len(users)] if users else "",
        )
        for n in range(count)
    ]


USERS = [f"u{n}" for n in range(40)]


def test_a_version_replaced_outright_is_not_concurrent_with_its_successor() -> None:
    # base answers until minute 600, then r1 for everyone; base's edits keep arriving for 30
    # minutes after the switch (31 of them). Both edit alike: reaction times overlap, service did not.
    base = _arm("base", USERS, 0, 600, 0.5, 1) + [
        Reaction(f"late{n}", "base", "edit", _at(600 + n), user_id=USERS[n]) for n in range(31)
    ]
    r1 = _arm("r1", USERS, 600, 600, 0.5, 2)
    served = [ServedPeriod("base", None, 0.0, None, _at(600)), ServedPeriod("r1", None, 0.0, _at(600), None)]

    _, figure = impact_by_version(base + r1, served=served)
    change = figure.edit_rate_change
    assert change is not None and change.design == "sequential" and change.against == "base"
    # Without the history, reaction times are all there is: the overlap is labelled for what it is.
    _, figure = impact_by_version(base + r1)
    assert figure.edit_rate_change is not None and figure.edit_rate_change.design == "overlapping"


def test_a_version_is_compared_with_the_one_it_replaced_not_the_one_before_it() -> None:
    # base, then r1 (worse, rolled back), then r2 (as good as base) replaces base.
    base = _arm("base", USERS, 0, 400, 0.3, 1) + _arm("base", USERS, 800, 400, 0.3, 2)
    r1 = _arm("r1", USERS, 400, 400, 0.7, 3)
    r2 = _arm("r2", USERS, 1200, 400, 0.3, 4)
    served = [
        ServedPeriod("base", None, 0.0, None, _at(400)),
        ServedPeriod("r1", None, 0.0, _at(400), _at(800)),
        ServedPeriod("base", None, 0.0, _at(800), _at(1200)),
        ServedPeriod("r2", None, 0.0, _at(1200), None),
    ]

    for history in (served, None):  # without the history: the version most reactions just before came from
        figures = {figure.model_version: figure for figure in impact_by_version(base + r1 + r2, served=history)}
        change = figures["r2"].edit_rate_change
        assert change is not None and change.against == "base" and change.low < 0 < change.high


def test_a_rollout_whose_share_grew_is_compared_period_by_period() -> None:
    # 10% of users on r1 on day one (users edit 60%), 50% on day two (users edit 20%); r1 is as good
    # as base. Pooled over both days, r1's arm leans to the easier day.
    day = 1440
    base = _arm("base", USERS[4:], 0, 1296, 0.6, 1) + _arm("base", USERS[20:], day, 720, 0.2, 2)
    r1 = _arm("r1", USERS[:4], 0, 144, 0.6, 3) + _arm("r1", USERS[:20], day, 720, 0.2, 4)
    served = [
        ServedPeriod("base", "r1", 0.1, None, _at(day)),
        ServedPeriod("base", "r1", 0.5, _at(day), None),
    ]

    _, figure = impact_by_version(base + r1, served=served)
    change = figure.edit_rate_change
    assert change is not None and change.design == "concurrent"
    assert change.low < 0 < change.high
    # Pooled over the two days, r1's arm (mostly day two) looked better by about 0.19.
    pooled = sum(r.signal == "edit" for r in r1) / len(r1) - sum(r.signal == "edit" for r in base) / len(base)
    assert pooled < -0.1


def test_reactions_without_a_user_are_no_arm_of_a_rollout() -> None:
    # Requests without a user id always get the current version: their users (who edit more) would
    # all sit in base's arm.
    base = _arm("base", USERS[:20], 0, 400, 0.3, 1) + _arm("base", [], 0, 400, 0.7, 2)
    r1 = _arm("r1", USERS[20:], 0, 400, 0.3, 3)
    served = [ServedPeriod("base", "r1", 0.5, None, None)]

    base_figure, r1_figure = impact_by_version(base + r1, served=served)
    change = r1_figure.edit_rate_change
    assert change is not None and change.design == "concurrent" and change.low < 0 < change.high
    assert base_figure.rates["edit"].users == 20  # the column counts users, not anonymous reactions


def test_answers_of_an_unknown_version_are_shown_never_compared() -> None:
    unknown = _arm("unknown", USERS, 0, 100, 0.9, 1)
    base = _arm("base", USERS, 50, 200, 0.5, 2)
    r1 = _arm("r1", USERS, 250, 200, 0.2, 3)

    figures = {figure.model_version: figure for figure in impact_by_version(unknown + base + r1)}
    assert figures["unknown"].edit_rate_change is None and figures["base"].edit_rate_change is None
    change = figures["r1"].edit_rate_change
    assert change is not None and change.against == "base"


def test_few_users_widen_the_interval_by_students_t() -> None:
    # 5 users of 20 reactions, each editing a different share: the clustered variance is estimated
    # from 5 users, so t with 4 degrees of freedom (2.78), not 1.96.
    reactions = [
        Reaction(f"u{u}-{i}", "v", "edit" if i < 4 * u + 2 else "thumbs_up", _at(i), user_id=f"u{u}")
        for u in range(5)
        for i in range(20)
    ]
    (figure,) = impact_by_version(reactions)
    edit = figure.rates["edit"]
    effective = edit.total / edit.design_effect
    assert (edit.low, edit.high) == pytest.approx(wilson(edit.value * effective, effective, critical_value(5)))
    assert critical_value(5) == pytest.approx(2.776, abs=1e-3) and critical_value(40) == pytest.approx(1.96, abs=1e-3)


def test_rejection_rows_that_are_no_new_reaction_are_left_out_and_dropped_positives_weigh_their_rate() -> None:
    rows = [
        _row("d1", "base", 1, signal="view", stage="dedup", reason="duplicate_event_id", scores=[]),  # redelivered
        _row("d2", "base", 2, signal="thumbs_up", stage="dedup", reason="duplicate_event_id", scores=[]),
        # another user's identical edit: a reaction of its own
        _row("c1", "base", 2, signal="edit", stage="dedup", reason="duplicate_content", scores=[]),
        _row("p1", "base", 3, signal="thumbs_up", stage="policy", scores=[("pii:email", 1.0), ("sampling_rate", 0.01)]),
        _row("e1", "base", 4, signal="edit", stage="distance", scores=[]),
    ]
    reactions = reactions_from_rows(REJECTIONS, rows)
    assert [(r.event_id, r.weight) for r in reactions] == [("c1", 1.0), ("p1", 100.0), ("e1", 1.0)]
