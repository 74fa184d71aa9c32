"""Linked held-out prompts are one observation: intervals resample groups, the sign test counts groups.

The split holds out whole groups of linked prompts (rewordings of one question, prompts users
correct to one answer). Counted prompt by prompt, six groups of six rewordings looked like 36
independent wins and losses. Each case builds the answers by hand and runs the real grouping
(:func:`held_out_prompts` on pairs), figures, comparison and gates.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flywheel.trainer import statistics
from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.conversation import Formatting
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, distinct_share, figures, held_out_prompts
from flywheel.trainer.events import Comparison
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.generation import Answer, similarity
from flywheel.trainer.verdict import groups_line

WORDINGS = ("Write a Python function that {}.", "How do I {} in Python?", "Show me code that {}.",
            "I need a function that {}.", "Please write a function that {}.", "What is the code that {}?")  # fmt: skip


def _task_code(task: int) -> str:
    return f"```python\ndef task_{task}(values):\n    return sorted(values)[{task}] + {task * 7}\n```"


def _pairs(tasks: int, wordings: int) -> list[dict[str, str]]:
    """Every wording of each task, corrected by users to the task's one code block (so the split links them)."""
    return [
        {
            "pair_id": f"t{task}w{wording}",
            "prompt": WORDINGS[wording].format(f"handles case {task} of the values"),
            "chosen": _task_code(task),
            "rejected": f"Sure! For case {task} (wording {wording}) you could sort the values and pick one of them.",
        }
        for task in range(tasks)
        for wording in range(wordings)
    ]


def _prompts(tasks: int, wordings: int) -> list[HeldOutPrompt]:
    return held_out_prompts(_pairs(tasks, wordings), Formatting(chat=True))


def _measured(answers: list[Answer]) -> Measurement:
    return Measurement(answers=answers, pair_logprobs=[], positives_log_likelihood=-2.0, eval_pairs=0, eval_positives=0)


def _base(prompts: list[HeldOutPrompt]) -> list[Answer]:
    return [Answer(p.corrected[0], finished=True) for p in prompts]


def _judged(prompts: list[HeldOutPrompt], candidate: list[Answer]) -> tuple[Comparison, list[str]]:
    # No positives here: forgetting is not what these tests judge (test_trainer_forgetting_unseen.py does).
    settings = TrainerSettings(gates=GateSettings(require_forgetting_check=False))
    base = _base(prompts)
    comparison = compare(_measured(base), _measured(candidate), prompts, settings)
    before, after = figures(_measured(base), prompts, settings), figures(_measured(candidate), prompts, settings)
    return comparison, apply_gates(before, after, comparison, settings.gates)


def _positions(prompts: list[HeldOutPrompt]) -> list[tuple[int, int]]:
    """Each prompt's (group's rank among the groups, its own rank within the group): prompts are sorted by key."""
    groups = sorted({p.cluster for p in prompts})
    seen: dict[str, int] = {}
    positions = []
    for prompt in prompts:
        seen[prompt.cluster] = seen.get(prompt.cluster, -1) + 1
        positions.append((groups.index(prompt.cluster), seen[prompt.cluster]))
    return positions


def _five_closer_one_farther(prompts: list[HeldOutPrompt]) -> list[Answer]:
    """The users' code on every wording of five tasks; on the sixth task's, the base's answer cut short (farther)."""
    farther = prompts[-1].group
    return [Answer(p.corrected[0][:20] if p.group == farther else p.corrections[0], finished=True) for p in prompts]


