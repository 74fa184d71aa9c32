"""Collapse the older guards let through: one answer to everything, silence for cut-offs, code that stopped parsing.

Each case builds the answers by hand, runs the real figures, comparison and gates, and checks both
that the collapse is rejected and that a healthy candidate of the same shape is not.
"""

from __future__ import annotations

import pytest

from flywheel.trainer import statistics
from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.generation import Answer

PROMPTS = 40
TASKS = 10  # four wordings each: the users correct every wording of a task to the same code


def _code(task: int, broken: bool = False) -> str:
    body = f"def task_{task}(items):\n    return sorted(items)[{task}]" if not broken else f"def task_{task}(items:\n"
    return f"```python\n{body}\n```"


def _prompts() -> list[HeldOutPrompt]:
    return [
        HeldOutPrompt(
            key=f"k{i}",
            text=f"task {i % TASKS}, wording {i // TASKS}",
            prompt=f"task {i % TASKS}, wording {i // TASKS}",
            corrections=[_code(i % TASKS)],
            corrected=[f"Here is some prose about task {i % TASKS} and wording {i // TASKS}, then a long example."],
        )
        for i in range(PROMPTS)
    ]


def _measured(answers: list[Answer]) -> Measurement:
    return Measurement(answers=answers, pair_logprobs=[], positives_log_likelihood=-2.0, eval_pairs=0, eval_positives=0)


def _gates(base: list[Answer], candidate: list[Answer]) -> list[str]:
    # No positives here: forgetting is not what this judges (test_trainer_forgetting_unseen.py does).
    settings = TrainerSettings(gates=GateSettings(require_forgetting_check=False))
    prompts = _prompts()
    before, after = figures(_measured(base), prompts, settings), figures(_measured(candidate), prompts, settings)
    return apply_gates(before, after, compare(_measured(base), _measured(candidate), prompts, settings), settings.gates)


def _base() -> list[Answer]:
    # The base answers each wording differently, in prose, and never quite what users want.
    return [Answer(p.corrected[0], finished=True) for p in _prompts()]


def test_one_answer_to_every_prompt_is_a_collapse() -> None:
    constant = [Answer(_code(0), finished=True)] * PROMPTS  # closer on many prompts, by format alone

    reasons = _gates(_base(), constant)

    assert any(reason.startswith("guard collapse: distinct answers 100% -> 2% ") for reason in reasons), reasons
    # Answering every wording of a task alike, as the users do, is not a collapse: it promotes.
    assert _gates(_base(), [Answer(p.corrections[0], finished=True) for p in _prompts()]) == []


def test_silence_cannot_replace_the_bases_cut_off_answers() -> None:
    # The base runs out of tokens on 32 prompts; the candidate answers well but says nothing on 12.
    base = [Answer(p.corrected[0], finished=index >= 32) for index, p in enumerate(_prompts())]
    candidate = [Answer("" if index < 12 else p.corrections[0], finished=True) for index, p in enumerate(_prompts())]

    reasons = _gates(base, candidate)

    assert not any(reason.startswith("guard truncation") for reason in reasons)  # 80% -> 30%: the old guard passed it
    assert any(reason.startswith("guard empty: answers with no text 0% -> 30%") for reason in reasons), reasons


def test_code_that_parses_falls_where_the_base_wrote_none() -> None:
    # The base writes code on 4 prompts (all parse); the candidate on all 40, and 18 of them are broken.
    base = [Answer(_code(p.key.__len__()) if index < 4 else p.corrected[0], True) for index, p in enumerate(_prompts())]
    candidate = [Answer(_code(index % TASKS, broken=index >= 22), True) for index in range(PROMPTS)]

    reasons = _gates(base, candidate)

    assert any(reason.startswith("guard code: Python code that parses 100% of 4 answers") for reason in reasons), (
        reasons
    )
    healthy = [Answer(_code(index % TASKS, broken=index == 39), True) for index in range(PROMPTS)]  # 1 of 40 broken
    assert not any(reason.startswith("guard code") for reason in _gates(base, healthy))


def test_a_few_wins_among_many_ties_are_no_gain() -> None:
    assert statistics.sign_test(4, 0) == pytest.approx(0.125)
    assert statistics.sign_test(10, 0) == pytest.approx(2 / 1024)
    assert statistics.sign_test(0, 0) == 1.0 and statistics.sign_test(5, 5) == 1.0
    # Four prompts closer, none farther, 36 ties: the bootstrap's interval clears 0, the sign test does not.
    base = _base()
    candidate = [Answer(p.corrections[0], True) if index < 4 else base[index] for index, p in enumerate(_prompts())]

    reasons = _gates(base, candidate)

    assert any(reason.startswith("no gain: closer on 4, farther on 0 of 40 prompts") for reason in reasons), reasons


def test_closer_by_a_hair_and_far_worse_elsewhere_is_no_gain() -> None:
    # 28 prompts: the base's answer with one character fewer (closer by a hair); 12: unrelated words.
    base = _base()
    candidate = [
        Answer(answer.text[:-1] if index < 28 else "zebra quantum mango " * 4, True)
        for index, answer in enumerate(base)
    ]
    # No positives here: forgetting is not what this judges (test_trainer_forgetting_unseen.py does).
    settings, prompts = TrainerSettings(gates=GateSettings(require_forgetting_check=False)), _prompts()
    comparison = compare(_measured(base), _measured(candidate), prompts, settings)
    assert (comparison.closer, comparison.farther) == (28, 12) and comparison.net_closer.low > 0  # the signs pass
    assert comparison.similarity_gain.high < 0

    reasons = _gates(base, candidate)

    assert any(reason.startswith("no gain: similarity to users' corrections") for reason in reasons), reasons
    assert not any("closer to users' corrections on" in reason for reason in reasons)  # the signs alone passed


def test_prompts_neither_model_answered_do_not_count_as_evidence() -> None:
    # Both say nothing on 30 of 40 prompts; the candidate answers the other 10 as users want.
    base = [Answer("" if index < 30 else answer.text, True) for index, answer in enumerate(_base())]
    candidate = [Answer("" if index < 30 else p.corrections[0], True) for index, p in enumerate(_prompts())]

    reasons = _gates(base, candidate)

    assert "not enough evidence: 10 of 40 held-out prompts answered by the base or the candidate < " in "\n".join(
        reasons
    ), reasons
    assert _gates(_base(), [Answer(p.corrections[0], True) for p in _prompts()]) == []


def test_code_left_open_when_the_model_stopped_counts_as_cut_off() -> None:
    # The model ended (end of sequence) inside the code block it opened: broken code the parse
    # check cannot see (it reads closed blocks only).
    cut = [Answer(p.corrections[0].removesuffix("\n```")[:-6], finished=True) for p in _prompts()]
    assert all(answer.empty_or_truncated for answer in cut)
    assert not Answer(_code(1), finished=True).empty_or_truncated
    assert not Answer("Use `x`, then ```python\nx = 1\n``` and ~~~\ny\n~~~ done", finished=True).empty_or_truncated

    reasons = _gates(_base(), cut)

    truncation = "guard truncation: empty or cut-off answers 0% -> 100%"
    assert any(reason.startswith(truncation) for reason in reasons), reasons
