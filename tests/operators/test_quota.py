from __future__ import annotations

import pickle
from datetime import timedelta

from flywheel.operators.config import QuotaSettings
from flywheel.operators.quota import QuotaLedger, quota_key
from flywheel.schemas.records import Position
from tests.support.curation_events import T0, make_event

DAY = timedelta(days=1)


def test_user_cap_per_day() -> None:
    ledger = QuotaLedger(QuotaSettings(per_user_per_day=2, per_segment_per_day=None))
    assert ledger.admit("u1", "pro", T0) is None
    assert ledger.admit("u1", "pro", T0) is None
    drop = ledger.admit("u1", "pro", T0)
    assert drop is not None and (drop.stage, drop.reason) == ("quota", "quota")
    assert drop.scores["user_cap"] == 2
    # Other users are unaffected, and the next event-time day starts a new count.
    assert ledger.admit("u2", "pro", T0) is None
    assert ledger.admit("u1", "pro", T0 + DAY) is None


def test_segment_cap_per_day() -> None:
    ledger = QuotaLedger(QuotaSettings(per_user_per_day=None, per_segment_per_day=3))
    results = [ledger.admit(f"u{i}", "pro", T0) for i in range(5)]
    assert [r is None for r in results] == [True, True, True, False, False]
    assert ledger.admit("u9", "free", T0) is None


def test_rejected_events_do_not_count() -> None:
    ledger = QuotaLedger(QuotaSettings(per_user_per_day=1, per_segment_per_day=2))
    assert ledger.admit("u1", "pro", T0) is None
    assert ledger.admit("u1", "pro", T0) is not None  # user cap; segment count stays 1
    assert ledger.admit("u2", "pro", T0) is None
    assert ledger.admit("u3", "pro", T0) is not None


def test_days_expire_and_too_late_rejected() -> None:
    ledger = QuotaLedger(QuotaSettings(per_user_per_day=5, allowed_lateness_days=1))
    ledger.admit("u1", "pro", T0)
    ledger.admit("u1", "pro", T0 + DAY)
    assert len(ledger.days_retained) == 2
    ledger.admit("u1", "pro", T0 + 3 * DAY)
    assert ledger.days_retained == [(T0 + 3 * DAY).date()]
    drop = ledger.admit("u1", "pro", T0 + DAY)
    assert drop is not None and drop.reason == "late"
    # One day late is still counted.
    assert ledger.admit("u1", "pro", T0 + 2 * DAY) is None


def test_deterministic_and_picklable() -> None:
    cfg = QuotaSettings(per_user_per_day=3, per_segment_per_day=7)
    stream = [(f"u{i % 4}", T0 + timedelta(hours=i % 50)) for i in range(120)]

    def run(ledger: QuotaLedger, items: list) -> list[bool]:
        return [ledger.admit(user, "pro", at) is None for user, at in items]

    first = run(QuotaLedger(cfg), stream)
    assert first == run(QuotaLedger(cfg), stream)
    ledger = QuotaLedger(cfg)
    head = run(ledger, stream[:60])
    assert head + run(pickle.loads(pickle.dumps(ledger)), stream[60:]) == first


def test_quota_key_is_segment() -> None:
    assert quota_key(make_event(segment="enterprise")) == "enterprise"


def test_deepcopy_resumes_identically_and_is_independent() -> None:
    import copy

    cfg = QuotaSettings(per_user_per_day=3, per_segment_per_day=7)
    stream = [(f"u{i % 4}", T0 + timedelta(hours=i % 50)) for i in range(120)]
    ledger = QuotaLedger(cfg)
    for user, at in stream[:60]:
        ledger.admit(user, "pro", at)
    clone = copy.deepcopy(ledger)
    original_tail = [ledger.admit(user, "pro", at) is None for user, at in stream[60:]]
    assert [clone.admit(user, "pro", at) is None for user, at in stream[60:]] == original_tail
    assert ledger.user_counts_on(T0) == clone.user_counts_on(T0)
    clone.admit("new-user", "pro", T0 + timedelta(hours=49))
    assert "new-user" not in ledger.user_counts_on(T0 + timedelta(hours=49))


def test_replayed_admission_is_not_counted_twice() -> None:
    ledger = QuotaLedger(QuotaSettings(per_user_per_day=2, per_segment_per_day=None))
    message = ("interactions", 0, 5)
    assert ledger.admit("u1", "pro", T0, message) is None
    assert ledger.admit("u1", "pro", T0, message) is None  # replay after a crash
    assert ledger.user_counts_on(T0) == {"u1": 1}
    assert ledger.admit("u1", "pro", T0, ("interactions", 0, 6)) is None
    drop = ledger.admit("u1", "pro", T0, ("interactions", 0, 7))
    assert drop is not None and drop.reason == "quota"


def test_recalled_pairs_count_against_the_cap_once_each() -> None:
    ledger = QuotaLedger(QuotaSettings(per_user_per_day=2, per_segment_per_day=None))
    stored = Position("interactions", 0, 7)
    ledger.recall("u1", "pro", T0, stored)
    ledger.recall("u1", "pro", T0, stored)  # recalled twice (state restored and tables read): one pair
    assert ledger.user_counts_on(T0) == {"u1": 1}
    assert ledger.admit("u1", "pro", T0, stored) is None  # its replay keeps its decision, uncounted
    assert ledger.admit("u1", "pro", T0, Position("interactions", 0, 8)) is None
    drop = ledger.admit("u1", "pro", T0, Position("interactions", 0, 9))
    assert drop is not None and drop.reason == "quota"
    # A stored pair beyond the cap (written before caps held) still counts: the ledger never admits past it.
    ledger.recall("u2", "pro", T0, Position("interactions", 1, 1))
    ledger.recall("u2", "pro", T0, Position("interactions", 1, 2))
    ledger.recall("u2", "pro", T0, Position("interactions", 1, 3))
    assert ledger.user_counts_on(T0)["u2"] == 3
    assert ledger.admit("u2", "pro", T0, Position("interactions", 1, 4)) is not None
