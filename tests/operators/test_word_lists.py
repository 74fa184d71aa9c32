"""The policy's opt-in ``[word_lists]`` (operators/word_lists.py): the user's added prose, per script and language.

Measured on every labelled set and not adopted (README, Round 8): no packaged policy names it.
Every text here was written for these tests.
"""

from __future__ import annotations

import pytest

from flywheel.errors import PolicyError
from flywheel.operators.policy import PolicyEngine

ANSWER = "Restart the worker after you change the setting."


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    lists = {"languages": ["english", "italian", "turkish", "korean", "chinese", "french"], "exclude": ["durum"]}
    return PolicyEngine({"version": "t", "quoted_mentions": True, "word_lists": lists})


def _reason(engine: PolicyEngine, chosen: str, rejected: str = ANSWER) -> str | None:
    verdict = engine.evaluate("How do I apply the setting?", chosen, rejected)
    return verdict.drop.reason if verdict.drop else None


@pytest.mark.parametrize(
    "added",
    [
        "This answer is shit.",  # English in English prose
        "Sei proprio uno stronzo, lo sai?",  # Italian in Italian prose
        "이 병신아 제대로 해",  # Hangul: the word with its particle attached
        "你这个混蛋王八蛋",  # Han: no spaces, read anywhere
    ],
)
def test_a_listed_word_the_user_added_rejects_the_edit(engine: PolicyEngine, added: str) -> None:
    assert _reason(engine, f"{ANSWER}\n\n{added}") == "blocked:word_list"


def test_the_reason_names_the_word_and_its_list(engine: PolicyEngine) -> None:
    verdict = engine.evaluate("q", f"{ANSWER}\n\nThis answer is shit.", ANSWER)
    assert verdict.drop is not None and "'shit'" in verdict.drop.detail and "english" in verdict.drop.detail


@pytest.mark.parametrize(
    "chosen",
    [
        f"{ANSWER}\n\nThe shitake risotto is ready.",  # whole words only
        f"{ANSWER}\n\n```bash\nshit=1; echo $shit\n```",  # code is not prose
        f'{ANSWER}\n\nModerators remove phrases such as "you are a shit" from the forum.',  # a quoted mention
        f"{ANSWER}\n\nWe got the durum wheat, and Sie können beginnen.",  # another language's list, excluded words
    ],
)
def test_words_that_are_not_the_users_insult_pass(engine: PolicyEngine, chosen: str) -> None:
    assert _reason(engine, chosen) is None


def test_a_word_of_another_languages_list_is_not_read_in_this_language(engine: PolicyEngine) -> None:
    answer = "Le train part à huit heures."
    assert _reason(engine, f"{answer}\n\nIl a souvent du retard le matin.", answer) is None  # English "retard"


def test_a_word_the_model_already_wrote_is_not_the_users(engine: PolicyEngine) -> None:
    answer = "The old docs called this step total shit."
    assert _reason(engine, f"{answer}\n\nThen restart the worker.", answer) is None


def test_an_unknown_language_fails_at_load() -> None:
    with pytest.raises(PolicyError, match="unknown language"):
        PolicyEngine({"version": "t", "word_lists": {"languages": ["klingon"]}})
