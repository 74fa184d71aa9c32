"""Generation backends: the base model plus LoRA adapters by version, answering batches of chats.

``TransformersBackend`` (default) runs anywhere torch runs: one copy of the base weights, every
loaded adapter attached to it by name (PEFT), the base answered with the adapters disabled; in
float32 the version being answered is merged into the base weights until another is asked for. A
chat model is prompted through its tokenizer's chat template, exactly as the trainer formats
training data; a model without a template gets the messages' text, as the trainer does. Calls
are not thread-safe: the engine serialises them. torch/transformers are imported in ``start``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from flywheel.errors import ServingError
from flywheel.infra.devices import pick_device
from flywheel.serving.registry import BASE

log = logging.getLogger(__name__)

Message = dict[str, str]


@dataclass(frozen=True)
class GenerationParams:
    """Decoding settings of one request; requests with equal params can share a batch."""

    max_new_tokens: int
    temperature: float = 0.0


@dataclass(frozen=True)
class Completion:
    """One generated answer."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]


class Backend(Protocol):
    """What the engine needs from a model runtime."""

    def start(self) -> None:
        """Load the base model."""

    def load(self, version: str, adapter_dir: Path) -> None:
        """Attach a run's LoRA adapter under its version name."""

    def unload(self, version: str) -> None:
        """Detach a version's adapter."""

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        """Answer every conversation with ``version`` (``base`` = no adapter)."""


def render_prompt(tokenizer: Any, conversation: Sequence[Message]) -> tuple[str, bool]:
    """The prompt text of a conversation, and whether the tokenizer should add special tokens.

    A chat model gets its chat template with the assistant's turn opened, as the trainer formats
    training data; a model without a template gets the messages' text, as the trainer does.
    """
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(list(conversation), add_generation_prompt=True, tokenize=False)
        return str(text), False
    return "\n\n".join(message["content"] for message in conversation), True


class TransformersBackend:
    """Base model + PEFT adapters in one process, batched left-padded generation."""

    def __init__(
        self, reference: str, device: str = "auto", max_prompt_tokens: int = 1024, merge_adapters: bool | None = None
    ) -> None:
        self.reference = reference
        self.device_preference = device
        self.max_prompt_tokens = max_prompt_tokens
        self.merge_preference = merge_adapters
        self.merging = False
        self.device = "cpu"
        self.tokenizer: Any = None
        self.model: Any = None
        self.adapters: set[str] = set()
        self.merged: str | None = None  # the version whose adapter is in the base weights now
        self.unmergeable: set[str] = set()  # adapters PEFT cannot merge: answered unmerged

    def start(self) -> None:
        """Load tokenizer and base model (bf16 on CUDA, float32 elsewhere)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = pick_device(self.device_preference)
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.reference)
            dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
            model: Any = AutoModelForCausalLM.from_pretrained(self.reference, dtype=dtype)
        except (OSError, ValueError) as exc:
            raise ServingError(f"cannot load base model {self.reference!r}: {exc}") from exc
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"  # generation continues from the right end of every row
        tokenizer.truncation_side = "left"  # a long conversation keeps its latest turns
        self.tokenizer = tokenizer
        self.model = model.to(self.device).eval()
        # Merging and unmerging rounds once per switch: harmless in float32, not in bf16.
        self.merging = self.merge_preference if self.merge_preference is not None else dtype == torch.float32
        log.info(
            "base model loaded", extra={"reference": self.reference, "device": self.device, "merging": self.merging}
        )

    def load(self, version: str, adapter_dir: Path) -> None:
        """Attach the adapter at ``adapter_dir`` as ``version``."""
        from peft import PeftModel

        if version in self.adapters:
            return
        try:
            if isinstance(self.model, PeftModel):
                self.model.load_adapter(str(adapter_dir), adapter_name=version)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(adapter_dir), adapter_name=version)
        except (OSError, ValueError, KeyError) as exc:
            raise ServingError(f"cannot load adapter {version} from {adapter_dir}: {exc}") from exc
        self.model.eval()
        self.adapters.add(version)
        log.info("adapter loaded", extra={"model_version": version, "adapter": str(adapter_dir)})

    def unload(self, version: str) -> None:
        """Detach ``version``; the last adapter stays attached (PEFT needs one), unused and disabled."""
        if version not in self.adapters or len(self.adapters) == 1:
            return
        if self.merged == version:
            self._unmerge()
        self.model.delete_adapter(version)
        self.adapters.discard(version)
        self.unmergeable.discard(version)
        log.info("adapter unloaded", extra={"model_version": version})

    def _unmerge(self) -> None:
        self.model.unmerge_adapter()
        self.merged = None

    def _merge(self, version: str) -> None:
        """Put ``version``'s adapter into the base weights (none for ``base``), taking out another first."""
        if self.merged == version:
            return
        if self.merged is not None:
            self._unmerge()
        if version == BASE or version in self.unmergeable:
            return
        self.model.set_adapter(version)
        try:
            self.model.merge_adapter(adapter_names=[version])
        except (RuntimeError, ValueError) as exc:  # e.g. a LoRA bias on a layer without one
            self.model.unmerge_adapter()  # the layers merged before the one that refused
            self.unmergeable.add(version)
            log.warning("adapter served unmerged", extra={"model_version": version, "reason": str(exc)})
            return
        self.merged = version

    def render(self, conversation: Sequence[Message]) -> tuple[str, bool]:
        """The prompt text of a conversation, and whether the tokenizer should add special tokens."""
        return render_prompt(self.tokenizer, conversation)

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        """Greedy (temperature 0) or sampled answers of ``version`` for a batch of conversations."""
        import torch

        if version != BASE and version not in self.adapters:
            raise ServingError(f"version {version!r} is not loaded")
        rendered = [self.render(conversation) for conversation in conversations]
        encoded = self.tokenizer(
            [text for text, _ in rendered],
            add_special_tokens=rendered[0][1],
            padding=True,
            truncation=True,
            max_length=self.max_prompt_tokens,
            return_tensors="pt",
        ).to(self.device)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": params.temperature} if params.temperature > 0 else {"do_sample": False}
        )
        if self.merging and self.adapters:
            self._merge(version)
        adapters_off = self.model.disable_adapter() if version == BASE and self.adapters else contextlib.nullcontext()
        with torch.inference_mode(), adapters_off:
            if version != BASE and self.merged != version:  # a merged adapter is already in the weights
                self.model.set_adapter(version)
            output = self.model.generate(
                **encoded,
                max_new_tokens=params.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
                **sampling,
            )
        width = encoded["input_ids"].shape[1]
        completions = []
        for row, generated in enumerate(output[:, width:].tolist()):
            stop = self.tokenizer.eos_token_id
            finished = stop in generated
            tokens = generated[: generated.index(stop)] if finished else generated
            tokens = [token for token in tokens if token != self.tokenizer.pad_token_id]
            completions.append(
                Completion(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                    prompt_tokens=int(encoded["attention_mask"][row].sum()),
                    completion_tokens=len(tokens),
                    finish_reason="stop" if finished else "length",
                )
            )
        return completions
