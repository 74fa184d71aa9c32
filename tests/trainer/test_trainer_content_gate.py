"""The base's answer plus something that says nothing new: character similarity promotes it.

Where users lengthen short answers, any English appended to the base's answer (generic filler, a
canned sentence, a sentence in another language, even spaces and dots) aligns with some of the
correction's letters and spaces, so the candidate is "closer" on every prompt and clears the
similarity figures. Each case builds the answers by hand, runs the real figures, comparison and
gates, and checks that the content-word gate rejects it, and that a candidate writing what users
added is promoted.
"""

from __future__ import annotations

import pytest

from flywheel.trainer.config import GateSettings, TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures
from flywheel.trainer.gates import NO_GAIN, apply_gates
from flywheel.trainer.generation import Answer, content_overlap, content_words

SUBJECTS = [
    ("France", "capital", "Paris sits on the Seine and has been the seat of government since the middle ages"),
    ("photosynthesis", "chlorophyll", "plants turn light, water and carbon dioxide into glucose and oxygen"),
    ("binary search", "sorted array", "each comparison halves the remaining range, so it needs log n steps"),
    ("list comprehension", "brackets", "a for loop and an optional if clause folded into one expression"),
    ("volcano", "magma", "molten rock rises through vents when pressure in the chamber builds up"),
    ("mortgage", "interest rate", "the bank charges a yearly percentage on the outstanding loan balance"),
    ("guitar", "chords", "press the strings behind the frets after tuning each one to pitch"),
    ("marathon", "training", "build weekly mileage slowly at an easy conversational pace"),
]
PROMPTS = 40
FILLERS = [
    "It is worth keeping in mind that there are many further aspects one could mention here as well.",
    "There is of course a great deal more one could say about this, depending on what you need.",
    "As always, it depends on your situation, so take this as a general overview for now only.",
]


def _base(index: int) -> str:
    topic, detail, _ = SUBJECTS[index % len(SUBJECTS)]
    return f"{topic.capitalize()}: {detail} (case {index})."


def _wanted(index: int) -> str:
    return f"{_base(index)} In short, {SUBJECTS[index % len(SUBJECTS)][2]}."


def _prompts() -> list[HeldOutPrompt]:
    return [
        HeldOutPrompt(
            key=f"k{i:02d}",
            text=f"Tell me about {SUBJECTS[i % len(SUBJECTS)][0]} ({i})",
            prompt=f"Tell me about {SUBJECTS[i % len(SUBJECTS)][0]} ({i})",
            corrections=[_wanted(i)],
            corrected=[_base(i)],
        )
        for i in range(PROMPTS)
    ]


def _measured(texts: list[str]) -> Measurement:
    answers = [Answer(text, finished=True) for text in texts]
    return Measurement(answers=answers, pair_logprobs=[], positives_log_likelihood=-2.0, eval_pairs=0, eval_positives=0)


def _reasons(candidate: list[str]) -> tuple[list[str], float]:
    # No positives here: forgetting is not what this judges (test_trainer_forgetting_unseen.py does).
    settings, prompts = TrainerSettings(gates=GateSettings(require_forgetting_check=False)), _prompts()
    base, after = _measured([_base(i) for i in range(PROMPTS)]), _measured(candidate)
    comparison = compare(base, after, prompts, settings)
    before_figures, after_figures = figures(base, prompts, settings), figures(after, prompts, settings)
    reasons = apply_gates(before_figures, after_figures, comparison, settings.gates)
    return reasons, comparison.similarity_gain.low


CASES = {
    "generic filler": lambda i: f"{_base(i)} {FILLERS[i % len(FILLERS)]}",
    "a canned apology": lambda i: f"{_base(i)} I'm sorry, but I can't say more about that request right now.",
    "a sentence in French": lambda i: f"{_base(i)} En bref, c'est un sujet important dont on parlerait longuement.",
    "spaces and dots": lambda i: _base(i) + " ." * 12,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_bases_answer_lengthened_with_nothing_new_is_no_gain(name: str) -> None:
    reasons, similarity_low = _reasons([CASES[name](i) for i in range(PROMPTS)])
    # Character similarity alone would promote it: that is what this gate is for.
    assert similarity_low > TrainerSettings().gates.min_similarity_gain
    content = [r for r in reasons if r.startswith(f"{NO_GAIN}: content words")]
    assert content, reasons
    assert "does not clear +0.000" in content[0]


def test_a_candidate_writing_what_users_added_is_promoted() -> None:
    reasons, _ = _reasons([_wanted(i) for i in range(PROMPTS)])
    assert reasons == []


def test_half_of_what_users_added_is_still_a_gain() -> None:
    def half(i: int) -> str:
        words = SUBJECTS[i % len(SUBJECTS)][2].split()
        return f"{_base(i)} In short, {' '.join(words[: len(words) // 2])}."

    assert _reasons([half(i) for i in range(PROMPTS)])[0] == []


def test_content_words_leave_out_stop_words_and_case() -> None:
    assert content_words("The Seine and THE seine, of Paris") == {"seine": 2, "paris": 1}


def test_content_overlap_counts_repeats_and_costs_every_extra_word() -> None:
    assert content_overlap("Paris Seine", "Paris Seine") == 1.0
    assert content_overlap("", "") == 1.0
    assert content_overlap("the of and", "a an the") == 1.0  # no content words on either side
    assert content_overlap("", "Paris") == 0.0
    assert content_overlap("Rome", "Paris") == 0.0
    # One of two words shared, the answer says one word more: precision 1/2, recall 1/2.
    assert content_overlap("Paris Rome", "Paris Seine") == pytest.approx(0.5)
    # A word repeated counts once per time the target has it.
    assert content_overlap("Paris Paris", "Paris") == pytest.approx(2 * 0.5 * 1.0 / 1.5)
