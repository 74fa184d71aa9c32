"""Intervals for the evaluation figures: Wilson for shares, a seeded percentile bootstrap for means.

Seeded, so the same figures give the same intervals on every run (the card can be checked again).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from flywheel.trainer.events import Interval

Z95 = 1.959963984540054


def share(hits: int, total: int) -> Interval:
    """``hits / total`` with its 95% Wilson score interval (sound at small counts and at 0 or 1)."""
    if total <= 0:
        return Interval(value=0.0, low=0.0, high=1.0)
    p = hits / total
    denominator = 1 + Z95**2 / total
    centre = (p + Z95**2 / (2 * total)) / denominator
    spread = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / denominator
    return Interval(value=p, low=max(0.0, centre - spread), high=min(1.0, centre + spread))


def mean(values: Sequence[float], resamples: int = 2000, seed: int = 0) -> Interval:
    """The mean of ``values`` with a 95% percentile-bootstrap interval (paired when values are differences)."""
    if not values:
        return Interval(value=0.0, low=0.0, high=0.0)
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[picks].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return Interval(value=float(data.mean()), low=float(low), high=float(high))


def shares(flags: Sequence[bool]) -> Interval:
    """Share of true flags with its Wilson interval."""
    return share(sum(bool(flag) for flag in flags), len(flags))


def sign_test(plus: int, minus: int) -> float:
    """Two-sided exact sign test p-value of ``plus`` against ``minus`` (ties left out by the caller).

    1.0 when there is nothing to test. Unlike a bootstrap of the mean of signs, it does not
    grow sure of a difference that few prompts show among many ties.
    """
    total = plus + minus
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, k) for k in range(min(plus, minus) + 1)) / 2**total
    return min(1.0, 2 * tail)
