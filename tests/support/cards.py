"""A model card for hand-made figures: no model, no catalog (the card's own tests read it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flywheel.trainer.candidate import Candidate
from flywheel.trainer.card import model_card
from flywheel.trainer.config import TrainerConfig, TrainerSettings
from flywheel.trainer.conversation import Formatting
from flywheel.trainer.dataset import HeldPairs, PairSplit, ShareCap
from flywheel.trainer.evaluate import HeldOutPrompt, Measurement, compare, figures
from flywheel.trainer.events import TrainingResult, TrainingTrigger
from flywheel.trainer.generation import Answer
from flywheel.trainer.split_rebuild import Rebuilds


def card_for(
    result: TrainingResult, split: PairSplit | None = None, rebuilds: Rebuilds | None = None, **candidate: Any
) -> dict[str, Any]:
    """The card of ``result``: its figures, ``split`` (empty by default), ``candidate`` fields over the defaults."""
    assert result.before is not None and result.after is not None and result.comparison is not None
    fields: dict[str, Any] = {
        "model": None,
        "formatting": Formatting(chat=True),
        "train_pairs": result.train_pairs,
        "cap": ShareCap(max_prompt_share=0.05, max_user_share=0.1),
        "eval_prompts": result.eval_prompts,
        "eval_positives": 0,
        "before": result.before,
        "after": result.after,
        "comparison": result.comparison,
        "reasons": result.reasons,
        "timings_s": {},
    }
    trigger = TrainingTrigger(
        trigger_id="t",
        table="flywheel.dpo_pairs",
        table_uuid="u",
        snapshot_id=1,
        snapshot_committed_at=datetime(2026, 12, 1, tzinfo=UTC),
        previous_snapshot_id=None,
        positives_table="flywheel.positive_examples",
        positives_snapshot_id=None,
        threshold=100,
        new_pairs=140,
        total_pairs=140,
        sequence=1,
    )
    split = split or PairSplit(train=[], eval=[])
    held = HeldPairs(split.train + split.eval, 0, None)
    return model_card(
        TrainerConfig(),
        trigger,
        result,
        Candidate(**{**fields, **candidate}),
        split,
        held,
        None,
        "tiny",
        "cpu",
        ["v1"],
        rebuilds,
    )


def plain_result(answers: list[str], wanted: list[str], train_pairs: int = 100) -> TrainingResult:
    """A promoted run's result whose base answered ``answers`` and whose candidate wrote ``wanted``."""
    settings = TrainerSettings()
    prompts = [
        HeldOutPrompt(key=f"k{i}", text=f"Question {i}", prompt=f"Question {i}", corrections=[text], corrected=[base])
        for i, (base, text) in enumerate(zip(answers, wanted, strict=True))
    ]

    def measured(texts: list[str]) -> Measurement:
        return Measurement([Answer(t, True) for t in texts], [], -2.0, eval_pairs=0, eval_positives=0)

    base, candidate = measured(answers), measured(wanted)
    return TrainingResult(
        trigger_id="t",
        run_id="rt",
        status="promoted",
        snapshot_id=1,
        snapshot_tag="train-rt",
        base_model="tiny",
        adapter_uri=None,
        model_card_uri=None,
        train_pairs=train_pairs,
        eval_pairs=len(prompts),
        eval_prompts=len(prompts),
        before=figures(base, prompts, settings),
        after=figures(candidate, prompts, settings),
        comparison=compare(base, candidate, prompts, settings),
        forgetting_pct=None,
        duration_s=1.0,
        finished_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
