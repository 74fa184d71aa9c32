from __future__ import annotations

import Levenshtein
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flywheel.operators.config import DistanceSettings
from flywheel.operators.distance import EditMeasure, check_band, measure_edit


def test_seed_example_is_in_band() -> None:
    measure = measure_edit("def foo(): pass", "def calculate_tax(): return 0.2")
    assert 0.10 <= measure.similarity <= 0.95
    assert check_band(measure, DistanceSettings()) is None


def test_counts_of_known_edit() -> None:
    # kitten -> sitting: replace k->s, replace e->i, insert g
    measure = measure_edit("kitten", "sitting")
    assert (measure.distance, measure.inserts, measure.deletes, measure.replaces) == (3, 1, 0, 2)
    assert measure.similarity == pytest.approx(1 - 3 / 7)


def test_delete_counted() -> None:
    measure = measure_edit("abcdef", "abdef")
    assert (measure.inserts, measure.deletes, measure.replaces) == (0, 1, 0)


def test_trivial_edit_dropped() -> None:
    text = "The quick brown fox jumps over the lazy dog near the river bank today."
    drop = check_band(measure_edit(text, text.replace("fox", "fix")), DistanceSettings())
    assert drop is not None and (drop.stage, drop.reason) == ("distance", "trivial_edit")
    assert drop.scores["similarity"] > 0.95


def test_identical_is_trivial() -> None:
    drop = check_band(measure_edit("same", "same"), DistanceSettings())
    assert drop is not None and drop.reason == "trivial_edit"


def test_rewrite_dropped() -> None:
    drop = check_band(measure_edit("aaaaaaaaaa", "zzzzzzzzzzzzzzz"), DistanceSettings())
    assert drop is not None and (drop.stage, drop.reason) == ("distance", "rewrite")


def test_band_bounds_are_inclusive() -> None:
    band = DistanceSettings(min_similarity=0.5, max_similarity=0.5)
    assert check_band(EditMeasure(0.5, 1, 0, 0, 1), band) is None
    assert check_band(EditMeasure(0.5000001, 1, 0, 0, 1), band) is not None


def test_band_config_validated() -> None:
    with pytest.raises(ValueError, match="min_similarity"):
        DistanceSettings(min_similarity=0.9, max_similarity=0.1)


@given(st.text(max_size=60), st.text(max_size=60))
def test_measure_properties(rejected: str, chosen: str) -> None:
    measure = measure_edit(rejected, chosen)
    assert 0.0 <= measure.similarity <= 1.0
    assert measure.distance == Levenshtein.distance(rejected, chosen)
    assert measure.inserts + measure.deletes + measure.replaces == measure.distance
    assert measure.inserts - measure.deletes == len(chosen) - len(rejected)
    longest = max(len(rejected), len(chosen))
    expected = 1.0 if longest == 0 else 1 - measure.distance / longest
    assert measure.similarity == pytest.approx(expected)


@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.floats(0, 1, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
)
def test_band_decision_matches_definition(rejected: str, chosen: str, a: float, b: float) -> None:
    band = DistanceSettings(min_similarity=min(a, b), max_similarity=max(a, b))
    measure = measure_edit(rejected, chosen)
    drop = check_band(measure, band)
    if measure.similarity > band.max_similarity:
        assert drop is not None and drop.reason == "trivial_edit"
    elif measure.similarity < band.min_similarity:
        assert drop is not None and drop.reason == "rewrite"
    else:
        assert drop is None
