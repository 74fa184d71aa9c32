"""DPO + LoRA throughput of the trainer's own recipe on this machine: pairs/s and tokens/s.

Trains the configured base model (the local SmolLM2 by default) with the trainer's defaults
(``train_dpo``: TRL ``DPOTrainer`` + PEFT LoRA, batch size, max_length, losses) on
coding-assistant pairs from the sample stream, for a few optimizer steps. Steady state: the
first optimizer step (allocator and kernel warm-up) and the trainer's set-up (tokenizing, PEFT
wrapping) are timed apart; the rate is over the steps after the first. Tokens are those TRL
trains on, without padding: prompt + chosen and prompt + rejected, as tokenized for training
(``encode_pair``), as the mean per pair of the rows times the pairs measured.

Model FLOPs are estimated as ``6 * N`` per trained token (N: the model's parameters): the
policy's forward (2N), its backward through the frozen weights (about 2N: activation
gradients; LoRA's weight gradients are small) and the reference's forward (2N); the forward
that gradient checkpointing (TRL's default) computes again is not counted, as is usual for model
FLOPs. On CUDA the achieved rate is also stated as a share of the GPU's dense bf16 peak when the
GPU is known.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flywheel.config import revised
from flywheel.sample import coding_prompts, keep_code_only
from flywheel.trainer.config import TrainerSettings

# Optimizer steps measured by default: the first is warm-up, the others are the steady rate.
# Small enough for a CPU (SmolLM2-135M, batch 4, max_length 512: about a minute per few steps).
CPU_STEPS = 4
CUDA_STEPS = 20
# Dense bf16 tensor-core peaks in TFLOP/s (no sparsity), from NVIDIA's data sheets, by a
# fragment of ``torch.cuda.get_device_name()``; the first fragment found in the name wins.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989.4),
    ("H200", 989.4),
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),
    ("A100", 312.0),
    ("L40S", 362.05),
    ("L40", 181.05),
    ("L4", 121.0),
)


def bf16_peak_tflops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU by its name (None when the name is not in the table)."""
    return next((peak for fragment, peak in BF16_PEAK_TFLOPS if fragment in device_name), None)


