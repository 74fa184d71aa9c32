"""Python code that parses: the rule on single answers, the figures base vs candidate, and the guard.

Answers are written by hand, so each case says exactly what it tests: a real breach, answers
without code, a tie, and noise the guard must not take for a fall.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures
from flywheel.trainer.events import Comparison, ModelFigures, TrainingResult
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.generation import CODE_RULE, Answer, python_code_parses
from flywheel.trainer.verdict import detail_lines, headline
from tests.support.cards import card_for

GOOD = "Log it:\n```python\nimport logging\n\nlogger = logging.getLogger(__name__)\nlogger.info('done')\n```\nDone."
BROKEN = "Log it:\n```python\ndef report(:\n    logger.info('done')\n```\nDone."
PROSE = "Replace print with logger.info and configure logging once at start-up."
PROMPTS = 40


def test_only_closed_python_blocks_are_judged() -> None:
    assert python_code_parses(GOOD) is True
    assert python_code_parses(BROKEN) is False
    assert python_code_parses(PROSE) is None  # no code: not judged, neither a pass nor a failure
    assert python_code_parses("```bash\nls -l (\n```") is None  # another language: skipped
    assert python_code_parses("```\nx = (\n```") is None  # untagged: skipped
    assert python_code_parses("```python\nx = [1,\n") is None  # cut off at the budget: the truncation guard's
    # Every Python block must parse; the tag is case-insensitive and may carry attributes.
    assert python_code_parses(f"{GOOD}\n\n```Python title=a.py\nprint 'x'\n```") is False
    assert python_code_parses("```py\nx = 1\n```\n```js\nlet x = (;\n```") is True
    # A block indented under a list item parses once its common indent is removed.
    assert python_code_parses("1. Define it:\n   ```python\n   def f():\n       return 1\n   ```\n2. Call it.") is True
    # Valid syntax with a compiler warning (an invalid escape) parses; a null byte does not.
    assert python_code_parses('```python\npattern = "\\d+"\n```') is True
    assert python_code_parses('```python\nx = "\x00"\n```') is False


def _measured(texts: list[str]) -> Measurement:
    answers = [Answer(text, finished=True) for text in texts]
    return Measurement(answers=answers, pair_logprobs=[], positives_log_likelihood=-2.0, eval_pairs=0, eval_positives=0)


def _evaluate(
    base: list[str], candidate: list[str], users: str = GOOD
) -> tuple[ModelFigures, ModelFigures, Comparison, list[str]]:
    """Figures of both, their comparison, and the code guard's reasons under the default gates."""
    settings = TrainerSettings()
    prompts = [
        HeldOutPrompt(
            key=f"k{i}", text=f"Log the result {i}", prompt=f"Log it {i}", corrections=[users], corrected=[PROSE]
        )
        for i in range(len(base))
    ]
    measured_base, measured_candidate = _measured(base), _measured(candidate)
    before, after = figures(measured_base, prompts, settings), figures(measured_candidate, prompts, settings)
    comparison = compare(measured_base, measured_candidate, prompts, settings)
    reasons = apply_gates(before, after, comparison, settings.gates)
    return before, after, comparison, [reason for reason in reasons if reason.startswith("guard code")]


