"""Rollout: the split by a stable hash of user_id has the asked proportions and never moves a user."""

from __future__ import annotations

import math

from flywheel.serving.registry import Alias
from flywheel.serving.rollout import Routes, bucket

USERS = [f"user-{index}" for index in range(20_000)]


def test_split_matches_share_within_binomial_noise() -> None:
    for share in (0.1, 0.5, 0.9):
        routes = Routes("r-current", "r-candidate", share)
        on_candidate = sum(routes.pick(user) == "r-candidate" for user in USERS) / len(USERS)
        tolerance = 4 * math.sqrt(share * (1 - share) / len(USERS))
        assert abs(on_candidate - share) < tolerance, (share, on_candidate)


def test_a_user_keeps_their_arm_and_a_new_candidate_draws_a_new_sample() -> None:
    first = Routes("cur", "cand-1", 0.1)
    assert [first.pick(user) for user in USERS[:500]] == [first.pick(user) for user in USERS[:500]]
    second = Routes("cur", "cand-2", 0.1)
    arm_one = {user for user in USERS if first.pick(user) == "cand-1"}
    arm_two = {user for user in USERS if second.pick(user) == "cand-2"}
    # Independent 10% samples overlap on about 1% of users, not on 10%.
    assert len(arm_one & arm_two) / len(USERS) < 0.02


def test_bucket_is_a_pure_function_in_unit_interval() -> None:
    values = [bucket(user, "salt") for user in USERS[:1000]]
    assert all(0.0 <= value < 1.0 for value in values)
    assert values == [bucket(user, "salt") for user in USERS[:1000]]


def test_growing_share_only_adds_users_to_the_candidate() -> None:
    small, large = Routes("cur", "cand", 0.1), Routes("cur", "cand", 0.3)
    small_arm = {user for user in USERS if small.pick(user) == "cand"}
    large_arm = {user for user in USERS if large.pick(user) == "cand"}
    assert small_arm < large_arm


def test_no_user_no_candidate_or_zero_share_get_current() -> None:
    assert Routes("cur", "cand", 0.9).pick(None) == "cur"
    assert Routes("cur", None, 0.5).pick("user-1") == "cur"
    assert Routes("cur", "cand", 0.0).pick("user-1") == "cur"
    alias = Alias(current="r2", candidate="r3", candidate_share=0.25)
    assert Routes.of(alias) == Routes("r2", "r3", 0.25)
    assert Routes.of(alias).versions() == {"r2", "r3"}
