"""Intervals for the evaluation figures: Wilson for shares, a seeded percentile bootstrap for means.

Seeded, so the same figures give the same intervals on every run (the card can be checked again).
Held-out prompts come in groups of linked prompts (rewordings of one question, one answer users
give several prompts: ``trainer/split.py``). They are not independent, so the bootstrap resamples
whole groups (a cluster bootstrap) and the sign test counts groups: six groups of six rewordings,
five closer and one farther, are six observations, not 36 (net +0.67, 95% 0.39..0.89 and sign
test p = 7e-5 counted by prompt; 0.00..1.00 and p = 0.22 counted by group).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

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


def mean(
    values: Sequence[float], resamples: int = 2000, seed: int = 0, groups: Sequence[Hashable] | None = None
) -> Interval:
    """The mean of ``values`` with a 95% percentile-bootstrap interval (paired when values are differences).

    ``groups``: each value's group (None: every value its own). The value is the mean over all
    values either way; the interval resamples whole groups and takes the mean of the values they
    hold (a cluster bootstrap: linked values are drawn together, so they count as one observation,
    not as many). Where every group holds one value this is the plain bootstrap, draw for draw.
    """
    if not values:
        return Interval(value=0.0, low=0.0, high=0.0)
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    ids, count = _group_ids(groups, len(data))
    if count == len(data):
        picks = rng.integers(0, len(data), size=(resamples, len(data)))
        means = data[picks].mean(axis=1)
    else:
        sums, sizes = np.bincount(ids, weights=data, minlength=count), np.bincount(ids, minlength=count)
        picks = rng.integers(0, count, size=(resamples, count))
        means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return Interval(value=float(data.mean()), low=float(low), high=float(high))


def ratio(
    numerators: Sequence[float],
    denominators: Sequence[float],
    resamples: int = 2000,
    seed: int = 0,
    groups: Sequence[Hashable] | None = None,
) -> Interval:
    """``sum(numerators) / sum(denominators)`` with a 95% percentile-bootstrap interval resampling groups.

    A ratio of sums (a change in summed log-probability over the summed log-probability) is not a
    mean of per-item ratios: long items weigh more. The interval resamples whole groups, as
    :func:`mean` does, and takes the ratio of the sums they hold. A draw whose denominators sum
    to 0 is left out; none at all gives 0 with the interval 0..0, as an empty :func:`mean` does.
    """
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators for {len(denominators)} denominators")
    total = float(np.sum(denominators))
    if not numerators or total == 0:
        return Interval(value=0.0, low=0.0, high=0.0)
    ids, count = _group_ids(groups, len(numerators))
    tops = np.bincount(ids, weights=np.asarray(numerators, dtype=float), minlength=count)
    bottoms = np.bincount(ids, weights=np.asarray(denominators, dtype=float), minlength=count)
    picks = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    drawn_tops, drawn_bottoms = tops[picks].sum(axis=1), bottoms[picks].sum(axis=1)
    kept = drawn_bottoms != 0
    low, high = np.quantile(drawn_tops[kept] / drawn_bottoms[kept], [0.025, 0.975])
    return Interval(value=float(np.sum(numerators)) / total, low=float(low), high=float(high))


def _group_ids(groups: Sequence[Hashable] | None, size: int) -> tuple[np.ndarray, int]:
    """Each value's group as 0, 1, ... in order of first appearance, and how many groups there are."""
    if groups is None:
        return np.arange(size), size
    if len(groups) != size:
        raise ValueError(f"{len(groups)} groups for {size} values: one group per value")
    order: dict[Hashable, int] = {}
    ids = np.fromiter((order.setdefault(group, len(order)) for group in groups), dtype=np.intp, count=size)
    return ids, len(order)


def group_signs(values: Sequence[float], groups: Sequence[Hashable] | None = None) -> tuple[int, int]:
    """(groups whose mean value is above 0, groups whose mean is below 0): what :func:`sign_test` counts.

    A group of linked prompts is one observation: its prompts' net (+1 closer, -1 farther, 0 tie)
    is averaged, and the group is closer, farther or a tie by the sign of that mean.
    """
    ids, count = _group_ids(groups, len(values))
    sums = np.bincount(ids, weights=np.asarray(values, dtype=float), minlength=count)
    return int((sums > 0).sum()), int((sums < 0).sum())


def shares(flags: Sequence[bool]) -> Interval:
    """Share of true flags with its Wilson interval."""
    return share(sum(bool(flag) for flag in flags), len(flags))


def grouped_shares(
    flags: Sequence[bool], resamples: int = 2000, seed: int = 0, groups: Sequence[Hashable] | None = None
) -> Interval:
    """Share of true flags: Wilson where every group holds one flag, else the cluster bootstrap of :func:`mean`.

    Wilson counts every flag as independent; linked flags are not, and its interval would be as
    narrow for 6 groups of 6 as for 36 independent prompts.
    """
    if _group_ids(groups, len(flags))[1] == len(flags):
        return shares(flags)
    return mean([float(flag) for flag in flags], resamples, seed, groups)


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
