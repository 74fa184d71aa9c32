"""Optional vLLM backend: the base model with one LoRA adapter per model version (``enable_lora``).

Used when ``serving.backend = "vllm"``. vLLM is not a dependency of this project: it needs a CUDA
GPU and pins its own torch, transformers and fastapi (see the ``vllm`` extra in pyproject.toml).
Written against **vLLM 0.33.0** (:data:`VLLM_VERSION`); the calls it makes, with that version's
signatures:

* ``vllm.LLM(**engine_args)``: every key is a field of ``vllm.EngineArgs`` (``model``,
  ``enable_lora``, ``max_loras``, ``max_lora_rank``, ``max_cpu_loras``, ...);
* ``LLM.generate(prompts, sampling_params, *, use_tqdm, lora_request)`` with ``TokensPrompt``
  dicts (``{"prompt_token_ids": [...]}``) and one ``LoRARequest`` (or None) for the batch;
* ``LLM.llm_engine.add_lora(LoRARequest) -> bool`` and ``remove_lora(lora_int_id) -> bool``;
* ``vllm.lora.request.LoRARequest(lora_name, lora_int_id, lora_path)``: the id must be >= 1 and
  unique per adapter; requests compare and hash by ``lora_name``;
* ``vllm.SamplingParams(n, max_tokens, temperature, skip_special_tokens)``: temperature 0 is greedy;
* ``RequestOutput.prompt_token_ids`` and ``.outputs[0]`` (``text``, ``token_ids``,
  ``finish_reason``: ``stop``, ``length``, ``abort``, ``error`` or ``repetition``).

Every decision is a pure function or a small state object here, tested without vLLM
(``tests/serving/test_vllm_backend.py``): the engine arguments and the LoRA rank sized from the
registry's adapter configs, the adapter ids per version, the prompt, the sampling parameters and
the mapping of outputs. The prompt is built here, not by vLLM's chat renderer: the base model's
tokenizer chat template (:func:`render_prompt`, shared with the transformers backend and the
trainer's format), tokenized, cut from the left like the transformers backend, and passed as
token ids, so both backends prompt a model identically. A swap (``load``/``unload``, called by the
engine on promotion and rollback) adds the adapter to the running engine before any request
names it, so a bad adapter fails the swap and serving keeps its old routes.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flywheel.errors import ServingError
from flywheel.serving.backend import Completion, GenerationParams, Message, render_prompt
from flywheel.serving.config import ServingConfig, VllmSettings
from flywheel.serving.registry import BASE, RegistryView

log = logging.getLogger(__name__)

VLLM_VERSION = "0.33.0"
# vllm.config.lora.MaxLoRARanks in 0.33.0: the only values EngineArgs.max_lora_rank accepts.
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
MISSING_VLLM = (
    f"serving.backend=vllm needs the vllm package (vllm=={VLLM_VERSION}, a CUDA GPU, its own environment: "
    "pip install 'data-flywheel[vllm]'); set FLYWHEEL_SERVING__BACKEND=transformers to serve without it"
)


def vllm_available() -> bool:
    """Whether the vllm package can be imported here."""
    return importlib.util.find_spec("vllm") is not None


@dataclass(frozen=True)
class VllmApi:
    """The three vLLM constructors the backend calls; :meth:`load` takes them from the vllm package."""

    llm: Callable[..., Any]
    sampling_params: Callable[..., Any]
    lora_request: Callable[..., Any]

    @classmethod
    def load(cls) -> VllmApi:
        """vLLM's ``LLM``, ``SamplingParams`` and ``LoRARequest``; a clear error when vllm is missing."""
        if not vllm_available():
            raise ServingError(MISSING_VLLM)
        vllm = importlib.import_module("vllm")
        lora = importlib.import_module("vllm.lora.request")
        installed = getattr(vllm, "__version__", "unknown")
        if installed != VLLM_VERSION:
            log.warning(
                "vllm version differs from the one this backend was written for",
                extra={"installed": installed, "pinned": VLLM_VERSION},
            )
        return cls(llm=vllm.LLM, sampling_params=vllm.SamplingParams, lora_request=lora.LoRARequest)


# --- engine arguments


