"""Forgetting measured on the held-out positives the run did not train on or against.

A thumbed-up answer that other users edited is a rejected answer of the training set: DPO pushes
it down on purpose. Counted with the others it reads as forgetting (or hides it): the comparison
also reports the positives whose answer is no chosen or rejected answer of the run, and their
forgetting alone. Measurements are built by hand; the figures, comparison and lines are real.
"""

from __future__ import annotations

import pytest

from flywheel.config import revised
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures, unseen_positives
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.generation import Answer
from flywheel.trainer.verdict import forgetting_line

PROMPT = HeldOutPrompt(key="k", text="q", prompt="q", corrections=["short"], corrected=["long answer"])
TRAIN = [
    {"prompt": "p1", "chosen": "Use sorted(items).", "rejected": "Sure! Use   sorted(items). Hope this helps!"},
    {"prompt": "p2", "chosen": "x = 1", "rejected": "Certainly! x = 1"},
]
POSITIVES = [
    {"prompt": "p1", "response": "sure! use sorted(items). hope this helps!"},  # a rejected answer, case aside
    {"prompt": "p3", "response": "x = 1"},  # a chosen answer
    {"prompt": "p4", "response": "Read the file with open()."},
    {"prompt": "p5", "response": "Call str.lower() first."},
]


def _measured(positives: list[tuple[float, int]]) -> Measurement:
    tokens = sum(n for _, n in positives)
    return Measurement(
        answers=[Answer("long answer", finished=True)],
        pair_logprobs=[],
        positives_log_likelihood=sum(s for s, _ in positives) / tokens,
        eval_pairs=0,
        eval_positives=len(positives),
        positive_logprobs=tuple(positives),
    )


def test_positives_whose_answer_the_run_trains_on_or_against_are_not_unseen() -> None:
    assert unseen_positives(POSITIVES, TRAIN) == [False, False, True, True]
    assert unseen_positives(POSITIVES, []) == [True] * 4


def test_forgetting_on_the_unseen_positives_alone() -> None:
    # The trained-against answer falls a lot (DPO's intent), the trained-towards one rises; the
    # two unseen ones fall from -1.0 to -1.5 per token: 50% forgetting, which the pooled
    # figure (-2.0 -> -2.6 per token, 30%) understates.
    base = _measured([(-50.0, 10), (-20.0, 10), (-10.0, 10), (-20.0, 20)])
    after = _measured([(-80.0, 10), (-5.0, 10), (-15.0, 10), (-30.0, 20)])
    unseen = unseen_positives(POSITIVES, TRAIN)
    comparison = compare(base, after, [PROMPT], TrainerSettings(), unseen)

    assert comparison.forgetting_pct == pytest.approx(30.0)
    assert comparison.positives_unseen == 2
    assert comparison.forgetting_pct_unseen == pytest.approx(50.0)
    line = forgetting_line(comparison, 4)
    assert line == (
        "  forgetting +30.00% on 4 held-out positives; +50.00% on the 2 whose answer the run did not "
        "train on or against (2 it did)"
    )


def test_when_every_positive_was_trained_on_it_says_so_and_older_comparisons_keep_their_line() -> None:
    base, after = _measured([(-10.0, 10)]), _measured([(-12.0, 10)])
    seen = compare(base, after, [PROMPT], TrainerSettings(), [False])
    assert seen.positives_unseen == 0 and seen.forgetting_pct_unseen is None
    assert forgetting_line(seen, 1).endswith("every one's answer is a chosen or rejected answer the run trained on")
    older = compare(base, after, [PROMPT], TrainerSettings())  # no mask: nothing claimed about overlap
    assert older.positives_unseen is None
    assert forgetting_line(older, 1) == "  forgetting +20.00% on 1 held-out positives"
    with pytest.raises(ValueError, match="one flag per held-out positive"):
        compare(base, after, [PROMPT], TrainerSettings(), [True, False])


def _forgetting_reasons(unseen_count: int, settings: TrainerSettings) -> tuple[float | None, list[str]]:
    # ``unseen_count`` unseen positives fall 10% per token; 40 trained-towards ones rise enough
    # that the pooled figure stays inside the 5% bound.
    base = _measured([(-10.0, 10)] * unseen_count + [(-10.0, 10)] * 40)
    after = _measured([(-11.0, 10)] * unseen_count + [(-9.0, 10)] * 40)
    mask = [True] * unseen_count + [False] * 40
    comparison = compare(base, after, [PROMPT], settings, mask)
    reasons = apply_gates(
        figures(base, [PROMPT], settings), figures(after, [PROMPT], settings), comparison, settings.gates
    )
    return comparison.forgetting_pct, [reason for reason in reasons if "forgetting" in reason]


def test_the_forgetting_guard_reads_the_unseen_positives_once_there_are_enough() -> None:
    settings = TrainerSettings()
    pooled, reasons = _forgetting_reasons(16, settings)
    assert pooled is not None and pooled < settings.gates.max_forgetting_pct  # the pool alone would pass
    assert reasons == [
        "guard forgetting: the 16 held-out positives whose answer the run did not train on or against "
        "fell 10.00% > 5.00%"
    ]
    # Fewer than min_unseen_positives (16): too few to gate on, the pooled figure decides alone.
    assert _forgetting_reasons(15, settings)[1] == []
    assert _forgetting_reasons(8, revised(settings, gates={"min_unseen_positives": 8}))[1] != []
