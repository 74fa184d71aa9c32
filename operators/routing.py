"""Where each interaction event goes, decided by its signal alone (pure, replay-safe).

=====================  ======================================================
Route                  Events
=====================  ======================================================
PAIR_CANDIDATE         ``edit`` (with ``final_user_edit``): distance band, safety gate, quota -> DPO pair
POSITIVE_CANDIDATE     unedited ``thumbs_up``; unedited ``rating`` >= min_rating: stratified sample
FEEDBACK               ``thumbs_down``, ``regenerate``, ``copy``, ``abandon``, ``follow_up``,
                       ``escalation``; ``rating`` below min_rating (a low rating is negative
                       feedback, kept for analytics, never trained on); a ``thumbs_up`` or high
                       ``rating`` that carries an edit differing from the response (its pair
                       comes from the ``edit`` event, the vote is kept for analytics)
VIEW                   ``view``: counted, not stored
REVIEW                 ``review``: a reviewer's decision -> trusted pair or audit row
=====================  ======================================================

The human review topic gets ``thumbs_down``, ``escalation`` and ratings of at most
:data:`LOW_RATING` (and, from the flow, edits a gate held back: ``hold_for_review``).
"""

from __future__ import annotations

from enum import StrEnum

from flywheel.schemas.events import InteractionEvent, Signal


class Route(StrEnum):
    """The branch of the curation flow an event takes."""

    PAIR_CANDIDATE = "pair_candidate"
    POSITIVE_CANDIDATE = "positive_candidate"
    FEEDBACK = "feedback"
    VIEW = "view"
    REVIEW = "review"


_FEEDBACK_SIGNALS = frozenset(
    {
        Signal.THUMBS_DOWN,
        Signal.REGENERATE,
        Signal.COPY,
        Signal.ABANDON,
        Signal.FOLLOW_UP,
        Signal.ESCALATION,
    }
)
_REVIEW_SIGNALS = frozenset({Signal.THUMBS_DOWN, Signal.ESCALATION})
LOW_RATING = 2  # ratings up to this go to human review too


def is_edited(event: InteractionEvent) -> bool:
    """True when the event carries a user edit that differs from the model's response."""
    return event.final_user_edit is not None and event.final_user_edit != event.response


def route_of(event: InteractionEvent, min_rating: int = 4) -> Route:
    """The route of an event (see the module table)."""
    signal = event.signal
    if signal is Signal.EDIT:
        return Route.PAIR_CANDIDATE
    if signal is Signal.VIEW:
        return Route.VIEW
    if signal is Signal.REVIEW:
        return Route.REVIEW
    if signal in _FEEDBACK_SIGNALS:
        return Route.FEEDBACK
    if signal is Signal.THUMBS_UP:
        return Route.FEEDBACK if is_edited(event) else Route.POSITIVE_CANDIDATE
    if signal is Signal.RATING:
        positive = event.rating is not None and event.rating >= min_rating
        return Route.POSITIVE_CANDIDATE if positive and not is_edited(event) else Route.FEEDBACK
    raise ValueError(f"no route for signal {signal!r}")  # a new Signal member must be routed here


def needs_review(event: InteractionEvent) -> bool:
    """True for events that also go to the human review topic (thumbs_down, escalation, low ratings)."""
    low = event.signal is Signal.RATING and event.rating is not None and event.rating <= LOW_RATING
    return event.signal in _REVIEW_SIGNALS or low
