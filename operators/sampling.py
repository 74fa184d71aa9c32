"""Stratified, hash-decided sampling of unedited positive feedback.

An event is eligible when it is an unedited ``thumbs_up`` or an unedited ``rating`` at or
above ``min_rating``. It is kept when ``uniform(event_id) < rate(stratum)``, where
``uniform`` is blake2b of the event id mapped onto [0, 1): the same event always gets the
same decision (replays, retries, any worker). The stored rate lets training reweight by
``1 / sampling_rate``.
"""

from __future__ import annotations

import hashlib

import msgspec

from flywheel.operators.config import SamplingSettings
from flywheel.operators.routing import Route, route_of
from flywheel.schemas.events import InteractionEvent

STRATUM_SEPARATOR = "|"
# The score a dropped sampled positive's rejection row carries: the rate it was drawn at (its weight
# in the impact figures is its inverse, as a stored positive's).
SAMPLING_RATE_SCORE = "sampling_rate"


class PositiveSample(msgspec.Struct, frozen=True):
    """A positive example that made the sample: its stratum and inclusion probability."""

    stratum: str
    sampling_rate: float


def uniform_of(event_id: str, salt: str = "") -> float:
    """A stable pseudo-random number in [0, 1) derived from the event id (and an optional salt)."""
    digest = hashlib.blake2b(event_id.encode("utf-8"), digest_size=8, key=salt.encode("utf-8")[:64])
    return int.from_bytes(digest.digest(), "big") / 2**64


def stratum_of(event: InteractionEvent, keys: list[str] | tuple[str, ...]) -> str:
    """The stratum label: the values of ``keys`` joined by ``|``, e.g. ``"pro|v3"``."""
    parts = []
    for key in keys:
        value = getattr(event, key)
        parts.append(value.value if hasattr(value, "value") else str(value))
    return STRATUM_SEPARATOR.join(parts)


def rate_for(stratum: str, cfg: SamplingSettings) -> float:
    """The sampling rate of a stratum: its override in ``cfg.rates`` or ``cfg.default_rate``."""
    return cfg.rates.get(stratum, cfg.default_rate)


def sample_positive(event: InteractionEvent, cfg: SamplingSettings) -> PositiveSample | None:
    """The sample decision for one event: a PositiveSample when eligible and drawn, else None."""
    if route_of(event, cfg.min_rating) is not Route.POSITIVE_CANDIDATE:
        return None
    stratum = stratum_of(event, cfg.stratum_keys)
    rate = rate_for(stratum, cfg)
    if uniform_of(event.event_id, cfg.salt) < rate:
        return PositiveSample(stratum=stratum, sampling_rate=rate)
    return None
