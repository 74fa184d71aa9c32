"""Train a candidate adapter and judge it against the base model (and the served run): no broker, no catalog.

The consumer feeds it one snapshot's pairs; tests and benchmarks feed it rows directly.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.conversation import Formatting, encode_pair
from flywheel.trainer.dataset import PairSplit, ShareCap, cap_training_set, mix_in_positives
from flywheel.trainer.evaluate import (
    HeldOutPrompt,
    Measurement,
    compare,
    figures,
    held_out_groups,
    held_out_prompts,
    measure,
)
from flywheel.trainer.events import Comparison, ModelFigures
from flywheel.trainer.forgetting import positive_groups, unseen_positives
from flywheel.trainer.gates import apply_gates
from flywheel.trainer.split import pair_prompt_key, user_prompt_key

log = logging.getLogger(__name__)

# The name the served run's adapter is loaded under, beside the candidate's ("default").
SERVED_ADAPTER = "served"


@dataclass
class Candidate:
    """A trained adapter with its evidence and the gates' decision."""

    model: Any  # the PeftModel
    formatting: Formatting
    train_pairs: int
    cap: ShareCap
    eval_prompts: int
    eval_positives: int
    before: ModelFigures
    after: ModelFigures
    comparison: Comparison
    reasons: list[str]
    timings_s: dict[str, float]
    # Distinct prompts (as the split counts them) of the pairs trained on: after caps, with positives.
    train_prompts: int = 0
    # Train pairs whose chosen and rejected tokens were the same once cut to max_length: not trained on.
    truncated_alike: int = 0

    @property
    def promoted(self) -> bool:
        """No gate objected."""
        return not self.reasons