def adapter_rank(adapter_config: Mapping[str, Any]) -> int:
    """The largest LoRA rank in a PEFT adapter config (``r``, and any per-module ``rank_pattern``)."""
    ranks = [adapter_config.get("r"), *(adapter_config.get("rank_pattern") or {}).values()]
    valid = [rank for rank in ranks if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0]
    if not valid:
        raise ServingError(f"adapter config has no LoRA rank: {dict(adapter_config)}")
    return max(valid)


def supported_rank(rank: int) -> int:
    """The smallest rank vLLM accepts as ``max_lora_rank`` that holds ``rank``."""
    for supported in LORA_RANKS:
        if supported >= rank:
            return supported
    raise ServingError(f"LoRA rank {rank} is above vLLM's largest max_lora_rank {LORA_RANKS[-1]}")


def lora_rank_for(settings: VllmSettings, adapter_ranks: Iterable[int], trainer_rank: int) -> int:
    """``max_lora_rank``: the configured one, else the largest of the registry's and the trainer's ranks."""
    if settings.max_lora_rank:
        return settings.max_lora_rank
    return supported_rank(max([trainer_rank, *adapter_ranks]))


def engine_args(reference: str, settings: VllmSettings, max_lora_rank: int) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` (``EngineArgs`` fields): the base model with LoRA enabled."""
    args: dict[str, Any] = {
        "model": reference,
        "enable_lora": True,
        "max_loras": settings.max_loras,
        "max_lora_rank": max_lora_rank,
        "max_cpu_loras": settings.max_loras,
        "gpu_memory_utilization": settings.gpu_memory_utilization,
        "dtype": settings.dtype,
        "enforce_eager": settings.enforce_eager,
        "seed": settings.seed,
        "disable_log_stats": True,
    }
    if settings.max_model_len is not None:
        args["max_model_len"] = settings.max_model_len
    return args


# --- adapters


@dataclass(frozen=True)
class LoraSlot:
    """One version's adapter as vLLM names it: ``LoRARequest(lora_name, lora_int_id, lora_path)``."""

    lora_name: str
    lora_int_id: int
    lora_path: str

    def fields(self) -> dict[str, Any]:
        """The ``LoRARequest`` keyword arguments."""
        return {"lora_name": self.lora_name, "lora_int_id": self.lora_int_id, "lora_path": self.lora_path}


@dataclass
class LoraSlots:
    """Which versions are loaded, and the adapter id of every version ever seen.

    vLLM wants an id >= 1 unique per adapter. A version keeps its id for the life of the process,
    so a rollback to a version unloaded earlier loads it under the id it had, and no id ever names
    two adapters.
    """

    ids: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, LoraSlot] = field(default_factory=dict)

    def assign(self, version: str, adapter_dir: Path) -> LoraSlot:
        """The slot of ``version`` at ``adapter_dir``, with a new id if it never had one."""
        if version == BASE:
            raise ServingError("the base model has no adapter")
        lora_id = self.ids.setdefault(version, len(self.ids) + 1)
        slot = LoraSlot(version, lora_id, str(adapter_dir))
        self.loaded[version] = slot
        return slot

    def release(self, version: str) -> LoraSlot | None:
        """Forget that ``version`` is loaded (its id stays reserved); its slot, if it was loaded."""
        return self.loaded.pop(version, None)

    def slot(self, version: str) -> LoraSlot | None:
        """The adapter a request of ``version`` uses (None for ``base``); an error if it is not loaded."""
        if version == BASE:
            return None
        if version not in self.loaded:
            raise ServingError(f"version {version!r} is not loaded")
        return self.loaded[version]


# --- requests and answers


def prompt_ids(tokenizer: Any, conversation: Sequence[Message], max_prompt_tokens: int) -> list[int]:
    """The token ids of a conversation's prompt; a long one keeps its latest tokens (the latest turns)."""
    text, special = render_prompt(tokenizer, conversation)
    ids = list(tokenizer(text, add_special_tokens=special)["input_ids"])
    return ids[-max_prompt_tokens:]


def sampling_kwargs(params: GenerationParams) -> dict[str, Any]:
    """``vllm.SamplingParams`` keyword arguments of a request (one answer; temperature 0 is greedy)."""
    return {
        "n": 1,
        "max_tokens": params.max_new_tokens,
        "temperature": params.temperature,
        "skip_special_tokens": True,
    }


def completion_of(output: Any) -> Completion:
    """Our answer from a vLLM ``RequestOutput``; an aborted or failed request is an error."""
    best = output.outputs[0]
    reason = best.finish_reason
    if reason in ("abort", "error"):
        raise ServingError(f"vLLM ended the request: {reason}")
    return Completion(
        text=best.text,
        prompt_tokens=len(output.prompt_token_ids or []),
        completion_tokens=len(best.token_ids),
        # "repetition" (vLLM stopped a looping answer) is a stop, as OpenAI's reasons go.
        finish_reason="length" if reason == "length" else "stop",
    )


class VllmBackend:
    """vLLM ``LLM`` with LoRA enabled; one ``LoRARequest`` per model version."""

    def __init__(self, config: ServingConfig, registry: RegistryView, api: VllmApi | None = None) -> None:
        self.reference = config.base_model
        self.settings = config.serving.vllm
        self.max_prompt_tokens = config.serving.max_prompt_tokens
        self.trainer_rank = config.lora_rank
        self.registry = registry
        self.api = api
        self.max_lora_rank = 0
        self.slots = LoraSlots()
        self.llm: Any = None
        self.tokenizer: Any = None

    def start(self) -> None:
        """Start the engine with LoRA sized for every adapter in the registry; load the tokenizer."""
        from transformers import AutoTokenizer  # a dependency of vllm, and of the trainer

        api = self.api or VllmApi.load()
        ranks = [adapter_rank(c) for run in self.registry.runs() if (c := self.registry.adapter_config(run))]
        self.max_lora_rank = lora_rank_for(self.settings, ranks, self.trainer_rank)
        self.tokenizer = AutoTokenizer.from_pretrained(self.reference)
        self.llm = api.llm(**engine_args(self.reference, self.settings, self.max_lora_rank))
        self.api = api
        log.info("vllm engine started", extra={"reference": self.reference, "max_lora_rank": self.max_lora_rank})

    def load(self, version: str, adapter_dir: Path) -> None:
        """Add the adapter to the running engine, so the first request that names it finds it there."""
        if version in self.slots.loaded:
            return
        try:
            rank = adapter_rank(json.loads((adapter_dir / "adapter_config.json").read_text()))
        except (OSError, ValueError) as exc:
            raise ServingError(f"cannot read adapter {version} at {adapter_dir}: {exc}") from exc
        if rank > self.max_lora_rank:
            raise ServingError(
                f"adapter {version} has LoRA rank {rank}, above the engine's max_lora_rank {self.max_lora_rank}: "
                f"restart serving with FLYWHEEL_SERVING__VLLM__MAX_LORA_RANK={supported_rank(rank)}"
            )
        slot = self.slots.assign(version, adapter_dir)
        try:
            self.llm.llm_engine.add_lora(self._api.lora_request(**slot.fields()))
        except Exception as exc:  # vLLM raises what the adapter's loader raised
            self.slots.release(version)
            raise ServingError(f"vLLM cannot load adapter {version} from {adapter_dir}: {exc}") from exc
        log.info("adapter loaded", extra={"model_version": version, "lora_int_id": slot.lora_int_id})

    def unload(self, version: str) -> None:
        """Remove the adapter from the engine; its id stays reserved for it."""
        slot = self.slots.release(version)
        if slot is not None:
            self.llm.llm_engine.remove_lora(slot.lora_int_id)
            log.info("adapter unloaded", extra={"model_version": version, "lora_int_id": slot.lora_int_id})

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        """Answer every conversation with ``version``'s adapter (none for ``base``), in one vLLM batch."""
        slot = self.slots.slot(version)
        api = self._api
        prompts = [
            {"prompt_token_ids": prompt_ids(self.tokenizer, conversation, self.max_prompt_tokens)}
            for conversation in conversations
        ]
        outputs = self.llm.generate(
            prompts,
            api.sampling_params(**sampling_kwargs(params)),
            use_tqdm=False,
            lora_request=api.lora_request(**slot.fields()) if slot else None,
        )
        if len(outputs) != len(prompts):
            raise ServingError(f"vLLM answered {len(outputs)} of {len(prompts)} prompts")
        return [completion_of(output) for output in outputs]

    @property
    def _api(self) -> VllmApi:
        if self.api is None or self.llm is None:
            raise ServingError("the vllm backend has not started")
        return self.api
