from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.benchmarks.toxicity_standalone import (
    measure_batched_items_per_s,
    measure_one_at_a_time_items_per_s,
    sample_texts,
)
from flywheel.operators.config import DEFAULT_POLICY_FILE, CurationSettings
from flywheel.operators.toxicity import ProfanityBackend
from flywheel.settings import Settings


def test_defaults_follow_the_issue() -> None:
    cfg = CurationSettings()
    # Issue 12: no character-similarity ceiling (a small fix in a long answer is not trivial);
    # trivial edits are found by token alignment, rewrites by words kept in order.
    assert (cfg.distance.min_similarity, cfg.distance.max_similarity) == (0.10, 1.0)
    assert (cfg.distance.min_token_similarity, cfg.distance.min_containment) == (0.35, 0.9)
    assert cfg.dedup.hold_s == 120 and cfg.toxicity.segment_max_words == 24
    assert cfg.sampling.default_rate == 0.01
    assert cfg.sampling.stratum_keys == ["segment", "model_version"]
    assert cfg.toxicity.backend == "profanity"
    assert cfg.judge.enabled is False
    assert cfg.policy.path() == DEFAULT_POLICY_FILE


def test_loaded_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_CURATION__DISTANCE__MIN_SIMILARITY", "0.2")
    monkeypatch.setenv("FLYWHEEL_CURATION__QUOTA__PER_USER_PER_DAY", "7")
    monkeypatch.setenv("FLYWHEEL_CURATION__SAMPLING__RATES", '{"pro|v3": 0.5}')
    monkeypatch.setenv("FLYWHEEL_CURATION__POLICY__FILE", "/etc/flywheel/policy-v2.toml")
    cfg = Settings().curation
    assert cfg.distance.min_similarity == 0.2
    assert cfg.quota.per_user_per_day == 7
    assert cfg.sampling.rates == {"pro|v3": 0.5}
    assert cfg.policy.path() == Path("/etc/flywheel/policy-v2.toml")


def test_bad_values_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_CURATION__TOXICITY__BACKEND", "perspective")
    with pytest.raises(ValueError, match="backend"):
        Settings()


def test_benchmark_helpers_measure_something() -> None:
    backend = ProfanityBackend()
    texts = sample_texts(40)
    assert len(set(texts)) == 40
    assert measure_batched_items_per_s(backend, texts, batch_size=16) > 0
    assert measure_one_at_a_time_items_per_s(backend, texts[:5]) > 0
    with pytest.raises(ValueError):
        measure_batched_items_per_s(backend, [], batch_size=4)
