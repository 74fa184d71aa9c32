"""Merged adapters answer exactly as unmerged ones, across switches between versions and the base."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel.serving.backend import GenerationParams, TransformersBackend
from flywheel.serving.registry import BASE
from tests.support.synthetic import build_tiny_model

pytestmark = [pytest.mark.slow]
CHATS = [[{"role": "user", "content": "Please explain kafka offsets"}], [{"role": "user", "content": "git rebase?"}]]
# Every switch the engine can make: adapter -> base -> other adapter -> adapter -> ... -> base.
SEQUENCE = ("rA", BASE, "rB", "rA", "rB", "rB", BASE, "rA")


def _random_adapter(model_dir: Path, target: Path, seed: int) -> Path:
    """An all-linear LoRA with random (not zero) B: it changes every layer, as a trained one does."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir), config).save_pretrained(target)
    return target


def _answers(model_dir: Path, adapters: dict[str, Path], merge: bool) -> tuple[TransformersBackend, list[list[str]]]:
    backend = TransformersBackend(str(model_dir), "cpu", merge_adapters=merge)
    backend.start()
    for version, adapter in adapters.items():
        backend.load(version, adapter)
    answers = []
    for version in SEQUENCE:
        answers.append([c.text for c in backend.generate(version, CHATS, GenerationParams(max_new_tokens=8))])
        assert backend.merged == (version if merge and version != BASE else None)
        assert not backend.unmergeable
    return backend, answers


def test_merged_adapters_answer_as_unmerged(tmp_path: Path) -> None:
    import torch

    model_dir = build_tiny_model(tmp_path / "model")
    adapters = {
        "rA": _random_adapter(model_dir, tmp_path / "rA", 1),
        "rB": _random_adapter(model_dir, tmp_path / "rB", 2),
    }
    merged_backend, merged = _answers(model_dir, adapters, merge=True)
    _, unmerged = _answers(model_dir, adapters, merge=False)
    assert merged == unmerged
    by_version = dict(zip(SEQUENCE, merged, strict=False))
    assert len({tuple(answers) for answers in by_version.values()}) == 3  # the versions really differ

    # After every switch the base weights are the base model's again (to float32 rounding).
    merged_backend.generate(BASE, CHATS, GenerationParams(max_new_tokens=1))
    fresh = TransformersBackend(str(model_dir), "cpu")
    fresh.start()
    weights = dict(merged_backend.model.get_base_model().named_parameters())
    for name, value in fresh.model.named_parameters():
        served = weights[name] if name in weights else weights[name.replace(".weight", ".base_layer.weight")]
        assert torch.allclose(served, value, atol=1e-6), name