def _step_clock() -> Any:
    """A ``TrainerCallback`` recording when each optimizer step ends (CUDA synchronized first)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.began = 0.0
            self.ends: list[float] = []
            self.options: dict[str, Any] = {}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.began = _synchronized_now()
            # TRL's choices that move the rate (DPOConfig defaults unless the trainer sets them).
            self.options = {
                name: getattr(args, name, None)
                for name in ("gradient_checkpointing", "padding_free", "precompute_ref_log_probs")
            }

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.ends.append(_synchronized_now())

    return StepClock()


def _synchronized_now() -> float:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()  # kernels are asynchronous: a step ends when its kernels have
    return time.perf_counter()


def measure_dpo_throughput(settings: TrainerSettings | None = None, steps: int | None = None) -> dict[str, Any]:
    """Train a few optimizer steps; return steady pairs/s, tokens/s, model TFLOP/s and the recipe measured."""
    import torch

    from flywheel.infra.devices import pick_device
    from flywheel.trainer.conversation import Formatting, encode_pair
    from flywheel.trainer.models import load_model, load_tokenizer, resolve_base_model, uses_bf16
    from flywheel.trainer.train import train_dpo

    settings = settings or TrainerSettings()
    when, load_before = datetime.now(UTC).isoformat(timespec="seconds"), os.getloadavg()[0]
    device = pick_device(settings.device)
    steps = steps or (CUDA_STEPS if device == "cuda" else CPU_STEPS)
    if steps < 2:
        raise ValueError(f"the DPO bench needs at least 2 optimizer steps (one is warm-up), got {steps}")
    pairs_per_step = settings.batch_size * settings.gradient_accumulation_steps
    catalogue = coding_prompts()
    rows = [
        {"prompt": prompt, "chosen": keep_code_only(answer), "rejected": answer, "user_id": "", "turns": []}
        for prompt, answer in (catalogue[i % len(catalogue)] for i in range(steps * pairs_per_step))
    ]
    settings = revised(settings, max_steps=steps)
    reference = resolve_base_model(settings)
    tokenizer = load_tokenizer(reference)
    model = load_model(reference, device)
    parameters = int(model.num_parameters())
    formatting = Formatting.for_tokenizer(tokenizer)
    tokens_per_pair = sum(
        len(chosen) + len(rejected)
        for (chosen, _), (rejected, _) in (
            encode_pair(tokenizer, formatting.example(row), settings.max_length) for row in rows
        )
    ) / len(rows)
    clock = _step_clock()
    with tempfile.TemporaryDirectory(prefix="flywheel-dpo-bench-") as work_dir:
        started = time.perf_counter()
        train_dpo(model, tokenizer, rows, settings, Path(work_dir), device, callbacks=[clock])
        whole = time.perf_counter() - started
    ends: list[float] = clock.ends
    measured_steps = len(ends) - 1
    seconds = ends[-1] - ends[0]
    pairs = measured_steps * pairs_per_step
    tokens = tokens_per_pair * pairs
    tokens_per_s = tokens / seconds if seconds > 0 else 0.0
    model_tflops = 6 * parameters * tokens_per_s / 1e12
    result: dict[str, Any] = {
        "when": when,
        "load_average_before_after": [load_before, os.getloadavg()[0]],
        "base_model": settings.base_model,
        "parameters": parameters,
        "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else f"cpu x {torch.get_num_threads()} threads",
        "dtype": "bfloat16" if uses_bf16(device) else "float32",
        "steps": len(ends),
        "measured_steps": measured_steps,
        "pairs": pairs,
        "tokens": round(tokens),
        "tokens_per_pair": tokens_per_pair,
        "seconds": seconds,
        "pairs_per_s": pairs / seconds if seconds > 0 else 0.0,
        "tokens_per_s": tokens_per_s,
        "first_step_seconds": ends[0] - clock.began,
        "setup_seconds": clock.began - started,
        "whole_seconds": whole,
        "model_tflops_per_s": model_tflops,
        "recipe": settings.model_dump(
            include={"loss_type", "loss_weights", "lora", "batch_size", "gradient_accumulation_steps", "max_length"}
        )
        | clock.options,
    }
    if device == "cuda":
        peak = bf16_peak_tflops(result["device_name"])
        result["bf16_peak_tflops"] = peak
        result["vs_bf16_peak"] = model_tflops / peak if peak else None
    return result


def _loss_log() -> Any:
    """A ``TrainerCallback`` keeping the training loss TRL logs at each step."""
    from transformers import TrainerCallback

    class LossLog(TrainerCallback):
        def __init__(self) -> None:
            self.losses: list[float] = []

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    return LossLog()


def measure_reference_precompute(
    settings: TrainerSettings | None = None, pairs: int = 16, epochs: float = 2.0, rounds: int = 2
) -> dict[str, Any]:
    """Whole DPO runs of ``epochs`` over ``pairs``, reference log-probs per step vs precomputed (TRL).

    Each run is timed whole, the precompute included (it runs before the first step), wall and
    process CPU, from a fresh copy of the base model; after a one-step warm-up, ``rounds`` rounds
    in the order per step, precomputed, precomputed, per step, ... so that a drift of the
    machine's speed falls on both alike; the ratios are of the totals. The losses of every step
    are compared: precomputing must change what a run costs, not what it learns.
    """
    from flywheel.infra.devices import pick_device
    from flywheel.trainer.models import load_model, load_tokenizer, resolve_base_model
    from flywheel.trainer.train import train_dpo

    settings = settings or TrainerSettings()
    device = pick_device(settings.device)
    catalogue = coding_prompts()
    rows = [
        {"prompt": prompt, "chosen": keep_code_only(answer), "rejected": answer, "user_id": "", "turns": []}
        for prompt, answer in (catalogue[i % len(catalogue)] for i in range(pairs))
    ]
    reference = resolve_base_model(settings)
    tokenizer = load_tokenizer(reference)

    def train(precompute: bool, run_rows: list[dict[str, Any]], run_epochs: float) -> dict[str, Any]:
        recipe = revised(settings, num_epochs=run_epochs, max_steps=-1, precompute_ref_log_probs=precompute)
        model = load_model(reference, device)
        losses = _loss_log()
        with tempfile.TemporaryDirectory(prefix="flywheel-dpo-ref-") as work_dir:
            wall, cpu = time.perf_counter(), time.process_time()
            train_dpo(model, tokenizer, run_rows, recipe, Path(work_dir), device, callbacks=[losses])
            figures = {
                "seconds": _synchronized_now() - wall,
                "cpu_seconds": time.process_time() - cpu,
                "losses": losses.losses,
            }
        del model
        gc.collect()  # the trained copy (held in reference cycles) must not weigh on the next run
        return figures

    train(False, rows[: settings.batch_size], 1.0)  # warm-up: allocator, kernels, first backward
    runs: dict[str, list[dict[str, Any]]] = {"per_step": [], "precomputed": []}
    for round_ in range(rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for precompute in order:
            runs["precomputed" if precompute else "per_step"].append(train(precompute, rows, epochs))
    totals = {
        name: {
            "seconds": sum(run["seconds"] for run in mode_runs),
            "cpu_seconds": sum(run["cpu_seconds"] for run in mode_runs),
        }
        for name, mode_runs in runs.items()
    }
    compared = [
        abs(a - b)
        for per_step, precomputed in zip(runs["per_step"], runs["precomputed"], strict=True)
        for a, b in zip(per_step["losses"], precomputed["losses"], strict=False)
    ]
    return {
        "pairs": pairs,
        "epochs": epochs,
        "rounds": rounds,
        "device": device,
        "runs": runs,
        "per_step": totals["per_step"],
        "precomputed": totals["precomputed"],
        "wall_ratio": totals["precomputed"]["seconds"] / totals["per_step"]["seconds"],
        "cpu_ratio": totals["precomputed"]["cpu_seconds"] / totals["per_step"]["cpu_seconds"],
        "steps_compared": len(compared),
        "largest_loss_difference": max(compared, default=None),
    }


def main(argv: list[str]) -> None:
    """Measure and merge the result into the bench results file under ``dpo`` (what ``make bench`` runs too)."""
    from flywheel.benchmarks.run import RESULTS

    result = measure_dpo_throughput(steps=int(argv[0]) if argv else None)
    result["reference_precompute"] = measure_reference_precompute()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results.pop("training", None)  # the placeholder of results files before this bench
    results["dpo"] = result
    Path(RESULTS).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
