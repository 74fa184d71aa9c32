"""Forgetting measured on the held-out positives the run did not train on or against.

A thumbed-up answer that other users edited is a rejected answer of the training set: DPO pushes
it down on purpose. Counted with the others it reads as forgetting (or hides it): the comparison
also reports the positives whose answer is no chosen or rejected answer of the run, and their
forgetting alone, which is what the guard judges: fewer than ``min_unseen_positives`` of them is
missing evidence, never a pass. Measurements are built by hand; the figures, comparison, gates and
lines are real.
"""

from __future__ import annotations

import pytest

from flywheel.config import revised
from flywheel.trainer import statistics
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.evaluate import (
    HeldOutPrompt,
    Measurement,
    compare,
    figures,
)
from flywheel.trainer.forgetting import positive_groups, unseen_positives
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
        "  forgetting +30.00% on 4 held-out positives; +50.00% (95% +50.00..+50.00%) on the 2 whose answer the run "
        "did not train on or against (2 it did)"
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


def _forgetting_reasons(
    unseen_count: int, settings: TrainerSettings, unseen_after: float = -11.0, seen_after: float = -9.0
) -> tuple[float | None, list[str]]:
    """The gates' forgetting reasons: ``unseen_count`` unseen positives go from -10.0 to ``unseen_after``
    per 10 tokens; 40 positives the run trained towards go to ``seen_after``."""
    base = _measured([(-10.0, 10)] * unseen_count + [(-10.0, 10)] * 40)
    after = _measured([(unseen_after, 10)] * unseen_count + [(seen_after, 10)] * 40)
    mask = [True] * unseen_count + [False] * 40
    comparison = compare(base, after, [PROMPT], settings, mask)
    reasons = apply_gates(
        figures(base, [PROMPT], settings), figures(after, [PROMPT], settings), comparison, settings.gates
    )
    return comparison.forgetting_pct, [reason for reason in reasons if "forgetting" in reason]


def test_the_forgetting_guard_judges_the_unseen_positives_whatever_the_pool_says() -> None:
    settings = TrainerSettings()
    pooled, reasons = _forgetting_reasons(16, settings)
    assert pooled is not None and pooled < settings.gates.max_forgetting_pct  # the pool alone would pass
    assert reasons == [
        "guard forgetting: the 16 held-out positives whose answer the run did not train on or against "
        "fell 10.00% (95% interval +10.00..+10.00%) > 5.00%"
    ]
    # Within the limit: passes, though the positives it pushed down on purpose drag the pool to 16%.
    pooled, reasons = _forgetting_reasons(16, settings, unseen_after=-10.4, seen_after=-12.0)
    assert pooled is not None and pooled > settings.gates.max_forgetting_pct and reasons == []
    assert _forgetting_reasons(8, revised(settings, gates={"min_unseen_positives": 8}))[1] != []


def test_positives_the_run_trained_on_or_against_are_no_evidence_of_forgetting() -> None:
    settings = TrainerSettings()
    # Every positive seen: the pool is measured (-10% is a rise), and says nothing the gate can use.
    pooled, reasons = _forgetting_reasons(0, settings)
    assert pooled is not None and pooled < 0
    assert reasons == [
        "not enough evidence: 0 of 40 held-out positives unseen (an answer the run did not train on or against) "
        "< min_unseen_positives 16; the other 40 are a chosen or rejected answer of its training pairs, pushed on "
        "purpose, so forgetting was not measured (gates.require_forgetting_check=false accepts that)"
    ]
    assert _forgetting_reasons(15, settings)[1][0].startswith("not enough evidence: 15 of 55 held-out positives")
    # A comparison that never checked which answers the run trained on claims nothing either.
    base, after = _measured([(-10.0, 10)] * 20), _measured([(-10.0, 10)] * 20)
    unchecked = compare(base, after, [PROMPT], settings)
    reasons = apply_gates(
        figures(base, [PROMPT], settings), figures(after, [PROMPT], settings), unchecked, settings.gates
    )
    assert any(reason.startswith("not enough evidence: whether the run trained on") for reason in reasons)
    # Switched off, too few unseen positives are accepted, and enough of them are still judged.
    off = revised(settings, gates={"require_forgetting_check": False})
    assert _forgetting_reasons(15, off)[1] == []
    assert _forgetting_reasons(16, off)[1][0].startswith("guard forgetting: the 16")


def test_the_unseen_interval_resamples_positives_that_share_an_answer() -> None:
    # Two answers liked 8 times each: one kept its likelihood, one fell 20%. Counted as 16
    # independent positives the interval is narrow; as the two answers they are, it spans both.
    positives = [{"prompt": f"q{i}", "response": "A" if i % 2 else "b"} for i in range(16)]
    base = _measured([(-10.0, 10)] * 16)
    after = _measured([(-10.0, 10) if i % 2 else (-12.0, 10) for i in range(16)])
    settings = TrainerSettings()
    linked = compare(base, after, [PROMPT], settings, [True] * 16, positive_groups=positive_groups(positives))
    alone = compare(base, after, [PROMPT], settings, [True] * 16)
    assert linked.forgetting_unseen is not None and alone.forgetting_unseen is not None
    assert linked.forgetting_pct_unseen == pytest.approx(10.0) == linked.forgetting_unseen.value
    assert linked.positive_groups_unseen == 2
    assert linked.forgetting_unseen.low == pytest.approx(0.0) and linked.forgetting_unseen.high == pytest.approx(20.0)
    assert 0.0 < alone.forgetting_unseen.low < 10.0 < alone.forgetting_unseen.high < 20.0
    assert forgetting_line(linked, 16).endswith(
        "+10.00% (95% +0.00..+20.00%, resampling their 2 distinct answers) on the 16 whose answer the run did not "
        "train on or against (0 it did)"
    )


def test_a_ratio_of_sums_weighs_long_items_more_and_checks_its_inputs() -> None:
    # 1/10 and 9/10: the ratio of sums is 10/20 = 0.5, as is the mean of ratios here; with
    # one item ten times as long, the long one dominates: (1 + 90) / (10 + 100).
    assert statistics.ratio([1.0, 9.0], [10.0, 10.0]).value == pytest.approx(0.5)
    assert statistics.ratio([1.0, 90.0], [10.0, 100.0]).value == pytest.approx(91 / 110)
    assert statistics.ratio([], []).value == 0.0
    with pytest.raises(ValueError, match="numerators"):
        statistics.ratio([1.0], [1.0, 2.0])
