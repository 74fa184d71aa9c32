"""Answers of the users' length and style about anything: similarity to users' corrections promotes them.

Where users lengthen the base's short answers, another prompt's correction (or generic filler in
the users' style) is closer to every prompt's correction than the base's short, on-topic answer.
Each case builds the answers by hand, runs the real figures, comparison and gates, and checks
that the off-topic candidate is rejected by the own-prompt match guard, and that a candidate
answering each prompt as its users did is not.
"""

from __future__ import annotations

from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.generation import Answer
from flywheel.trainer.topic_match import own_prompt_match

SUBJECTS = [
    ("France", "capital", "Paris sits on the Seine"),
    ("photosynthesis", "chlorophyll", "plants turn light into sugar"),
    ("binary search", "sorted array", "each step halves the range"),
    ("list comprehension", "brackets", "a loop folded into one expression"),
    ("volcano", "magma", "lava breaks through the crust"),
    ("mortgage", "interest rate", "the bank charges on the loan"),
    ("guitar", "chords", "fret the strings after tuning"),
    ("marathon", "training", "build mileage at an easy pace"),
    ("vaccine", "antibodies", "the immune system learns the virus"),
    ("jazz", "improvisation", "the saxophone swings over the blues"),
]
PROMPTS = 40


def _wanted(index: int) -> str:
    topic, detail, fact = SUBJECTS[index % len(SUBJECTS)]
    return (
        f"{topic.capitalize()}: {detail}. In short, {fact}. Here is a fuller explanation of {topic}, "
        f"with the {detail} spelled out step by step, and why {fact} matters in practice (case {index})."
    )


def _prompts() -> list[HeldOutPrompt]:
    return [
        HeldOutPrompt(
            key=f"k{i:02d}",
            text=f"Tell me about {SUBJECTS[i % len(SUBJECTS)][0]} (case {i})",
            prompt=f"Tell me about {SUBJECTS[i % len(SUBJECTS)][0]} (case {i})",
            corrections=[_wanted(i)],
            corrected=[_short(i)],
        )
        for i in range(PROMPTS)
    ]


def _short(index: int) -> str:
    topic, detail, _ = SUBJECTS[index % len(SUBJECTS)]
    return f"{topic.capitalize()}: {detail}."  # the base's answer, which users lengthen


def _measured(texts: list[str]) -> Measurement:
    answers = [Answer(text, finished=True) for text in texts]
    return Measurement(answers=answers, pair_logprobs=[], positives_log_likelihood=-2.0, eval_pairs=0, eval_positives=0)


def _gates(candidate: list[str]) -> list[str]:
    # No positives here: forgetting is not what this judges (test_trainer_forgetting_unseen.py does).
    settings = TrainerSettings(gates=GateSettings(require_forgetting_check=False))
    prompts = _prompts()
    base = _measured([_short(i) for i in range(PROMPTS)])
    after = _measured(candidate)
    comparison = compare(base, after, prompts, settings)
    return apply_gates(figures(base, prompts, settings), figures(after, prompts, settings), comparison, settings.gates)


def _no_gain(reasons: list[str]) -> bool:
    return any(reason.startswith("no gain") for reason in reasons)


def test_another_prompts_correction_is_off_topic() -> None:
    # Each prompt answered with the next subject's correction: longer, in the users' style, wrong.
    shifted = [_wanted(i + 1) for i in range(PROMPTS)]

    reasons = _gates(shifted)

    assert not _no_gain(reasons)  # closer on every prompt: similarity alone would promote it
    assert any(reason.startswith("guard off-topic: ") for reason in reasons), reasons
    assert _gates([_wanted(i) for i in range(PROMPTS)]) == []  # what users wanted, prompt by prompt


def test_filler_in_the_users_style_is_off_topic() -> None:
    filler = [
        "Overview: details. In short, it depends. Here is a fuller explanation of the matter, with the "
        f"details spelled out step by step, and why it depends matters in practice ({'.' * (i % 3)})."
        for i in range(PROMPTS)
    ]

    reasons = _gates(filler)

    assert not _no_gain(reasons)
    assert any(reason.startswith("guard off-topic: answers closer to their own prompt's") for reason in reasons)


def test_a_shorter_on_topic_answer_is_no_breach() -> None:
    # The candidate keeps each answer on its subject but writes only its first sentence: not off-topic.
    first = [_wanted(i).split(". Here")[0] + "." for i in range(PROMPTS)]

    assert not any(reason.startswith("guard off-topic") for reason in _gates(first))


def test_match_is_chance_for_silence_and_one_for_the_users_own_answers() -> None:
    wanted = [_wanted(i) for i in range(PROMPTS)]

    assert own_prompt_match([""] * PROMPTS, wanted) == [0.5] * PROMPTS
    assert own_prompt_match(wanted, wanted) == [1.0] * PROMPTS
    # Rewordings of one task (here: one correction for every prompt) are no contrast: not measured.
    assert own_prompt_match(wanted[:3], [wanted[0]] * 3) == [None, None, None]
