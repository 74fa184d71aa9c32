"""End to end with a tiny model: the wheel turns, and the users' edit rate falls because the model changed.

The tiny model opens two answers in three with "Sure!"; the simulated users delete that opener
(the default house-style habit). One DPO run on revolution 0's edits removes the habit, so
revolution 1 has nothing left to correct (no trigger) and revolution 2 confirms the new level.
A run the gates reject leaves serving on the version it had.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from flywheel.revolutions import WheelOptions, run_revolutions
from flywheel.simulation import HOUSE_STYLE
from tests.support.serving import chatty_model
from tests.support.synthetic import prompt_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _options(tmp_path: Path, revolutions: int, **trainer: object) -> WheelOptions:
    prompts = tuple(prompt_for(index) + "\n" for index in range(480))
    model = chatty_model(tmp_path / "model", list(prompts))  # opens 2 answers in 3 with "Sure!"
    return WheelOptions(
        revolutions=revolutions,
        directory=tmp_path / "wheel",
        users=40,
        prompts_per_user=12,
        threshold=40,
        max_new_tokens=16,
        policy=HOUSE_STYLE,  # users delete the "Sure!" opener: the same habit in every revolution
        history_events=0,  # no logged history: the tiny model's users alone cross the threshold
        history_coding_events=0,
        prompts=prompts,
        base_reference=str(model),
        trainer={
            "base_model": str(model),
            "device": "cpu",
            "max_steps": 2,
            "batch_size": 8,
            "learning_rate": 1e-3,
            "max_length": 64,
            "max_prompt_length": 32,
            "lora": {"target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]},
            **trainer,
        },
    )


def test_the_wheel_lowers_the_edit_rate_over_two_revolutions(tmp_path: Path) -> None:
    options = _options(tmp_path, revolutions=2)
    output = io.StringIO()
    revolutions = run_revolutions(Console(file=output, width=200), options)
    printed = output.getvalue()
    print(printed)  # the revolution lines and the impact table, for -s
    assert [r.revolution for r in revolutions] == [0, 1, 2], printed
    first, second, third = revolutions
    assert first.model_version == "base" and first.pairs >= 10, printed
    assert first.decision.startswith("promoted") and first.run_id == second.model_version, printed
    assert second.edit_rate < first.edit_rate, printed
    assert third.edit_rate <= second.edit_rate, printed
    # The fall is larger than the noise: the intervals of the first and last revolution do not overlap.
    assert third.edit_rate_high < first.edit_rate_low, printed
    assert second.decision.startswith(("no trigger", "promoted", "rejected")), printed
    report = json.loads((tmp_path / "wheel" / "report.json").read_text())
    base_figures, last_figures = report["impact"][0]["rates"], report["impact"][-1]["rates"]
    # Not a broken model that users stopped editing: regenerations and thumbs-down did not rise.
    for signal in ("regenerate", "thumbs_down"):
        assert last_figures[signal]["count"] / report["impact"][-1]["interactions"] <= (
            base_figures[signal]["count"] / report["impact"][0]["interactions"]
        ), printed
    assert [r["model_version"] for r in report["revolutions"]] == [r.model_version for r in revolutions]
    assert {"interactions", "edit_rate", "edit_rate_low", "edit_rate_high", "pairs", "decision"} <= set(
        report["revolutions"][0]
    )
    assert report["impact"][0]["model_version"] == "base"


def test_a_rejected_run_leaves_serving_on_the_old_version(tmp_path: Path) -> None:
    # More eval evidence than 480 prompts can give: the gates must reject (named for both trainer versions).
    options = _options(tmp_path, revolutions=1, gates={"min_eval_pairs": 10_000, "min_eval_prompts": 10_000})
    output = io.StringIO()
    first, second = run_revolutions(Console(file=output, width=200), options)
    printed = output.getvalue()
    assert first.decision.startswith("rejected") and "serving keeps base" in first.decision, printed
    assert first.reasons, printed
    assert second.model_version == "base", printed
