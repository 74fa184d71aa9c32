from __future__ import annotations

import pytest

from flywheel.operators.routing import Route, needs_review, route_of
from flywheel.schemas.events import Signal
from tests.support.curation_events import make_event


@pytest.mark.parametrize(
    ("signal", "overrides", "route"),
    [
        (Signal.EDIT, {}, Route.PAIR_CANDIDATE),
        (Signal.THUMBS_UP, {}, Route.POSITIVE_CANDIDATE),
        (Signal.RATING, {"rating": 4}, Route.POSITIVE_CANDIDATE),
        (Signal.RATING, {"rating": 5}, Route.POSITIVE_CANDIDATE),
        (Signal.RATING, {"rating": 3}, Route.FEEDBACK),
        (Signal.RATING, {"rating": 1}, Route.FEEDBACK),
        (Signal.THUMBS_UP, {"final_user_edit": "something else"}, Route.FEEDBACK),
        (Signal.THUMBS_UP, {"final_user_edit": "def foo(): pass"}, Route.POSITIVE_CANDIDATE),
        (Signal.THUMBS_DOWN, {}, Route.FEEDBACK),
        (Signal.REGENERATE, {}, Route.FEEDBACK),
        (Signal.COPY, {}, Route.FEEDBACK),
        (Signal.ABANDON, {}, Route.FEEDBACK),
        (Signal.FOLLOW_UP, {}, Route.FEEDBACK),
        (Signal.ESCALATION, {}, Route.FEEDBACK),
        (Signal.VIEW, {}, Route.VIEW),
        (Signal.REVIEW, {}, Route.REVIEW),
    ],
)
def test_route_of(signal: Signal, overrides: dict, route: Route) -> None:
    assert route_of(make_event(signal, **overrides)) is route


def test_every_signal_has_a_route() -> None:
    for signal in Signal:
        assert isinstance(route_of(make_event(signal)), Route)


def test_min_rating_configurable() -> None:
    event = make_event(Signal.RATING, rating=3)
    assert route_of(event, min_rating=3) is Route.POSITIVE_CANDIDATE


def test_needs_review() -> None:
    assert {s for s in Signal if needs_review(make_event(s))} == {Signal.THUMBS_DOWN, Signal.ESCALATION}
    assert needs_review(make_event(Signal.RATING, rating=2)) and not needs_review(make_event(Signal.RATING, rating=3))
