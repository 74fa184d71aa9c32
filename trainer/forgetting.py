"""Forgetting: how the held-out positives' likelihood moved, and on which of them it means anything.

A positive (an answer users liked as it was) whose answer the run trained on or against is pushed
by DPO on purpose; only the others say whether the model forgot what users liked
(:func:`unseen_positives`). Positives sharing one answer are one observation
(:func:`positive_groups`), which the interval of :func:`unseen_forgetting` resamples. The gate
reads these figures (``trainer/gates.py``); :mod:`flywheel.trainer.evaluate` measures them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flywheel.trainer import statistics
from flywheel.trainer.config import TrainerSettings


def plain_answer(text: str) -> str:
    """Case and runs of whitespace aside: how answers are compared (distinct answers, trained texts)."""
    return " ".join(text.casefold().split())


def per_token_likelihood(scored: Sequence[tuple[float, int]]) -> float | None:
    """Mean per-token log-probability over ``(sum, tokens)`` sequences; None without tokens."""
    tokens = sum(n for _, n in scored)
    return sum(s for s, _ in scored) / tokens if tokens else None


def forgetting_pct(before: float | None, after: float | None) -> float | None:
    """How much the positives' mean log-likelihood fell, in percent (negative = it improved)."""
    if before is None or after is None:
        return None
    scale = abs(before) or 1.0
    return (before - after) / scale * 100.0


def unseen_positives(positives: Sequence[dict[str, str]], train_rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Per positive: True when its answer is neither a chosen nor a rejected answer the run trains on.

    A positive whose answer the run trained against (users edited the same answer elsewhere) is
    pushed down by DPO on purpose; one it trained towards is pushed up. Neither says whether the
    model forgot what users liked: only the others do. Compared case- and whitespace-blind.
    """
    trained = {plain_answer(row[side]) for row in train_rows for side in ("chosen", "rejected") if row.get(side)}
    return [plain_answer(p["response"]) not in trained for p in positives]


def positive_groups(positives: Sequence[dict[str, str]]) -> list[str]:
    """Per positive, its group: positives with one answer (case and whitespace aside) are linked.

    Users who thumb up the same answer to a question asked again are one observation of it, not
    several: the forgetting interval resamples these groups.
    """
    return [plain_answer(p["response"]) for p in positives]


def unseen_forgetting(
    base: Sequence[tuple[float, int]],
    candidate: Sequence[tuple[float, int]],
    unseen: Sequence[bool] | None,
    groups: Sequence[str] | None,
    settings: TrainerSettings,
) -> dict[str, Any]:
    """``positives_unseen``, ``forgetting_pct_unseen`` and its interval (left unset when the mask is not known).

    ``base`` and ``candidate``: each model's (summed log-probability, tokens) per held-out positive.
    The fall in percent is the summed change in log-probability over the summed log-probability
    (the tokens are the same for both models, so it is the per-token figure); its interval
    resamples groups of positives that share an answer.
    """
    if unseen is None or not base:
        return {}
    count = len(base)
    if not len(unseen) == count == len(candidate):
        raise ValueError("the unseen mask must have one flag per held-out positive")
    if groups is not None and len(groups) != count:
        raise ValueError("the positives' groups must have one group per held-out positive")
    pick = [i for i, flag in enumerate(unseen) if flag]
    was = [base[i][0] for i in pick]
    now = [candidate[i][0] for i in pick]
    interval = None
    if pick:
        fall = statistics.ratio(
            [100.0 * (b - a) for b, a in zip(was, now, strict=True)],
            [abs(b) for b in was],
            settings.bootstrap_resamples,
            settings.seed,
            None if groups is None else [groups[i] for i in pick],
        )
        interval = fall.model_copy(
            update={
                "value": forgetting_pct(
                    per_token_likelihood([base[i] for i in pick]),
                    per_token_likelihood([candidate[i] for i in pick]),
                )
            }
        )
    return {
        "positives_unseen": len(pick),
        "forgetting_pct_unseen": None if interval is None else interval.value,
        "forgetting_unseen": interval,
        "positive_groups_unseen": len({groups[i] for i in pick}) if groups is not None and pick else None,
    }
