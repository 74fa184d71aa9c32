"""The held-out split: what counts as one prompt, what links pairs into one group, and the share held out."""

from __future__ import annotations

from typing import Any

from flywheel.schemas.tables import DPO_PAIRS, contracts
from flywheel.trainer.dataset import OPTIONAL_PAIR_COLUMNS, cap_training_set, pair_prompt_key, prompt_key, split_pairs
from flywheel.trainer.split import DEGENERATE_RULE
from tests.support.cards import card_for, plain_result


def _row(
    index: int, prompt: str, chosen: str, turns: list[dict[str, str]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "pair_id": f"p{index:05d}",
        "prompt": prompt,
        "chosen": chosen,
        "rejected": "base answer",
        "user_id": f"u{index}",
        "turns": turns or [],
        **extra,
    }


def _sides(split: Any, key: Any) -> tuple[set[str], set[str]]:
    return {key(row) for row in split.train}, {key(row) for row in split.eval}


def test_end_marks_quotes_and_spaces_before_them_make_no_other_prompt() -> None:
    variants = [
        "How do I reverse a string in Python?",
        "How do I reverse a string in Python",
        "how do i reverse a string in python ?",
        "How do I reverse a string in Python??",
        "How do I reverse a string in Python.",
        "\u201cHow do I reverse a string in Python?\u201d",
        "  How do I reverse a string in Python?\n",
    ]
    assert len({prompt_key(text) for text in variants}) == 1
    # Punctuation inside the text still tells prompts apart.
    assert prompt_key("What is 2+2?") != prompt_key("What is 2-2?")
    assert prompt_key("Don\u2019t stop") == prompt_key("don't stop")

    # Each task asked with and without its question mark, corrected differently: one side per task.
    rows = []
    for task in range(200):
        question = f"Explain topic number {task} in one paragraph"
        rows += [_row(2 * task, question + "?", f"Topic {task}: A"), _row(2 * task + 1, question, f"Topic {task}: B")]
    train, held = _sides(split_pairs(rows, 0.2), lambda row: row["prompt"].rstrip("?"))
    assert held and not train & held


def test_a_question_under_another_system_message_is_on_its_sides_side() -> None:
    terse = [{"role": "system", "content": "You are terse."}]
    rows = []
    for article in range(200):
        question = f"Summarise article {article}"
        rows += [_row(2 * article, question, f"Summary {article} (v1)", terse), _row(2 * article + 1, question, "v2")]
    split = split_pairs(rows, 0.2)
    train, held = _sides(split, lambda row: row["prompt"])
    assert held and not train & held
    # Each stays its own prompt for the evaluation: the system message changes what is asked of the model.
    assert pair_prompt_key(rows[0]) != pair_prompt_key(rows[1])
    for row in split.eval:
        assert split.holds_out(row["prompt"], 0.2)


def test_a_follow_up_and_its_first_turn_are_on_one_side() -> None:
    rows = []
    for animal in range(200):
        first, corrected = f"Write a short poem about animal {animal}", f"Poem {animal}, as the user corrected it"
        conversation = [{"role": "user", "content": first}, {"role": "assistant", "content": corrected}]
        rows += [_row(2 * animal, first, corrected), _row(2 * animal + 1, "Now make it rhyme", f"Rhymes {animal}")]
        rows[-1]["turns"] = conversation
    split = split_pairs(rows, 0.2)
    held_threads = {row["turns"][0]["content"] for row in split.eval if row["turns"]}
    assert held_threads and not held_threads & {row["prompt"] for row in split.train}
    # Follow-ups after different conversations are still different prompts, in groups of their own.
    assert len({pair_prompt_key(row) for row in rows}) == 400


def test_pairs_of_one_thread_are_on_one_side() -> None:
    # Unrelated-looking prompts of one thread (its stored turns left out): one group per thread.
    rows = [_row(i, f"Question {i} about anything", f"answer {i}", thread_id=f"thread-{i // 4}") for i in range(400)]
    split = split_pairs(rows, 0.2)
    train, held = _sides(split, lambda row: row["thread_id"])
    assert held and not train & held
    assert len(split.eval) % 4 == 0


def test_the_trainer_reads_the_pairs_thread() -> None:
    names = {field.name for field in contracts()[DPO_PAIRS].schema.fields}
    assert "thread_id" in OPTIONAL_PAIR_COLUMNS and set(OPTIONAL_PAIR_COLUMNS) <= names


def test_the_prompt_share_cap_counts_a_follow_up_per_conversation() -> None:
    rows = []
    for city in range(400):  # 400 different conversations, each ending in the same follow-up
        turns = [
            {"role": "user", "content": f"Write a paragraph about city {city}"},
            {"role": "assistant", "content": f"City {city} is ..."},
        ]
        rows.append(_row(city, "Make it shorter.", f"City {city}: short.", turns))
    rows += [_row(1000 + i, f"Other question {i}", f"c{i}") for i in range(600)]

    kept, cap = cap_training_set(rows, 0.05, 0.1)

    assert cap.dropped_for_prompt == 0 and len(kept) == 1000
    # One conversation asked 100 times is still one prompt.
    flood = [{**rows[0], "pair_id": f"f{i}", "user_id": f"v{i}"} for i in range(100)]
    kept, cap = cap_training_set(rows + flood, 0.05, 0.1)
    assert cap.dropped_for_prompt > 0 and cap.largest_prompt_share <= 0.05


def test_pairs_stating_no_preference_are_left_out_and_counted() -> None:
    rows = [_row(i, f"Question {i}", f"a good answer {i}") for i in range(40)]
    rows += [
        {**_row(100, "Hi", ""), "rejected": "Hello!"},
        {**_row(101, "Hey", "  "), "rejected": "Hello!"},
        {**_row(102, "Yo", "Same text"), "rejected": "Same text"},
        {**_row(103, "Hey there", "Hello  there."), "rejected": "hello there."},
    ]

    split = split_pairs(rows, 0.2)

    assert split.degenerate == 4 and len(split.train) + len(split.eval) == 40
    assert not {row["pair_id"] for row in split.train + split.eval} & {"p00100", "p00101", "p00102", "p00103"}
    # A case-only edit is no preference; an edited end mark is one.
    assert split_pairs([{**_row(0, "Hi", "Hello!"), "rejected": "Hello."}], 0.2).degenerate == 0
    card = card_for(plain_result(["x"] * 3, ["y"] * 3), split)
    assert card["dataset"]["degenerate_pairs"] == {"pairs": 4, "rule": DEGENERATE_RULE}


def test_the_held_out_share_stays_near_the_fraction_when_groups_are_large() -> None:
    # 70 prompts chained into one group by one shared 42-character answer, and 30 singletons.
    for seed in range(50):
        rows = [
            _row(i, f"Question {seed}-{i} about chemistry", "I'm sorry, I can't help with that request.")
            for i in range(70)
        ]
        rows += [_row(i, f"Other question {seed}-{i}", f"ans {i}") for i in range(70, 100)]
        split = split_pairs(rows, 0.2)
        assert 0.1 <= split.eval_share <= 0.3, (seed, split.eval_share)
    # Two prompts of 10 and 90 pairs: the small one is held out, whichever comes first.
    rows = [_row(i, "What is 2+2?", f"four {i}") for i in range(10)] + [
        _row(10 + i, "What is 3+3?", f"six {i}") for i in range(90)
    ]
    assert len(split_pairs(rows, 0.2).eval) == 10
    # Every group larger than twice the target: the smallest is held out, never every group.
    rows = [_row(i, "What is 2+2?", f"four {i}") for i in range(30)] + [
        _row(30 + i, "What is 3+3?", f"six {i}") for i in range(40)
    ]
    split = split_pairs(rows, 0.1)
    assert len(split.eval) == 30 and split.eval_share == 30 / 70
    assert split_pairs(rows[:30], 0.2).eval == []  # one prompt cannot be split
    card = card_for(plain_result(["x"] * 3, ["y"] * 3), split)
    assert card["split"]["achieved_eval_fraction"] == 30 / 70


def test_the_card_counts_the_prompts_trained_on_not_the_train_sides_strings() -> None:
    rows = [_row(i, f"Question {i}?", f"a{i}") for i in range(100)]
    rows += [{**row, "pair_id": row["pair_id"] + "x", "prompt": row["prompt"].upper()} for row in rows]
    split = split_pairs(rows, 0.2)
    card = card_for(plain_result(["x"] * 3, ["y"] * 3, train_pairs=10), split, train_pairs=10, train_prompts=10)
    assert card["split"]["train_prompts"] == 10 and card["dataset"]["train_pairs"] == 10
    assert card["split"]["train_side_pairs"] == len(split.train) == 160
    assert card["split"]["achieved_eval_fraction"] == 0.2
