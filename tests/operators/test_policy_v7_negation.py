"""default-v7: a word of abuse right after a negation is kindness, not abuse.

v6 dropped "you are not an idiot for asking" and "this isn't a dumb mistake" as abuse of the
assistant: users reassuring each other, or correcting the model's tone, lost their edits. The
wordings that stay abuse (a verb or "just" between, a second insult, a qualifier) must still drop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.operators.config import DEFAULT_POLICY_FILE
from flywheel.operators.policy import PolicyEngine
from flywheel.operators.proximity import negated, tokens

ANSWER = "Because the list is empty."
FIX = "Check the length first: `if items:` guards the loop."


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.from_file(DEFAULT_POLICY_FILE)


def _reason(engine: PolicyEngine, chosen: str) -> str | None:
    drop = engine.evaluate("Why does my loop crash?", chosen, ANSWER).drop
    return None if drop is None else drop.reason


@pytest.mark.parametrize(
    "kind",
    [
        "You are not an idiot for asking. ",
        "Don't worry, this isn't a dumb mistake. ",
        "You're not stupid, the docs are unclear. ",
        "That was not a stupid question. ",
        "Your answer isn't stupid, just incomplete. ",
    ],
)
def test_a_negated_word_of_abuse_is_kept(engine: PolicyEngine, kind: str) -> None:
    assert _reason(engine, kind + FIX) is None
    v6 = PolicyEngine.from_file(Path(DEFAULT_POLICY_FILE).with_name("default-v6.toml"))
    assert v6.evaluate("Why does my loop crash?", kind + FIX, ANSWER).drop is not None  # what v6 lost


@pytest.mark.parametrize(
    "abuse",
    [
        "Don't be an idiot. ",  # a verb between: an order, not a reassurance
        "You are not just an idiot, you are a moron. ",
        "You're not an idiot, you're a complete idiot. ",
        "You are not a total idiot. ",  # a qualifier between: not read as negated
        "You're never right, idiot. ",
        "You are an idiot. ",
    ],
)
def test_abuse_around_a_negation_still_drops(engine: PolicyEngine, abuse: str) -> None:
    assert (_reason(engine, abuse + FIX) or "").startswith("blocked:")


def test_negated_reads_only_a_negation_with_filler_between() -> None:
    words = tokens("it isn't such a dumb idea but not just an idiot thing")
    assert negated(words, words.index("dumb"))
    assert not negated(words, words.index("idiot"))
    assert not negated(tokens("dumb"), 0)
