from __future__ import annotations

import pickle
from datetime import timedelta

import pytest

from flywheel.operators.near_dup import NearDuplicateDetector, estimated_jaccard, minhash, near_dup_group
from flywheel.schemas.events import Signal
from tests.support.curation_events import T0, make_event

HOUR = timedelta(hours=1)
BASE = (
    "To reset your password open Settings, choose Security, then click Reset password and follow "
    "the link we email you. The link expires after thirty minutes, so use it promptly."
)


def _shingles(text: str, k: int = 5) -> set[str]:
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def test_minhash_estimates_jaccard() -> None:
    other = BASE.replace("thirty minutes", "one hour").replace("Security", "Privacy")
    true = len(_shingles(BASE.lower()) & _shingles(other.lower())) / len(
        _shingles(BASE.lower()) | _shingles(other.lower())
    )
    estimate = estimated_jaccard(minhash(BASE, 256), minhash(other, 256))
    assert abs(estimate - true) < 0.12
    assert estimated_jaccard(minhash(BASE), minhash(BASE.upper())) == 1.0
    assert estimated_jaccard(minhash(BASE), minhash("completely unrelated text about cooking pasta")) < 0.2


def test_near_duplicate_dropped_first_kept() -> None:
    detector = NearDuplicateDetector(HOUR, threshold=0.8)
    assert detector.observe("g", BASE, T0) is None
    drop = detector.observe("g", BASE.replace("promptly", "promptly!"), T0 + timedelta(minutes=1))
    assert drop is not None and (drop.stage, drop.reason) == ("dedup", "near_duplicate")
    assert drop.scores["near_duplicate_jaccard"] >= 0.8
    assert detector.observe("g", "An entirely different answer about billing cycles.", T0) is None
    assert detector.observe("other-prompt", BASE, T0) is None


def test_window_expiry_and_replay() -> None:
    detector = NearDuplicateDetector(HOUR)
    detector.observe("g", BASE, T0)
    detector.observe("h", "another text entirely, long enough", T0 + 2 * HOUR)
    assert len(detector) == 1
    assert detector.observe("g", BASE, T0 + 2 * HOUR) is None
    stream = [("g" if i % 2 else "h", f"{BASE} {i % 5}", T0 + timedelta(minutes=i * 13 % 200)) for i in range(60)]

    def run(d: NearDuplicateDetector, items: list) -> list[bool]:
        return [d.observe(g, t, at) is None for g, t, at in items]

    first = run(NearDuplicateDetector(HOUR), stream)
    assert first == run(NearDuplicateDetector(HOUR), stream)
    d = NearDuplicateDetector(HOUR)
    head = run(d, stream[:30])
    assert head + run(pickle.loads(pickle.dumps(d)), stream[30:]) == first


def test_group_is_the_normalised_prompt() -> None:
    a = make_event(Signal.EDIT, prompt="Reset  my Password")
    b = make_event(Signal.EDIT, prompt="reset my password")
    assert near_dup_group(a) == near_dup_group(b) is not None
    assert near_dup_group(make_event(Signal.THUMBS_UP)) is None


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        NearDuplicateDetector(HOUR, threshold=0.0)
    with pytest.raises(ValueError):
        NearDuplicateDetector(timedelta(0))


def test_a_replayed_message_does_not_match_itself() -> None:
    from datetime import UTC, datetime

    detector = NearDuplicateDetector(timedelta(hours=1), threshold=0.8)
    at = datetime(2026, 11, 1, tzinfo=UTC)
    text = "Rotate the key in the admin console and revoke the old one afterwards."
    assert detector.observe("g", text, at, ("t", 0, 1)) is None
    assert detector.observe("g", text, at, ("t", 0, 1)) is None
    drop = detector.observe("g", text, at, ("t", 0, 2))
    assert drop is not None and drop.reason == "near_duplicate"
