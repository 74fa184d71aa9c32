from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flywheel.operators.config import SamplingSettings
from flywheel.operators.sampling import PositiveSample, rate_for, sample_positive, stratum_of, uniform_of
from flywheel.schemas.events import Signal
from tests.support.curation_events import make_event


def test_stratum_and_rate() -> None:
    event = make_event(Signal.THUMBS_UP, segment="pro", model_version="v3")
    assert stratum_of(event, ["segment", "model_version"]) == "pro|v3"
    assert stratum_of(event, ["signal"]) == "thumbs_up"
    cfg = SamplingSettings(rates={"pro|v3": 0.5})
    assert rate_for("pro|v3", cfg) == 0.5
    assert rate_for("free|v3", cfg) == 0.01


@given(st.text(min_size=1), st.text(max_size=10))
def test_uniform_is_deterministic_and_in_range(event_id: str, salt: str) -> None:
    value = uniform_of(event_id, salt)
    assert 0.0 <= value < 1.0
    assert value == uniform_of(event_id, salt)


@given(st.text(min_size=1, max_size=30), st.floats(0, 1))
def test_decision_is_a_pure_function_of_event_id(event_id: str, rate: float) -> None:
    cfg = SamplingSettings(default_rate=rate)
    event = make_event(Signal.THUMBS_UP, event_id=event_id)
    decision = sample_positive(event, cfg)
    assert decision == sample_positive(make_event(Signal.THUMBS_UP, event_id=event_id), cfg)
    assert (decision is not None) == (uniform_of(event_id) < rate)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_empirical_rate(rate: float) -> None:
    n = 40_000
    cfg = SamplingSettings(default_rate=rate)
    kept = sum(sample_positive(make_event(Signal.THUMBS_UP, event_id=f"evt-{i}"), cfg) is not None for i in range(n))
    expected = rate * n
    tolerance = 5 * (n * rate * (1 - rate)) ** 0.5  # five standard deviations
    assert abs(kept - expected) < tolerance


def test_per_stratum_rates() -> None:
    cfg = SamplingSettings(default_rate=0.0, rates={"pro|v3": 1.0})
    kept = sample_positive(make_event(Signal.THUMBS_UP, segment="pro"), cfg)
    assert kept == PositiveSample(stratum="pro|v3", sampling_rate=1.0)
    assert sample_positive(make_event(Signal.THUMBS_UP, segment="free"), cfg) is None


def test_only_unedited_positive_events_are_eligible() -> None:
    cfg = SamplingSettings(default_rate=1.0)
    assert sample_positive(make_event(Signal.THUMBS_UP), cfg) is not None
    assert sample_positive(make_event(Signal.RATING, rating=4), cfg) is not None
    assert sample_positive(make_event(Signal.RATING, rating=3), cfg) is None
    assert sample_positive(make_event(Signal.THUMBS_UP, final_user_edit="changed"), cfg) is None
    assert sample_positive(make_event(Signal.EDIT), cfg) is None
    assert sample_positive(make_event(Signal.THUMBS_DOWN), cfg) is None


def test_salt_changes_the_sample() -> None:
    ids = [f"evt-{i}" for i in range(2000)]
    a = {i for i in ids if uniform_of(i) < 0.1}
    b = {i for i in ids if uniform_of(i, "2025-resample") < 0.1}
    assert a != b


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="stratum key"):
        SamplingSettings(stratum_keys=["user_id"])
    with pytest.raises(ValueError, match="within"):
        SamplingSettings(rates={"x": 1.5})
