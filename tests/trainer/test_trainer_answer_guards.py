"""Guards on what the candidate writes: structure lines are no repetition, refusals are no answers."""

from __future__ import annotations

from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.generation import Answer, has_repeated_line, is_refusal
from tests.support.cards import plain_result


def _javascript(case: int) -> str:
    return (
        f"Here is the fix for case {case}:\n```js\nfunction f{case}(xs) {{\n  for (const x of xs) {{\n"
        f"    if (x > {case}) {{\n      return x;\n    }}\n  }}\n  return null;\n}}\n```"
    )


def _markdown(case: int) -> str:
    return f"Results for case {case}:\n\n| a | b |\n|---|---|\n| {case} | x |\n\n---\n\nMore:\n\n---\n\nEnd:\n\n---\n"


def test_braces_fences_and_rules_are_no_repeated_line() -> None:
    assert not has_repeated_line(_javascript(3)) and not has_repeated_line(_markdown(3))
    assert not has_repeated_line("```\na\n```\n```\nb\n```\n```\nc\n```")
    assert has_repeated_line("the the the\nthe the the\nthe the the")
    assert has_repeated_line("}\nreturn x;\n}\nreturn x;\n}\nreturn x;")  # a loop of code still is one


def test_a_candidate_writing_the_users_code_or_markdown_passes_the_repetition_guard() -> None:
    for write in (_javascript, _markdown):
        wanted = [write(case) for case in range(40)]
        result = plain_result([f"A plain answer {case}." for case in range(40)], wanted)
        assert result.after is not None and result.after.repeated_line_rate.value == 0.0


def test_refusals_are_told_by_their_opening() -> None:
    for text in (
        "I'm sorry, but I can't help with that.",
        "I\u2019m sorry, but I can\u2019t help with that.",
        "Sorry, I cannot assist with this request.",
        "I am unable to provide that.",
        "As an AI, I have no opinions.",
        '"I can\'t do that."',
    ):
        assert is_refusal(text), text
    for text in (
        "I can't stress this enough: use a venv.",
        "Here it is. Sorry, I can't say more.",
        "Sorry for the wait!",
    ):
        assert not is_refusal(text), text


def _gate(base: list[str], candidate: list[str], users: list[str]) -> list[str]:
    return [reason for reason in _reasons(base, candidate, users) if reason.startswith("guard refusal")]


def test_a_candidate_refusing_more_than_the_base_and_the_users_is_rejected() -> None:
    refusal = "I'm sorry, but I can't help with that."
    base = [f"A plain answer {case}." for case in range(40)]
    wanted = [f"The answer users wanted for case {case}, complete." for case in range(40)]
    assert _gate(base, wanted, wanted) == []
    breached = _gate(base, [refusal] * 8 + wanted[8:], wanted)
    assert breached and "0% -> 20%" in breached[0]
    assert _gate(base, [refusal] * 2 + wanted[2:], wanted) == []  # 5 points: within the allowed rise
    # Users who refuse on 8 prompts themselves (a harmful request, say) ask for those refusals.
    assert _gate(base, [refusal] * 8 + wanted[8:], [refusal] * 8 + wanted[8:]) == []


def _reasons(base: list[str], candidate: list[str], users: list[str]) -> list[str]:
    # No positives here: forgetting is not what this judges (test_trainer_forgetting_unseen.py does).
    settings = TrainerSettings(gates=GateSettings(require_forgetting_check=False))
    prompts = [
        HeldOutPrompt(key=f"k{i}", text=f"Q{i}", prompt=f"Q{i}", corrections=[u], corrected=[b])
        for i, (b, u) in enumerate(zip(base, users, strict=True))
    ]
    measured = [Measurement([Answer(t, True) for t in texts], [], -2.0, 0, 0) for texts in (base, candidate)]
    before, after = figures(measured[0], prompts, settings), figures(measured[1], prompts, settings)
    return apply_gates(before, after, compare(*measured, prompts, settings), settings.gates)


def test_a_candidate_one_character_from_the_base_is_no_gain() -> None:
    # Users drop the trailing sentence; the candidate drops one character of it on 10 of 40 prompts:
    # closer on those 10, farther on none (the sign test passes), better by nothing a user would see.
    base = [f"Answer number {case} explains the fix in a sentence or two. Hope this helps!" for case in range(40)]
    users = [text.removesuffix(" Hope this helps!") for text in base]
    candidate = [text[:-1] if case < 10 else text for case, text in enumerate(base)]
    reasons = _reasons(base, candidate, users)
    similar = [reason for reason in reasons if reason.startswith("no gain: similarity")]
    assert len(similar) == 1 and similar[0].endswith("does not clear +0.010")
    # "Hope this helps" holds no content word the users kept: the content gate sees no change either.
    assert [reason[:28] for reason in reasons if reason not in similar] == ["no gain: content words share"]
    # The users' own answers are a gain that clears it.
    assert not [reason for reason in _reasons(base, users, users) if reason.startswith("no gain")]
