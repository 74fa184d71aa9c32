"""Optional vLLM backend: the base model with per-request LoRA adapters (``enable_lora``).

Used only when ``serving.backend = "vllm"`` and the ``vllm`` package is importable (it is not a
dependency of this project: it needs a GPU and its own torch build). vLLM schedules every request
with its own adapter, so versions mix freely in one batch; adapters load on first use.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flywheel.errors import ServingError
from flywheel.serving.backend import Completion, GenerationParams, Message
from flywheel.serving.registry import BASE


def vllm_available() -> bool:
    """Whether the vllm package can be imported here."""
    return importlib.util.find_spec("vllm") is not None


class VllmBackend:
    """vLLM ``LLM`` with LoRA enabled; one ``LoRARequest`` per adapter version."""

    def __init__(self, reference: str, max_loras: int = 4, max_lora_rank: int = 64) -> None:
        if not vllm_available():
            raise ServingError("serving.backend=vllm needs the vllm package; use backend=transformers")
        self.reference = reference
        self.max_loras = max_loras
        self.max_lora_rank = max_lora_rank
        self.llm: Any = None
        self.requests: dict[str, Any] = {}
        self._next_id = 1

    def start(self) -> None:
        """Start the vLLM engine with LoRA support."""
        from vllm import LLM

        self.llm = LLM(
            model=self.reference, enable_lora=True, max_loras=self.max_loras, max_lora_rank=self.max_lora_rank
        )

    def load(self, version: str, adapter_dir: Path) -> None:
        """Register the adapter; vLLM loads it with the first request that names it."""
        from vllm.lora.request import LoRARequest

        if version not in self.requests:
            self.requests[version] = LoRARequest(version, self._next_id, str(adapter_dir))
            self._next_id += 1

    def unload(self, version: str) -> None:
        """Forget the adapter and drop it from the engine."""
        request = self.requests.pop(version, None)
        if request is not None:
            self.llm.llm_engine.remove_lora(request.lora_int_id)

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        """Answer with the chat template, the adapter of ``version`` applied per request."""
        from vllm import SamplingParams

        if version != BASE and version not in self.requests:
            raise ServingError(f"version {version!r} is not loaded")
        sampling = SamplingParams(max_tokens=params.max_new_tokens, temperature=params.temperature)
        outputs = self.llm.chat(
            [list(conversation) for conversation in conversations],
            sampling,
            lora_request=self.requests.get(version),
            use_tqdm=False,
        )
        completions = []
        for output in outputs:
            best = output.outputs[0]
            completions.append(
                Completion(
                    text=best.text,
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(best.token_ids),
                    finish_reason="length" if best.finish_reason == "length" else "stop",
                )
            )
        return completions
