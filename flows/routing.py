"""Route fresh events by signal, and draw the stratified sample of positives."""

from __future__ import annotations

from dataclasses import dataclass

import bytewax.operators as op
from bytewax.dataflow import Stream, operator

from flywheel.flows.decisions import Candidate, Draw, NotSampled, Sampled
from flywheel.operators.config import SamplingSettings
from flywheel.operators.routing import Route, route_of
from flywheel.operators.sampling import sample_positive


@dataclass(frozen=True)
class Routes:
    """One stream per route (see ``operators/routing.py``)."""

    pairs: Stream[Candidate]  # user edits and reviewer decisions, in source order
    positives: Stream[Candidate]
    feedback: Stream[Candidate]
    views: Stream[Candidate]


class Router:
    """Routing and sampling bound to the sampling settings (``min_rating`` decides positives)."""

    def __init__(self, cfg: SamplingSettings) -> None:
        self._cfg = cfg

    def route(self, candidate: Candidate) -> Route:
        """The route of a candidate's event."""
        return route_of(candidate.sourced.event, self._cfg.min_rating)

    def draw(self, candidate: Candidate) -> Draw:
        """Decide by a hash of ``event_id`` whether the stratified sample takes a positive."""
        sample = sample_positive(candidate.sourced.event, self._cfg)
        if sample is None:
            return NotSampled(candidate.sourced)
        return Sampled(candidate.sourced, sample.stratum, sample.sampling_rate)


@operator
def route_by_signal(step_id: str, up: Stream[Candidate], router: Router) -> Routes:
    """Split fresh events into one stream per route.

    Nested branches, views first (most of the traffic): an event crosses the branches up to its
    own route's, not one filter per route.
    """
    views = op.branch("view", up, lambda candidate: router.route(candidate) is Route.VIEW)
    # Edits and reviewer decisions share one stream: the reviewed-answers ledger must see them in order.
    answers = op.branch(
        "pair_candidate",
        views.falses,
        lambda candidate: router.route(candidate) in (Route.PAIR_CANDIDATE, Route.REVIEW),
    )
    # What is left is feedback or a positive candidate (route_of names every signal's route).
    feedback = op.branch("feedback", answers.falses, lambda candidate: router.route(candidate) is Route.FEEDBACK)
    return Routes(answers.trues, feedback.falses, feedback.trues, views.trues)
