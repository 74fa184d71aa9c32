"""A test double of the part of vLLM 0.33.0 the vLLM backend calls, for machines without vLLM (or a GPU).

It implements only that documented interface, with vLLM's names and checks: ``LLM(**engine_args)``
(``EngineArgs`` keywords), ``LLM.generate(prompts, sampling_params, *, use_tqdm, lora_request)``
returning ``RequestOutput``-shaped objects, ``LLM.llm_engine.add_lora / remove_lora / list_loras``,
``LoRARequest(lora_name, lora_int_id, lora_path)`` (id >= 1, a path; compared by name) and
``SamplingParams``. It generates nothing: an answer names the adapter that produced it
(``base`` without one), so a test can see which version answered each request. The real classes are
checked against the backend's calls in ``tests/serving/test_vllm_backend.py`` where vllm is installed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flywheel.serving.vllm_backend import VllmApi


@dataclass(frozen=True, eq=False)
class LoRARequestDouble:
    """``vllm.lora.request.LoRARequest``'s three required fields and checks."""

    lora_name: str
    lora_int_id: int
    lora_path: str = ""

    def __post_init__(self) -> None:
        if self.lora_int_id < 1:
            raise ValueError(f"id must be > 0, got {self.lora_int_id}")
        if not self.lora_path:
            raise ValueError("lora_path cannot be empty")

    def __eq__(self, other: object) -> bool:  # vLLM compares adapters by name
        return isinstance(other, LoRARequestDouble) and other.lora_name == self.lora_name

    def __hash__(self) -> int:
        return hash(self.lora_name)


@dataclass(frozen=True)
class SamplingParamsDouble:
    """The ``vllm.SamplingParams`` fields the backend sets."""

    n: int = 1
    max_tokens: int | None = 16
    temperature: float = 1.0
    skip_special_tokens: bool = True


@dataclass(frozen=True)
class CompletionOutputDouble:
    """``vllm.CompletionOutput``: the fields the backend reads."""

    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass(frozen=True)
class RequestOutputDouble:
    """``vllm.RequestOutput``: the fields the backend reads."""

    request_id: str
    prompt_token_ids: list[int] | None
    outputs: list[CompletionOutputDouble]
    finished: bool = True


@dataclass
class EngineDouble:
    """``LLM.llm_engine``'s LoRA calls: which adapter ids are loaded, and every call made."""

    loras: dict[int, LoRARequestDouble] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def add_lora(self, lora_request: LoRARequestDouble) -> bool:
        """Load an adapter; a path without an adapter config fails as vLLM's loader does."""
        self.calls.append(("add_lora", lora_request))
        if lora_request.lora_path.endswith("broken"):
            raise ValueError(f"no adapter_config.json in {lora_request.lora_path}")
        added = lora_request.lora_int_id not in self.loras
        self.loras[lora_request.lora_int_id] = lora_request
        return added

    def remove_lora(self, lora_id: int) -> bool:
        """Drop an adapter by id."""
        self.calls.append(("remove_lora", lora_id))
        return self.loras.pop(lora_id, None) is not None

    def list_loras(self) -> set[int]:
        """The loaded adapter ids."""
        return set(self.loras)


class LLMDouble:
    """``vllm.LLM``: keeps its engine arguments; answers ``<adapter name> <prompt length>``."""

    def __init__(self, **engine_args: Any) -> None:
        self.engine_args = engine_args
        self.llm_engine = EngineDouble()
        self.batches: list[tuple[list[dict[str, Any]], SamplingParamsDouble, LoRARequestDouble | None]] = []
        self._lock = threading.Lock()

    def generate(
        self,
        prompts: list[dict[str, Any]],
        sampling_params: SamplingParamsDouble | None = None,
        *,
        use_tqdm: bool = True,
        lora_request: LoRARequestDouble | None = None,
    ) -> list[RequestOutputDouble]:
        """One output per prompt, in order; the adapter must be enabled and within the batch limit."""
        params = sampling_params or SamplingParamsDouble()
        if lora_request is not None and not self.engine_args.get("enable_lora"):
            raise ValueError("LoRA is not enabled")
        with self._lock:
            self.batches.append((list(prompts), params, lora_request))
        name = lora_request.lora_name if lora_request else "base"
        limit = params.max_tokens or 16
        outputs = []
        for index, prompt in enumerate(prompts):
            ids = prompt["prompt_token_ids"]
            words = [name, str(len(ids)), "and", "more", "words"][:limit]
            reason = "length" if limit < 5 else "stop"
            completion = CompletionOutputDouble(0, " ".join(words), list(range(len(words))), reason)
            outputs.append(RequestOutputDouble(str(index), ids, [completion]))
        return outputs


def vllm_double() -> VllmApi:
    """The backend's three vLLM constructors, as test doubles."""
    return VllmApi(llm=LLMDouble, sampling_params=SamplingParamsDouble, lora_request=LoRARequestDouble)
