"""Simulated users: a consistent habit, deterministic reactions that depend only on the answer."""

from __future__ import annotations

from collections import Counter

from flywheel.simulation import HOUSE_STYLE, Answer, Behaviour, RegexHabit, SimulatedUsers, broken


def test_house_style_deletes_chatter_and_fixes_print() -> None:
    answer = "Sure! Here is how.\nprint(rows)\nI hope this helps!"
    assert HOUSE_STYLE.correct("q", answer) == "Here is how.\nlogger.info(rows)"
    assert HOUSE_STYLE.correct("q", "Use logger.info(rows) to log rows.") is None


def test_a_habit_that_would_leave_nothing_is_no_edit() -> None:
    assert RegexHabit("drop-all", ((r".*", ""),)).correct("q", "anything") is None


def test_sessions_are_deterministic_and_cover_the_prompt_set() -> None:
    users = SimulatedUsers(users=30, prompts_per_user=4, seed=3)
    asks = users.asks()
    assert asks == SimulatedUsers(users=30, prompts_per_user=4, seed=3).asks()
    assert len(asks) == 120 and len(set(asks)) == 120
    assert asks != SimulatedUsers(users=30, prompts_per_user=4, seed=4).asks()
    assert asks != users.asks("next-week")  # a new session asks new questions


def _answers(users: SimulatedUsers, text: str, version: str) -> list[Answer]:
    return [Answer(user, prompt, text, f"req-{i}", version) for i, (user, prompt) in enumerate(users.asks())]


def test_reactions_change_only_when_the_answers_do() -> None:
    users = SimulatedUsers(users=100, prompts_per_user=4, behaviour=Behaviour(edit_share=0.8, thumbs_up_share=0.6))
    bad = [users.react(a, "s0") for a in _answers(users, "Sure! print(x)", "base")]
    good = [users.react(a, "s1") for a in _answers(users, "logger.info(x)", "r1")]
    bad_signals, good_signals = Counter(e["signal"] for e in bad), Counter(e["signal"] for e in good)
    assert set(good_signals) == {"thumbs_up", "view"} and 0.5 < good_signals["thumbs_up"] / len(good) < 0.7
    assert 0.72 < bad_signals["edit"] / len(bad) < 0.88
    assert {e["final_user_edit"] for e in bad if e["signal"] == "edit"} == {"logger.info(x)"}
    again = [users.react(a, "s0") for a in _answers(users, "Sure! print(x)", "base")]
    assert again == [dict(e, occurred_at=a["occurred_at"]) for e, a in zip(bad, again, strict=True)]
    assert all(e["model_version"] == "base" and e["request_id"].startswith("req-") for e in bad)


def test_broken_answers_are_regenerated_not_edited() -> None:
    users = SimulatedUsers(users=20, prompts_per_user=2)
    for text in ("Sure! rebase rebase rebase rebase", "   "):
        assert {users.react(a, "s")["signal"] for a in _answers(users, text, "r9")} == {"regenerate"}
    assert not broken("Sure! a b a b")


def test_a_habit_keeps_the_indentation_of_code() -> None:
    answer = "Sure! Here it is.\n```python\nfor row in rows:\n    print(row)\n```"
    assert HOUSE_STYLE.correct("q", answer) == "Here it is.\n```python\nfor row in rows:\n    logger.info(row)\n```"
    # Indentation alone is never an edit.
    assert HOUSE_STYLE.correct("q", "```python\nfor row in rows:\n    yield row\n```") is None


def test_the_code_only_habit_edits_answers_with_text_around_their_code() -> None:
    from flywheel.revolutions import KEEP_CODE_ONLY

    block = "```python\ndef add(a, b):\n    return a + b\n```"
    assert KEEP_CODE_ONLY.correct("q", f"Here is a function:\n\n{block}\n\nIt adds two numbers.") == block
    assert KEEP_CODE_ONLY.correct("q", block) is None  # nothing to delete
    assert KEEP_CODE_ONLY.correct("q", "Use the sum function.") is None  # no code: no habit applies
    # Cut off inside the block: everything from the opening fence is kept.
    assert KEEP_CODE_ONLY.correct("q", "Sure:\n```python\ndef add(a, b):") == "```python\ndef add(a, b):"