def test_six_groups_of_six_rewordings_are_six_observations_and_are_rejected() -> None:
    prompts = _prompts(tasks=6, wordings=6)
    assert len(prompts) == 36 and len({p.group for p in prompts}) == 6  # the split's grouping: one group per task
    candidate = _five_closer_one_farther(prompts)

    grouped, reasons = _judged(prompts, candidate)
    alone, alone_reasons = _judged([dataclasses.replace(p, group=None) for p in prompts], candidate)

    # Counted prompt by prompt (as before): 30 closer, 6 farther, sure of a gain.
    assert (alone.closer, alone.farther, alone.groups) == (30, 6, 36)
    assert alone.net_closer.value == pytest.approx(2 / 3) and alone.net_closer.low > 0.3
    assert alone.sign_test_p is not None and alone.sign_test_p < 1e-4
    assert not any(r.startswith(("no gain: closer", "not enough evidence")) for r in alone_reasons), alone_reasons
    # By group: the same value, 5 groups against 1, and an interval from no gain to all.
    assert (grouped.closer, grouped.farther) == (30, 6)  # prompts are still reported
    assert (grouped.groups, grouped.closer_groups, grouped.farther_groups) == (6, 5, 1)
    assert grouped.net_closer.value == pytest.approx(2 / 3)
    assert (grouped.net_closer.low, grouped.net_closer.high) == pytest.approx((0.0, 1.0))
    assert grouped.sign_test_p == pytest.approx(7 / 32)  # two-sided exact, 5 against 1
    assert grouped.closer_share.low < alone.closer_share.low  # the headline's interval widens too
    assert "not enough evidence: 36 held-out prompts in 6 groups of linked prompts < min_eval_groups 20" in reasons
    assert groups_line(grouped).endswith("closer / farther / same 5 / 1 / 0, sign test p = 0.22")
    assert any(
        r.startswith("no gain: closer to users' corrections on 30/36 prompts")
        and "resampling 6 groups of linked prompts" in r
        for r in reasons
    ), reasons


def test_the_sign_test_counts_groups_by_the_sign_of_their_mean_net() -> None:
    prompts = _prompts(tasks=6, wordings=3)
    # Five tasks: two wordings closer, the third farther (mean net +1/3); the sixth: one closer, two farther.
    candidate = [
        Answer(prompt.corrected[0][:20] if (within > 0 if group == 5 else within == 2) else prompt.corrections[0], True)
        for prompt, (group, within) in zip(prompts, _positions(prompts), strict=True)
    ]

    comparison, _ = _judged(prompts, candidate)

    assert (comparison.closer, comparison.farther) == (11, 7)
    assert (comparison.closer_groups, comparison.farther_groups) == (5, 1)
    assert comparison.sign_test_p == pytest.approx(statistics.sign_test(5, 1))


def test_five_groups_all_closer_fail_the_sign_test_that_fifteen_prompts_pass() -> None:
    prompts = _prompts(tasks=5, wordings=3)
    candidate = [Answer(p.corrections[0], finished=True) for p in prompts]

    grouped, reasons = _judged(prompts, candidate)
    alone, _ = _judged([dataclasses.replace(p, group=None) for p in prompts], candidate)

    assert alone.sign_test_p == pytest.approx(2 / 2**15)
    assert grouped.sign_test_p == pytest.approx(2 / 2**5) and grouped.net_closer.low == 1.0
    assert (
        "no gain: closer on 5, farther on 0 of 5 groups of linked prompts (by their prompts' mean net; the rest "
        "ties; 15 / 0 of 15 prompts): sign test p = 0.062 >= 0.05" in reasons
    ), reasons


