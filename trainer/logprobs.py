"""Log-probabilities of completions under a model: what the evaluation scores pairs and positives with."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def _accepts_logits_to_keep(model: Any) -> bool:
    """Whether the causal LM (under a PEFT wrapper, if any) can skip the output head on leading positions."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def sequence_logprobs(
    model: Any, tokenizer: PreTrainedTokenizerBase, sequences: Sequence[tuple[list[int], int]], batch_size: int
) -> list[tuple[float, int]]:
    """(sum of log-probs of the completion tokens, number of them) for each (ids, prompt tokens).

    Sequences are batched in order of length (less padding: a chosen answer users shortened no
    longer waits in the width of its long rejected twin); results come back in input order. The
    output head (a vocabulary-wide matrix product and log-sum-exp per position) runs only from the
    batch's earliest completion position on, where the model supports ``logits_to_keep``.
    """
    import torch

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    trims = _accepts_logits_to_keep(model)
    was_training = model.training
    model.eval()
    order = sorted(range(len(sequences)), key=lambda index: len(sequences[index][0]))
    results: list[tuple[float, int]] = [(0.0, 0)] * len(sequences)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = [sequences[index] for index in indices]
            width = max(len(ids) for ids, _ in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (ids, _) in enumerate(batch):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                attention[row, : len(ids)] = 1
            # Position t predicts token t + 1: completion tokens are predicted from prompt_tokens - 1 on.
            offset = min(min(max(prompt_tokens - 1, 0), len(ids) - 1) for ids, prompt_tokens in batch) if trims else 0
            extra = {"logits_to_keep": width - offset} if trims else {}
            output = model(input_ids=input_ids.to(device), attention_mask=attention.to(device), **extra)
            logits = output.logits[:, :-1].float()  # positions offset .. width - 2
            # log softmax at the target only: no second vocabulary-sized tensor.
            targets = logits.gather(-1, input_ids[:, offset + 1 :].to(device).unsqueeze(-1)).squeeze(-1)
            picked_all = targets - torch.logsumexp(logits, dim=-1)
            for row, (index, (ids, prompt_tokens)) in enumerate(zip(indices, batch, strict=True)):
                picked = picked_all[row, max(prompt_tokens - 1, 0) - offset : len(ids) - 1 - offset]
                results[index] = (float(picked.sum()), int(picked.numel()))
    if was_training:
        model.train()
    return results
