"""The positives-only stream: answers users liked as they were, which no DPO pair of the demo holds."""

from __future__ import annotations

import orjson

from flywheel.liked import CONCEPTS, liked_events
from flywheel.revolutions import KEEP_CODE_ONLY
from flywheel.sample import _TOPICS, coding_events, coding_prompts, keep_code_only, sample_events


def test_liked_answers_are_left_as_they_are_and_thumbed_up_or_read() -> None:
    first, second = list(liked_events(200)), list(liked_events(200))
    assert first == second  # deterministic
    events = [orjson.loads(value) for _, value in first]
    assert {e["signal"] for e in events} == {"thumbs_up", "view"}
    liked = [e for e in events if e["signal"] == "thumbs_up"]
    assert 100 < len(liked) < 140  # about 0.6 of 200: the positives the forgetting guard reads
    assert {e["prompt"] for e in liked} == {prompt for prompt, _ in CONCEPTS}  # every question liked
    for event in events:
        # The users' habit keeps code and deletes prose: an answer without code needs no edit.
        assert "```" not in event["response"] and keep_code_only(event["response"]) == event["response"]
        assert KEEP_CODE_ONLY.correct(event["prompt"], event["response"]) is None
        assert event["final_user_edit"] is None


def test_no_pair_of_the_demo_can_hold_a_liked_answer() -> None:
    answers = {answer for _, answer in CONCEPTS}
    assert len(answers) == len(CONCEPTS)
    # Every answer the other streams show users, and every edit they make of one, is another text.
    shown = {answer for _, answer in coding_prompts()} | {response for _, response in _TOPICS}
    edited = set()
    for _, value in [*coding_events(600), *sample_events(600)]:
        try:
            event = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            shown.add(str(event.get("response")))
            edited.add(str(event.get("final_user_edit")))
    assert not answers & shown and not answers & edited
    assert not {prompt for prompt, _ in CONCEPTS} & {prompt for prompt, _ in coding_prompts()}
