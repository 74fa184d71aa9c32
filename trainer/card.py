"""The model card: everything needed to reproduce and judge one run, written last (the completion marker).

``card_version`` 2: config, data snapshot and tag, the split rule, the held-out prompt-set hash and
how many held-out prompts earlier runs held out (the keys themselves are in the run's ``split.json``),
every figure with its 95% interval, before/after samples, the decision with its reasons, and the
``result`` event embedded verbatim. Figures added since (Python code that parses) are optional
fields: a card without them was written before they were measured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel.trainer.config import TrainerConfig
from flywheel.trainer.dataset import HeldPairs
from flywheel.trainer.events import Interval, TrainingResult, TrainingTrigger
from flywheel.trainer.generation import CODE_RULE
from flywheel.trainer.split import DEGENERATE_RULE, SPLIT_RULE, PairSplit
from flywheel.trainer.split_rebuild import Rebuilds

if TYPE_CHECKING:
    from flywheel.trainer.candidate import Candidate

CARD_VERSION = 2
HYPERPARAMETERS = {
    "lora",
    "loss_type",
    "loss_weights",
    "beta",
    "learning_rate",
    "max_steps",
    "num_epochs",
    "batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "max_prompt_length",
    "seed",
    "eval_max_new_tokens",
    "max_prompt_share",
    "max_user_share",
}


def model_card(
    settings: TrainerConfig,
    trigger: TrainingTrigger,
    result: TrainingResult,
    candidate: Candidate,
    split: PairSplit,
    held: HeldPairs,
    positives_snapshot_id: int | None,
    reference: str,
    device: str,
    policy_versions: list[str],
    rebuilds: Rebuilds | None = None,
) -> dict[str, Any]:
    """The card of one finished run (``rebuilds``: the earlier runs' split records it rebuilt, or could not)."""
    rebuilds = rebuilds or Rebuilds()
    config = settings.trainer
    comparison = candidate.comparison
    forgetting = (
        {
            "status": "measured",
            "pct": comparison.forgetting_pct,
            "positives": candidate.eval_positives,
            # Those whose answer is no chosen or rejected answer of the training set: the run
            # pushed the others on purpose, so only these say whether it forgot what users liked.
            # The gate judges these alone, and counts fewer than min_unseen_positives as missing evidence.
            "unseen": {
                "positives": comparison.positives_unseen,
                "pct": comparison.forgetting_pct_unseen,
                "interval": comparison.forgetting_unseen.model_dump() if comparison.forgetting_unseen else None,
                "answers": comparison.positive_groups_unseen,
            },
        }
        if comparison.forgetting_pct is not None
        else {"status": "no held-out positives: forgetting not measured (missing evidence, not a pass)"}
    )
    before, after = candidate.before, candidate.after
    code: dict[str, Any] = (
        {
            "status": "measured",
            "rule": CODE_RULE,
            "before": _dump(before.code_parse_rate),
            "after": _dump(after.code_parse_rate),
            "answers_with_code": {"before": before.code_answers, "after": after.code_answers},
            "paired_change": _dump(comparison.code_parse_change),
            "paired_prompts": comparison.code_prompts,
            # Prompts where users and the base wrote Python code, and of those, where the candidate wrote none.
            "expected_prompts": comparison.code_expected,
            "without_code": comparison.code_dropped,
        }
        if before.code_parse_rate is not None or after.code_parse_rate is not None or comparison.code_expected
        else {"status": "no held-out answer had Python code: not measured", "rule": CODE_RULE}
    )
    return {
        "card_version": CARD_VERSION,
        "run_id": result.run_id,
        "status": result.status,
        "reasons": result.reasons,
        "base_model": config.base_model,
        "base_model_reference": reference,
        "device": device,
        "formatting": "chat template" if candidate.formatting.chat else "plain text",
        "adapter_uri": result.adapter_uri,
        "dataset": {
            "table": trigger.table,
            "snapshot_id": trigger.snapshot_id,
            "snapshot_tag": result.snapshot_tag,
            "previous_trigger_snapshot_id": trigger.previous_snapshot_id,
            # Pairs of the snapshot a quarantine, revert or delete removed while the trigger waited: not trained on.
            "removed_since_trigger": {"pairs": held.removed, "checked_snapshot_id": held.checked_snapshot_id},
            # Pairs stating no preference (empty chosen, or chosen == rejected): neither trained on nor held out.
            "degenerate_pairs": {"pairs": split.degenerate, "rule": DEGENERATE_RULE},
            # Train pairs whose two sides were the same tokens once cut to max_length: not trained on.
            "truncated_alike_pairs": {"pairs": candidate.truncated_alike, "max_length": config.max_length},
            "positives_table": trigger.positives_table,
            "positives_snapshot_id": positives_snapshot_id,
            "positives_snapshot_id_at_trigger": trigger.positives_snapshot_id,
            "train_pairs": result.train_pairs,
            "eval_pairs": result.eval_pairs,
            "new_pairs": trigger.new_pairs,
            "total_pairs": trigger.total_pairs,
            "mix_positives": config.mix_positives,
            "share_cap": {
                "max_prompt_share": candidate.cap.max_prompt_share,
                "max_user_share": candidate.cap.max_user_share,
                "dropped_for_prompt": candidate.cap.dropped_for_prompt,
                "dropped_for_user": candidate.cap.dropped_for_user,
                "largest_prompt_share": candidate.cap.largest_prompt_share,
                "largest_user_share": candidate.cap.largest_user_share,
            },
        },
        "split": {
            "by": "prompt or chosen answer (linked groups)",
            "rule": SPLIT_RULE,
            "eval_fraction": config.eval_fraction,
            # Whole groups are held out, so the share achieved is near the fraction, not on it.
            "achieved_eval_fraction": split.eval_share,
            # What was trained on (after max_train_pairs and the share caps), not the train side's raw prompts.
            "train_prompts": candidate.train_prompts,
            "train_side_pairs": len(split.train),
            "eval_prompts": candidate.eval_prompts,
            "eval_prompt_set_hash": split.eval_prompt_set_hash,
            # The earlier runs whose recorded sides this split kept (the alias's runs, the latest run),
            # and those named without a record (runs before split records): their sides were not kept.
            "previous": {
                "runs": [record.run_id for record in split.previous.records],
                "unrecorded_runs": list(split.previous.unrecorded),
                # Runs before split records whose split this run rebuilt from their tagged snapshot
                # (kept since, in their split.json), and why the others could not be (not kept).
                "rebuilt_runs": list(rebuilds.rebuilt),
                "not_rebuilt": dict(rebuilds.not_rebuilt),
            },
            # Held-out prompts by where they were before: held out by an earlier run, new to every
            # earlier split, or trained on by one (a group that now links it to a held-out prompt).
            "carried_eval_prompts": split.carried_eval_prompts,
            "new_eval_prompts": split.new_eval_prompts,
            "eval_prompts_trained_before": split.eval_prompts_trained_before,
            # Groups no earlier split holds a prompt of: split afresh, near eval_fraction of their pairs.
            "new_groups": {
                "pairs": split.new_group_pairs,
                "eval_pairs": split.new_group_eval_pairs,
                "eval_share": split.new_group_eval_pairs / split.new_group_pairs if split.new_group_pairs else 0.0,
            },
        },
        "policy_versions": policy_versions,
        "hyperparameters": config.model_dump(include=HYPERPARAMETERS),
        "gates": config.gates.model_dump(),
        "metrics": {
            "before": candidate.before.model_dump(),
            "after": candidate.after.model_dump(),
            "comparison": comparison.model_dump(exclude={"samples"}),
            "forgetting": forgetting,
            "code": code,
        },
        "samples": [sample.model_dump() for sample in comparison.samples],
        "timings_s": candidate.timings_s,
        "trigger": trigger.model_dump(mode="json"),
        "result": result.model_dump(mode="json"),
    }


def split_line(card: dict[str, Any]) -> str | None:
    """Where the held-out prompts were before this run, in words (None: a card written before it was recorded)."""
    split = card.get("split") or {}
    if "carried_eval_prompts" not in split:
        return None
    previous = split.get("previous") or {}
    runs = previous.get("runs") or []
    line = (
        f"  held-out prompts: {split['carried_eval_prompts']} held out before"
        + (f" (kept from {', '.join(runs)})" if runs else " (no earlier split recorded)")
        + f", {split['new_eval_prompts']} new, {split['eval_prompts_trained_before']} trained on before"
    )
    if previous.get("rebuilt_runs"):
        line += f"; split record rebuilt from the tagged snapshot: {', '.join(previous['rebuilt_runs'])}"
    if previous.get("unrecorded_runs"):
        reasons = previous.get("not_rebuilt") or {}
        named = (f"{run} ({reasons[run]})" if run in reasons else run for run in previous["unrecorded_runs"])
        line += f"; not kept (no split record): {', '.join(named)}"
    return line


def _dump(interval: Interval | None) -> dict[str, float] | None:
    return None if interval is None else interval.model_dump()