def test_one_prompt_per_group_gives_the_per_prompt_figures_exactly() -> None:
    settings = TrainerSettings()
    pairs = [
        {"pair_id": f"p{i}", "prompt": f"Question number {i}?", "chosen": f"Answer {i} " * (1 + i % 5),
         "rejected": f"Reply {i % 3}", "thread_id": f"t{i}"}
        for i in range(40)
    ]  # fmt: skip
    prompts = held_out_prompts(pairs, Formatting(chat=True))
    assert len({p.group for p in prompts}) == 40  # nothing links them: each its own group
    base = [Answer(f"Reply {i % 3} and more", finished=i % 4 > 0) for i in range(40)]
    candidate = [Answer(p.corrections[0] if i % 3 else f"Reply {i}", finished=True) for i, p in enumerate(prompts)]
    pair_logprobs = [(-1.0 - i % 7, 5, -2.0, 6) for i in range(40)]
    measured = [
        Measurement(answers=answers, pair_logprobs=pair_logprobs, positives_log_likelihood=-2.0, eval_pairs=40,
                    eval_positives=0)
        for answers in (base, candidate)
    ]  # fmt: skip
    unlinked = [dataclasses.replace(p, group=None) for p in prompts]

    grouped = compare(*measured, prompts, settings, pair_groups=[p.cluster for p in prompts])
    alone = compare(*measured, unlinked, settings)

    assert grouped == alone
    assert figures(measured[1], prompts, settings) == figures(measured[1], unlinked, settings)
    # ... and those are today's per-prompt figures: Wilson share, plain bootstrap, sign test of prompts.
    gains = [similarity(c.text, p.corrections[0]) - similarity(b.text, p.corrections[0])
             for b, c, p in zip(base, candidate, prompts, strict=True)]  # fmt: skip
    signs = np.array([float((gain > 0) - (gain < 0)) for gain in gains])
    closer, farther = int((signs > 0).sum()), int((signs < 0).sum())
    assert (alone.closer, alone.farther, alone.groups) == (closer, farther, 40) and 0 < farther < closer
    assert alone.closer_share == statistics.share(closer, 40)
    assert alone.sign_test_p == statistics.sign_test(closer, farther)
    picks = np.random.default_rng(settings.seed).integers(0, 40, size=(settings.bootstrap_resamples, 40))
    low, high = np.quantile(signs[picks].mean(axis=1), [0.025, 0.975])
    assert (alone.net_closer.low, alone.net_closer.high) == (float(low), float(high))


def test_grouped_mean_resamples_whole_groups() -> None:
    values = [1.0] * 30 + [-1.0] * 6
    groups = [index // 6 for index in range(36)]
    clustered = statistics.mean(values, groups=groups)
    assert clustered.value == statistics.mean(values).value == pytest.approx(2 / 3)
    assert (clustered.low, clustered.high) == pytest.approx((0.0, 1.0))
    assert statistics.mean(values, groups=list(range(36))) == statistics.mean(values)
    assert statistics.group_signs(values, groups) == (5, 1)
    with pytest.raises(ValueError, match="one group per value"):
        statistics.mean(values, groups=[0, 1])


def test_a_candidate_good_on_many_distinct_groups_still_passes() -> None:
    prompts = _prompts(tasks=30, wordings=2)  # 60 prompts, 30 groups
    base = _base(prompts)
    candidate = [  # the users' code, but on two tasks the base's answer again
        b if group < 2 else Answer(p.corrections[0], True)
        for p, b, (group, _) in zip(prompts, base, _positions(prompts), strict=True)
    ]

    comparison, reasons = _judged(prompts, candidate)

    assert (comparison.groups, comparison.closer_groups, comparison.farther_groups) == (30, 28, 0)
    assert comparison.net_closer.low > 0.8 and comparison.similarity_gain.low > 0.1
    assert reasons == []


def test_a_collapse_is_caught_when_users_repeat_their_answer_within_groups() -> None:
    prompts = _prompts(tasks=6, wordings=6)
    constant = [Answer(prompts[0].corrections[0], finished=True)] * len(prompts)  # one answer to every prompt

    _, reasons = _judged(prompts, constant)

    assert any(
        r.startswith("guard collapse: distinct answers 100% -> 17% (an answer repeated within one of 6 groups")
        for r in reasons
    ), reasons
    # Counted per prompt, the users' six answers over 36 prompts put the floor below any collapse.
    users = [p.corrections[0] for p in prompts]
    assert distinct_share(users) == pytest.approx(1 / 6) and distinct_share(users) - 0.2 < 1 / 36
    assert distinct_share(users, [p.cluster for p in prompts]) == 1.0
    # Answering every wording of a task alike, as the users do, is no collapse.
    _, alike = _judged(prompts, [Answer(p.corrections[0], finished=True) for p in prompts])
    assert not any(r.startswith("guard collapse") for r in alike), alike
