"""Impact by model version against a fixture whose figures are computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from flywheel.schemas.tables import DPO_PAIRS, FEEDBACK_SIGNALS, POSITIVE_EXAMPLES, REJECTIONS
from flywheel.serving.impact import (
    Rate,
    difference,
    export_gauges,
    impact_by_version,
    reactions_from_rows,
    wilson,
)

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
    assert {s: f.count for s, f in base.rates.items()} == {"edit": 4, "thumbs_up": 2, "thumbs_down": 2, "regenerate": 1}
    assert {s: f.count for s, f in r1.rates.items()} == {"edit": 1, "thumbs_up": 8, "thumbs_down": 1, "regenerate": 0}
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
    _, r1 = _figures()
    change = r1.edit_rate_change
    assert change is not None and change.against == "base"
    # -0.3 -/+ sqrt((0.1-0.0179)^2 + (0.6873-0.4)^2) / sqrt((0.4042-0.1)^2 + (0.4-0.1682)^2), by hand
    assert (change.value, change.low, change.high) == pytest.approx((-0.3, -0.5988, 0.0825), abs=5e-4)
    # Newcombe (1998), example (a): 56/70 - 48/80 = 0.2000, 95% CI 0.0524 to 0.3339
    newer, older = Rate(56, 70, *wilson(56, 70)), Rate(48, 80, *wilson(48, 80))
    published = difference(newer, older, "x")
    assert (published.low, published.high) == pytest.approx((0.0524, 0.3339), abs=5e-4)


def test_gauges_are_capped_to_the_most_recent_versions() -> None:
    reactions = [r for table, rows in _fixture().items() for r in reactions_from_rows(table, rows)]
    late = reactions_from_rows(DPO_PAIRS, [_row("g1", "r2", 120)])
    export_gauges(impact_by_version(reactions + late), max_versions=2)

    def value(version: str, signal: str) -> float | None:
        return REGISTRY.get_sample_value("flywheel_impact_rate", {"model_version": version, "signal": signal})

    assert value("base", "edit") is None  # beyond the cap: no series
    assert value("r1", "edit") == pytest.approx(0.1) and value("r2", "edit") == pytest.approx(1.0)
    assert REGISTRY.get_sample_value("flywheel_impact_interactions", {"model_version": "r1"}) == 10
