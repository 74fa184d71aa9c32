"""Before/after evaluation: preference accuracy, reward margin and a forgetting check.

* preference accuracy: share of eval pairs where log p(chosen | prompt) > log p(rejected | prompt);
* reward margin: mean of beta * (log p(chosen | prompt) - log p(rejected | prompt)). With the base
  model as DPO's reference, after - before is exactly the mean DPO implicit reward margin;
* forgetting: mean per-token log-likelihood of held-out positive responses, before vs after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flywheel.trainer.config import GateSettings
from flywheel.trainer.events import EvalFigures

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def completion_logprobs(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    max_prompt_length: int,
    max_length: int,
    batch_size: int,
) -> list[tuple[float, int]]:
    """(sum of log-probs of the completion tokens, number of completion tokens) per example."""
    import torch

    device = next(model.parameters()).device
    results: list[tuple[float, int]] = []
    was_training = model.training
    model.eval()
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    with torch.no_grad():
        for start in range(0, len(prompts), batch_size):
            sequences: list[list[int]] = []
            prompt_lengths: list[int] = []
            for prompt, completion in zip(
                prompts[start : start + batch_size], completions[start : start + batch_size], strict=True
            ):
                prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"][-max_prompt_length:]
                completion_ids = tokenizer(completion, add_special_tokens=False)["input_ids"] + eos
                sequences.append((prompt_ids + completion_ids)[:max_length])
                prompt_lengths.append(len(prompt_ids))
            width = max(len(s) for s in sequences)
            input_ids = torch.full((len(sequences), width), pad, dtype=torch.long)
            attention = torch.zeros((len(sequences), width), dtype=torch.long)
            for row, sequence in enumerate(sequences):
                input_ids[row, : len(sequence)] = torch.tensor(sequence)
                attention[row, : len(sequence)] = 1
            logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits.float()
            logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
            targets = input_ids[:, 1:].to(device)
            token_logprobs = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            for row, sequence in enumerate(sequences):
                first, last = prompt_lengths[row] - 1, len(sequence) - 1
                picked = token_logprobs[row, first:last]
                results.append((float(picked.sum()), int(picked.numel())))
    if was_training:
        model.train()
    return results


def evaluate(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[dict[str, str]],
    positives: Sequence[dict[str, str]],
    *,
    beta: float,
    max_prompt_length: int,
    max_length: int,
    batch_size: int,
) -> EvalFigures:
    """Preference accuracy and reward margin on ``pairs``; log-likelihood of ``positives``."""
    lengths = {"max_prompt_length": max_prompt_length, "max_length": max_length, "batch_size": batch_size}
    prompts = [p["prompt"] for p in pairs]
    chosen = completion_logprobs(model, tokenizer, prompts, [p["chosen"] for p in pairs], **lengths)
    rejected = completion_logprobs(model, tokenizer, prompts, [p["rejected"] for p in pairs], **lengths)
    deltas = [c - r for (c, _), (r, _) in zip(chosen, rejected, strict=True)]
    accuracy = sum(d > 0 for d in deltas) / len(deltas) if deltas else 0.0
    margin = beta * sum(deltas) / len(deltas) if deltas else 0.0
    likelihood = None
    if positives:
        scored = completion_logprobs(
            model, tokenizer, [p["prompt"] for p in positives], [p["response"] for p in positives], **lengths
        )
        tokens = sum(n for _, n in scored)
        likelihood = sum(s for s, _ in scored) / tokens if tokens else None
    return EvalFigures(
        preference_accuracy=accuracy,
        reward_margin=margin,
        positives_log_likelihood=likelihood,
        eval_pairs=len(pairs),
        eval_positives=len(positives),
    )


def forgetting_pct(before: EvalFigures, after: EvalFigures) -> float | None:
    """How much the positives' mean log-likelihood fell, in percent (negative = it improved)."""
    if before.positives_log_likelihood is None or after.positives_log_likelihood is None:
        return None
    scale = abs(before.positives_log_likelihood) or 1.0
    return (before.positives_log_likelihood - after.positives_log_likelihood) / scale * 100.0


def apply_gates(before: EvalFigures, after: EvalFigures, gates: GateSettings) -> list[str]:
    """Reasons to reject the adapter; empty means promote."""
    reasons = []
    if after.eval_pairs < gates.min_eval_pairs:
        reasons.append(f"eval_pairs {after.eval_pairs} < min_eval_pairs {gates.min_eval_pairs}")
    accuracy_gain = after.preference_accuracy - before.preference_accuracy
    if accuracy_gain < gates.min_preference_accuracy_gain:
        reasons.append(
            f"preference_accuracy gain {accuracy_gain:+.4f} < required {gates.min_preference_accuracy_gain:+.4f}"
        )
    margin_gain = after.reward_margin - before.reward_margin
    if margin_gain < gates.min_reward_margin_gain:
        reasons.append(f"reward_margin gain {margin_gain:+.4f} < required {gates.min_reward_margin_gain:+.4f}")
    forgetting = forgetting_pct(before, after)
    if forgetting is not None and forgetting > gates.max_forgetting_pct:
        reasons.append(f"forgetting {forgetting:.2f}% > max_forgetting_pct {gates.max_forgetting_pct:.2f}%")
    return reasons