def held_out_positives(
    positives: list[dict[str, str]], split: PairSplit, settings: TrainerSettings
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(positives kept for the forgetting check, positives that may be mixed into training).

    Without mixing, no positive is ever trained on: all are held out. With mixing, a positive
    goes to its prompt's side of the pairs' split (:meth:`PairSplit.holds_out`), so a held-out
    prompt is never trained on either way, nor a held-out pair's chosen answer under another prompt.
    """
    if not settings.mix_positives:
        return positives, []
    held = [p for p in positives if split.holds_out(p["prompt"], settings.eval_fraction, p["response"])]
    return held, [p for p in positives if p not in held]


def differ_within_length(
    rows: list[dict[str, Any]], tokenizer: Any, formatting: Formatting, max_length: int
) -> tuple[list[dict[str, Any]], int]:
    """(the rows whose chosen and rejected still differ once cut to ``max_length`` tokens, how many did not).

    TRL keeps each sequence's first ``max_length`` tokens: where a long prompt or a long shared
    start leaves the users' change past the cut, both sides are the same tokens and DPO gets no
    preference from the pair. Counted as trained on, such pairs would overstate the evidence.
    """
    kept = []
    for row in rows:
        chosen, rejected = encode_pair(tokenizer, formatting.example(row), max_length)
        if chosen[0] != rejected[0]:
            kept.append(row)
    return kept, len(rows) - len(kept)


def merge_for_evaluation(adapted: Any) -> bool:
    """Merge the adapter into float32 base weights for the candidate's measurement; whether it merged.

    Merged, the adapter costs nothing per layer (unmerged LoRA made greedy generation ~35% slower
    on CPU) and the answers are the same to float rounding. bf16 stays unmerged, as serving keeps
    it (its rounding would make the measured model differ from the served one); so does an adapter
    PEFT cannot merge. The caller unmerges before the adapter is saved.
    """
    import torch

    if next(adapted.parameters()).dtype != torch.float32:
        return False
    try:
        adapted.merge_adapter()
    except (RuntimeError, ValueError) as exc:
        adapted.unmerge_adapter()  # the layers merged before the one that refused
        log.warning("candidate measured unmerged", extra={"reason": str(exc)})
        return False
    return True


def measure_served(
    adapted: Any,
    adapter: Path,
    tokenizer: Any,
    formatting: Formatting,
    prompts: list[HeldOutPrompt],
    pairs: list[dict[str, Any]],
    settings: TrainerSettings,
) -> Measurement:
    """The served run's answers: its adapter loaded beside the candidate's, measured, then unloaded."""
    adapted.load_adapter(str(adapter), adapter_name=SERVED_ADAPTER)
    adapted.set_adapter(SERVED_ADAPTER)
    try:
        return measure(adapted, tokenizer, formatting, prompts, pairs, [], settings)
    finally:
        adapted.set_adapter("default")
        adapted.delete_adapter(SERVED_ADAPTER)


def against_served(
    comparison: Comparison,
    version: str,
    served: Measurement,
    candidate: Measurement,
    prompts: list[HeldOutPrompt],
    pairs: list[dict[str, Any]],
    trained: frozenset[str] | None,
    settings: TrainerSettings,
) -> Comparison:
    """``comparison`` with the candidate judged against the served run on the held-out prompts it did not train on.

    ``trained``: the held-out prompts whose group holds a prompt on the served run's train side
    (:attr:`PairSplit.trained_by`). The served run may have learnt their corrections, so they are
    left out of this comparison (and counted); the comparison with the base keeps them, as neither
    the base nor the candidate trained on them. None: the served run has no split record (a run
    before them), so no prompt can be left out and the card and the evidence say so.
    """
    keep = [trained is None or prompt.key not in trained for prompt in prompts]
    keep_pairs = [trained is None or pair_prompt_key(row) not in trained for row in pairs]
    kept = [prompt for prompt, flag in zip(prompts, keep, strict=True) if flag]
    update: dict[str, Any] = {
        "served_version": version,
        "served_prompts": len(kept),
        "served_excluded_prompts": None if trained is None else len(prompts) - len(kept),
    }
    if kept:
        against = compare(served.only(keep, keep_pairs), candidate.only(keep, keep_pairs), kept, settings)
        update |= {
            "served_closer": against.closer,
            "served_farther": against.farther,
            "served_net_closer": against.net_closer,
            "served_similarity_gain": against.similarity_gain,
            "served_content_gain": against.content_gain,
        }
    return comparison.model_copy(update=update)


def train_candidate(
    reference: str,
    device: str,
    split: PairSplit,
    positives: list[dict[str, str]],
    settings: TrainerSettings,
    show_progress: bool = False,
    served: tuple[str, Path] | None = None,
    served_missing: str | None = None,
) -> Candidate:
    """Measure the base, train DPO + LoRA on the capped train side, measure the candidate, apply the gates.

    ``served``: the run users are served now and its local adapter folder (None: the base). Its
    answers to the same prompts are measured too, and a candidate worse than it is rejected; held-out
    prompts whose group it trained on are left out of that comparison (:func:`against_served`).
    ``served_missing``: the run users are served when its adapter is not in the registry; the
    candidate cannot be compared with it, and the gates reject it for want of evidence.
    """
    from flywheel.trainer.models import load_model, load_tokenizer
    from flywheel.trainer.train import train_dpo

    tokenizer = load_tokenizer(reference)
    model = load_model(reference, device)
    formatting = Formatting.for_tokenizer(tokenizer)
    eval_positives, mixable = held_out_positives(positives, split, settings)
    train_rows = split.train[: settings.max_train_pairs] if settings.max_train_pairs else split.train
    train_rows, cap = cap_training_set(train_rows, settings.max_prompt_share, settings.max_user_share)
    train_rows, truncated_alike = differ_within_length(train_rows, tokenizer, formatting, settings.max_length)
    if truncated_alike:
        log.warning("train pairs alike once cut", extra={"pairs": truncated_alike, "max_length": settings.max_length})
    if mixable:
        train_rows = mix_in_positives(train_rows, mixable)
    prompts = held_out_prompts(split.eval, formatting)

    clock = time.monotonic()
    base = measure(model, tokenizer, formatting, prompts, split.eval, eval_positives, settings)
    timings = {"evaluate_base": time.monotonic() - clock}
    clock = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="flywheel-dpo-") as work_dir:
        adapted = train_dpo(model, tokenizer, train_rows, settings, Path(work_dir), device, show_progress)
    timings["train"] = time.monotonic() - clock
    clock = time.monotonic()
    merged = merge_for_evaluation(adapted)
    try:
        after = measure(adapted, tokenizer, formatting, prompts, split.eval, eval_positives, settings)
    finally:
        if merged:
            adapted.unmerge_adapter()
    timings["evaluate_candidate"] = time.monotonic() - clock
    current = None
    if served is not None:
        clock = time.monotonic()
        current = measure_served(adapted, served[1], tokenizer, formatting, prompts, split.eval, settings)
        timings["evaluate_served"] = time.monotonic() - clock

    before_figures, after_figures = figures(base, prompts, settings), figures(after, prompts, settings)
    unseen = unseen_positives(eval_positives, train_rows)
    comparison = compare(
        base, after, prompts, settings, unseen, held_out_groups(split.eval), positive_groups(eval_positives)
    )
    if served is not None and current is not None:
        trained = split.trained_by.get(served[0])
        if trained is None:
            log.warning(
                "the served run has no split record: compared on every held-out prompt", extra={"run_id": served[0]}
            )
        comparison = against_served(comparison, served[0], current, after, prompts, split.eval, trained, settings)
    elif served_missing is not None:
        missing = "its adapter is not in the registry"
        comparison = comparison.model_copy(update={"served_version": served_missing, "served_missing": missing})
    reasons = apply_gates(before_figures, after_figures, comparison, settings.gates)
    log.info(
        "candidate judged",
        extra={"closer": comparison.closer, "farther": comparison.farther, "prompts": comparison.prompts, **timings},
    )
    return Candidate(
        model=adapted,
        formatting=formatting,
        train_pairs=len(train_rows),
        cap=cap,
        eval_prompts=len(prompts),
        eval_positives=len(eval_positives),
        before=before_figures,
        after=after_figures,
        comparison=comparison,
        reasons=reasons,
        timings_s=timings,
        train_prompts=len({user_prompt_key(row) for row in train_rows}),
        truncated_alike=truncated_alike,
    )