def _result(before: ModelFigures, after: ModelFigures, comparison: Comparison, reasons: list[str]) -> TrainingResult:
    return TrainingResult(
        trigger_id="t",
        run_id="rt",
        status="rejected" if reasons else "promoted",
        reasons=reasons,
        snapshot_id=1,
        snapshot_tag="train-rt",
        base_model="tiny",
        adapter_uri=None,
        model_card_uri=None,
        train_pairs=100,
        eval_pairs=PROMPTS,
        eval_prompts=PROMPTS,
        before=before,
        after=after,
        comparison=comparison,
        forgetting_pct=None,
        duration_s=1.0,
        finished_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_a_candidate_whose_code_stops_parsing_breaches_the_guard() -> None:
    before, after, comparison, guard = _evaluate([GOOD] * PROMPTS, [BROKEN] * 20 + [GOOD] * 20)
    assert before.code_parse_rate is not None and after.code_parse_rate is not None
    assert (before.code_parse_rate.value, after.code_parse_rate.value) == (1.0, 0.5)
    assert after.code_answers == PROMPTS and after.code_parse_rate.high < 0.7  # a Wilson interval, not a point
    change = comparison.code_parse_change
    assert change is not None and change.value == pytest.approx(-0.5) and change.high < -0.05
    assert comparison.code_prompts == PROMPTS
    assert len(guard) == 1 and guard[0].startswith("guard code: Python code that parses 100% -> 50%; on the 40 ")
    result = _result(before, after, comparison, guard)
    assert "; code parses 100% -> 50%; length x" in headline(result) and headline(result).endswith("REJECTED")
    # The closer share with its interval's own ends: a Wilson interval near 0 or 1 is not symmetric.
    share = comparison.closer_share
    assert f"({share.value * 100:.0f}%, 95% CI {share.low * 100:.0f}-{share.high * 100:.0f}%)" in headline(result)
    assert any(line.startswith("  Python code that parses: 100% of 40 answers") for line in detail_lines(result))
    code = json.loads(json.dumps(card_for(result)["metrics"]["code"]))
    assert code["status"] == "measured" and code["rule"] == CODE_RULE and code["paired_prompts"] == PROMPTS
    assert (code["before"]["value"], code["after"]["value"], code["paired_change"]["value"]) == (1.0, 0.5, -0.5)


def test_answers_without_code_are_not_measured_and_guard_nothing() -> None:
    before, after, comparison, guard = _evaluate([PROSE] * PROMPTS, [PROSE] * PROMPTS)
    assert (before.code_parse_rate, after.code_parse_rate, before.code_answers) == (None, None, 0)
    assert comparison.code_parse_change is None and comparison.code_prompts == 0 and guard == []
    result = _result(before, after, comparison, [])
    assert "code parses" not in headline(result)
    assert "  Python code that parses: not measured (no held-out answer had a closed ```python block)" in (
        detail_lines(result)
    )
    # A candidate that stops writing code has nothing to pair; where users asked for prose, nothing is lost.
    _, dropped, switched, guard = _evaluate([GOOD] * PROMPTS, [PROSE] * PROMPTS, users=PROSE)
    assert dropped.code_parse_rate is None and switched.code_parse_change is None and guard == []
    assert (switched.code_expected, switched.code_dropped) == (0, 0)


def test_code_users_and_the_base_wrote_cannot_vanish_from_the_candidate() -> None:
    # Broken code in an untagged block is not judged (it may be shell or output): dropping the tag
    # must not hide it where users and the base wrote tagged Python.
    untagged = BROKEN.replace("```python", "```")
    assert python_code_parses(untagged) is None
    for answers in ([untagged] * PROMPTS, [PROSE] * PROMPTS):
        _, after, comparison, guard = _evaluate([GOOD] * PROMPTS, answers)
        assert after.code_parse_rate is None and comparison.code_parse_change is None
        assert (comparison.code_expected, comparison.code_dropped) == (PROMPTS, PROMPTS)
        assert guard == [
            "guard code: no Python code on 40 of the 40 prompts where users and the base wrote some "
            "(100%, 95% interval 91%..100%), beyond 5%"
        ]
    # A few prose answers among code (2 of 40) are within the allowance: the interval's low end decides.
    _, _, comparison, guard = _evaluate([GOOD] * PROMPTS, [PROSE] * 2 + [GOOD] * 38)
    assert comparison.code_dropped == 2 and guard == []
    code = card_for(_result(*_evaluate([GOOD] * PROMPTS, [PROSE] * PROMPTS)[:3], []))["metrics"]["code"]
    assert (code["expected_prompts"], code["without_code"]) == (PROMPTS, PROMPTS)


def test_a_tie_and_noise_do_not_breach_the_guard() -> None:
    answers = [BROKEN] * 10 + [GOOD] * 30
    before, after, tie, guard = _evaluate(answers, list(answers))
    assert tie.code_parse_change is not None and (tie.code_parse_change.low, tie.code_parse_change.high) == (0, 0)
    assert before.code_parse_rate == after.code_parse_rate and guard == []
    # Two fixed, three broken: a net fall of one answer in 40 is noise.
    base = [BROKEN] * 2 + [GOOD] * 38
    candidate = [GOOD] * 2 + [BROKEN] * 3 + [GOOD] * 35
    _, _, noise, guard = _evaluate(base, candidate)
    assert noise.code_parse_change is not None and noise.code_parse_change.value == pytest.approx(-1 / 40)
    assert noise.code_parse_change.low < 0 < noise.code_parse_change.high and guard == []
    # Three broken and none fixed is a fall, but not one beyond 5 points that the data can tell from chance.
    _, _, small, guard = _evaluate([GOOD] * PROMPTS, [BROKEN] * 3 + [GOOD] * 37)
    assert small.code_parse_change is not None and small.code_parse_change.high >= -0.05 and guard == []
