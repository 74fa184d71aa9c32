"""One DPO + LoRA training pass with TRL, with a rich progress bar."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel.trainer.config import TrainerSettings

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


def _progress_callback(show: bool) -> Any:
    """A ``TrainerCallback`` that drives a rich progress bar over optimizer steps."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("[bold]DPO"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                disable=not show,
            )
            self.task: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.progress.start()
            self.task = self.progress.add_task("train", total=state.max_steps, loss="-")

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs and self.task is not None:
                self.progress.update(self.task, loss=f"{logs['loss']:.4f}")

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.task is not None:
                self.progress.update(self.task, completed=state.global_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.progress.stop()

    return RichProgress()


def checkpointing_for(settings: TrainerSettings, device: str) -> bool:
    """Gradient checkpointing as set, else on CUDA only (TRL turns it on everywhere by default)."""
    if settings.gradient_checkpointing is not None:
        return settings.gradient_checkpointing
    return device == "cuda"


@contextlib.contextmanager
def _tqdm_disabled() -> Iterator[None]:
    """TQDM_DISABLE set for the block, then restored as it was."""
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["TQDM_DISABLE"]
        else:
            os.environ["TQDM_DISABLE"] = before


def precompute_for(settings: TrainerSettings, pairs: int) -> bool:
    """Reference log-probs precomputed as set, else when the run passes over its pairs more than once.

    Precomputing runs the reference forward once per pair up front; without it, it runs once per
    pair per epoch inside the steps. It pays from the second pass on; for a run that a
    ``max_steps`` cap stops within the first pass it would compute pairs never trained on.
    """
    if settings.precompute_ref_log_probs is not None:
        return settings.precompute_ref_log_probs
    per_step = settings.batch_size * settings.gradient_accumulation_steps
    steps_per_epoch = math.ceil(pairs / per_step) if pairs else 0
    if settings.max_steps > 0:
        return steps_per_epoch > 0 and settings.max_steps > steps_per_epoch
    return settings.num_epochs > 1


def train_dpo(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rows: list[dict[str, Any]],
    settings: TrainerSettings,
    work_dir: Path,
    device: str,
    show_progress: bool = False,
    callbacks: Sequence[Any] = (),
) -> Any:
    """Train a LoRA adapter on ``rows`` with DPO (the frozen base is the reference); return the PeftModel.

    Rows become conversational examples for a chat model and plain text otherwise
    (:class:`~flywheel.trainer.conversation.Formatting`), exactly as evaluation formats them.
    ``callbacks``: more ``TrainerCallback``s (the benchmark's step clock).
    """
    import datasets
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    from flywheel.trainer.conversation import Formatting
    from flywheel.trainer.models import uses_bf16

    datasets.disable_progress_bars()
    formatting = Formatting.for_tokenizer(tokenizer)
    dataset = Dataset.from_list([formatting.example(row) for row in rows])
    lora = settings.lora
    peft_config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )
    config = DPOConfig(
        output_dir=str(work_dir),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        learning_rate=settings.learning_rate,
        num_train_epochs=settings.num_epochs,
        max_steps=settings.max_steps,
        beta=settings.beta,
        loss_type=list(settings.loss_type),
        loss_weights=list(settings.loss_weights) if settings.loss_weights is not None else None,
        max_length=settings.max_length,
        bf16=uses_bf16(device),
        gradient_checkpointing=checkpointing_for(settings, device),
        seed=settings.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=device == "cpu",
        dataloader_num_workers=0,
        precompute_ref_log_probs=precompute_for(settings, len(rows)),
        # No-grad forwards, no activations kept: a larger batch than training's fits alike.
        precompute_ref_batch_size=settings.eval_batch_size,
    )
    with _tqdm_disabled():  # TRL's precompute bar reads only TQDM_DISABLE, not disable_tqdm
        trainer = DPOTrainer(
            model=model,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=[_progress_callback(show_progress), *callbacks],
        )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the rich bar (and logging) report progress instead
    outcome = trainer.train()
    log.info("dpo finished", extra={"steps": outcome.global_step, "train_loss": outcome.training_loss})
    return trainer.model
