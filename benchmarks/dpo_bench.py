"""DPO + LoRA throughput of the trainer's own recipe on this machine: pairs/s and tokens/s.

Trains the configured base model (the local SmolLM2 by default) with the trainer's defaults on
coding-assistant pairs from the sample stream, for a fixed number of optimizer steps, and counts
the tokens TRL actually trains on (prompt + chosen and prompt + rejected, as tokenized for training).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from flywheel.config import revised
from flywheel.sample import coding_prompts, keep_code_only
from flywheel.trainer.config import TrainerSettings


def measure_dpo_throughput(settings: TrainerSettings | None = None, steps: int = 4) -> dict[str, Any]:
    """Train ``steps`` optimizer steps; return pairs/s, tokens/s, device, dtype and the recipe measured."""
    from flywheel.trainer.conversation import Formatting, encode_pair
    from flywheel.trainer.models import load_model, load_tokenizer, pick_device, resolve_base_model, uses_bf16
    from flywheel.trainer.train import train_dpo

    settings = settings or TrainerSettings()
    pairs_needed = steps * settings.batch_size * settings.gradient_accumulation_steps
    catalogue = coding_prompts()
    rows = [
        {"prompt": prompt, "chosen": keep_code_only(answer), "rejected": answer, "user_id": "", "turns": []}
        for prompt, answer in (catalogue[i % len(catalogue)] for i in range(pairs_needed))
    ]
    settings = revised(settings, max_steps=steps)
    reference = resolve_base_model(settings)
    device = pick_device(settings.device)
    tokenizer = load_tokenizer(reference)
    model = load_model(reference, device)
    formatting = Formatting.for_tokenizer(tokenizer)
    tokens = sum(
        len(chosen) + len(rejected)
        for (chosen, _), (rejected, _) in (
            encode_pair(tokenizer, formatting.example(row), settings.max_length) for row in rows
        )
    )
    with tempfile.TemporaryDirectory(prefix="flywheel-dpo-bench-") as work_dir:
        started = time.perf_counter()
        train_dpo(model, tokenizer, rows, settings, Path(work_dir), device)
        seconds = time.perf_counter() - started
    return {
        "base_model": settings.base_model,
        "device": device,
        "dtype": "bfloat16" if uses_bf16(device) else "float32",
        "steps": steps,
        "pairs": len(rows),
        "tokens": tokens,
        "seconds": seconds,
        "pairs_per_s": len(rows) / seconds,
        "tokens_per_s": tokens / seconds,
        "recipe": settings.model_dump(include={"loss_type", "loss_weights", "lora", "batch_size", "max_length"}),
    }
