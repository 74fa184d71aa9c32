"""Train tiny models for real (no broker) and check the evidence the gates see.

* chat formatting: training (TRL's own tokenization) and evaluation see the same tokens;
* a model trained into collapse is rejected by a degeneration guard with its reason;
* an honest gain measured on too few held-out prompts is rejected for lack of evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flywheel.schemas.conversation import stored_turns
from flywheel.trainer.candidate import merge_for_evaluation, train_candidate
from flywheel.trainer.config import TrainerSettings
from flywheel.trainer.conversation import Formatting, encode_pair, generation_prompt_ids
from flywheel.trainer.dataset import split_pairs
from flywheel.trainer.logprobs import sequence_logprobs
from flywheel.trainer.models import load_model, load_tokenizer
from tests.support.synthetic import build_tiny_model, pair_rows, positive_rows

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat Llama (ChatML template) that first learned to give the terse answers users then edit."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chat"), chat=True, pretrain_steps=200)


def _rows(count: int) -> list[dict[str, Any]]:
    return [{**row, "turns": []} for row in pair_rows(count).to_pylist()]


def _settings(model: Path, **overrides: Any) -> TrainerSettings:
    base: dict[str, Any] = {
        "base_model": str(model),
        "max_length": 64,
        "max_prompt_length": 32,
        "eval_max_new_tokens": 24,
        "batch_size": 8,
        "eval_fraction": 0.25,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
    }
    return TrainerSettings(**{**base, **overrides})


def test_chat_training_and_evaluation_tokenize_alike(chat_model: Path, tmp_path: Path) -> None:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    tokenizer = load_tokenizer(str(chat_model))
    formatting = Formatting.for_tokenizer(tokenizer)
    assert formatting.chat
    turns = stored_turns(
        {"conversation": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    )
    assert turns is not None and len(turns) == 2
    assert stored_turns({"conversation": [{"role": "robot"}]}) is None and stored_turns({}) == []
    rows = [{**row, "turns": turns if i == 0 else []} for i, row in enumerate(_rows(4))]
    examples = [formatting.example(row) for row in rows]
    assert examples[0]["prompt"][:2] == turns and examples[0]["chosen"][0]["role"] == "assistant"

    trainer = DPOTrainer(
        model=load_model(str(chat_model), "cpu"),
        args=DPOConfig(output_dir=str(tmp_path), max_length=64, report_to="none", use_cpu=True, disable_tqdm=True),
        train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer,
    )
    for example, tokenized in zip(examples, trainer.train_dataset, strict=True):
        (chosen, prompt_tokens), (rejected, _) = encode_pair(tokenizer, example, None)
        assert chosen[:prompt_tokens] == tokenized["prompt_ids"]
        assert (
            chosen[prompt_tokens:] == tokenized["chosen_ids"] and rejected[prompt_tokens:] == tokenized["rejected_ids"]
        )
        # Generation starts from the very prompt tokens training used: the assistant's turn opened.
        assert generation_prompt_ids(tokenizer, example["prompt"], 1000) == tokenized["prompt_ids"]
    assert tokenizer.decode(trainer.train_dataset[1]["prompt_ids"]).endswith("<|im_start|>assistant\n")


def test_plain_model_uses_plain_text(tmp_path: Path) -> None:
    tokenizer = load_tokenizer(str(build_tiny_model(tmp_path / "plain")))
    formatting = Formatting.for_tokenizer(tokenizer)
    example = formatting.example(_rows(1)[0])
    assert not formatting.chat and isinstance(example["prompt"], str) and isinstance(example["chosen"], str)
    (ids, prompt_tokens), _ = encode_pair(tokenizer, example, None)
    assert ids[-1] == tokenizer.eos_token_id and 0 < prompt_tokens < len(ids)


def test_scoring_completions_only_matches_full_log_softmax(chat_model: Path) -> None:
    """The output head skipped on prompt positions changes no figure (checked against a plain log softmax)."""
    import torch

    tokenizer = load_tokenizer(str(chat_model))
    model = load_model(str(chat_model), "cpu")
    formatting = Formatting.for_tokenizer(tokenizer)
    sequences = [seq for row in _rows(6) for seq in encode_pair(tokenizer, formatting.example(row), 64)]
    sequences.append((sequences[0][0], len(sequences[0][0])))  # nothing to score: the whole text is prompt
    scored = sequence_logprobs(model, tokenizer, sequences, batch_size=5)
    with torch.no_grad():
        for (ids, prompt_tokens), (total, count) in zip(sequences, scored, strict=True):
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, :-1].float(), dim=-1)
            expected = logprobs[torch.arange(len(ids) - 1), torch.tensor(ids[1:])][max(prompt_tokens - 1, 0) :]
            assert count == expected.numel()
            assert total == pytest.approx(float(expected.sum()), abs=1e-3)
    assert scored[-1] == (0.0, 0)


def test_the_candidate_is_measured_merged_in_float32_only(chat_model: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    adapted = get_peft_model(load_model(str(chat_model), "cpu"), config).eval()
    ids = torch.tensor([list(range(5, 25))])
    with torch.no_grad():
        unmerged = adapted(input_ids=ids).logits
        assert merge_for_evaluation(adapted)
        merged = adapted(input_ids=ids).logits
        layers = [module for module in adapted.modules() if hasattr(module, "merged_adapters")]
        assert layers and all(layer.merged for layer in layers)  # in the weights, not run beside them
        adapted.unmerge_adapter()
        assert not any(layer.merged for layer in layers)
        with adapted.disable_adapter():
            base = adapted(input_ids=ids).logits
    assert torch.allclose(merged, unmerged, atol=1e-4) and not torch.allclose(base, unmerged, atol=1e-2)
    assert not merge_for_evaluation(adapted.to(torch.bfloat16))  # bf16 is measured as it is served: unmerged


def test_precomputed_reference_log_probs_train_as_one_forward_per_step(chat_model: Path, tmp_path: Path) -> None:
    """TRL's precomputed reference log-probs change what a run costs, never what it learns."""
    from transformers import TrainerCallback

    from flywheel.trainer.train import train_dpo

    class Losses(TrainerCallback):
        def __init__(self) -> None:
            self.seen: list[float] = []
            self.columns: list[str] = []

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.columns = list(kwargs["train_dataloader"].dataset.column_names)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if logs and "loss" in logs:
                self.seen.append(float(logs["loss"]))

    tokenizer = load_tokenizer(str(chat_model))
    runs = []
    for precompute in (False, True):
        losses = Losses()
        settings = _settings(chat_model, num_epochs=3, learning_rate=5e-3, precompute_ref_log_probs=precompute)
        model = load_model(str(chat_model), "cpu")
        train_dpo(model, tokenizer, _rows(16), settings, tmp_path / str(precompute), "cpu", callbacks=[losses])
        runs.append(losses.seen)
        # precomputed: the reference's log-probs are columns of the data, not forwards of each step
        assert ("ref_chosen_logps" in losses.columns) is precompute
    per_step, precomputed = runs
    assert len(per_step) == len(precomputed) == 6  # 3 epochs of 2 batches of 8
    assert per_step[-1] < per_step[0]  # it trained: the losses moved
    assert precomputed == pytest.approx(per_step, abs=1e-4)


def test_collapse_is_rejected_by_a_guard(chat_model: Path) -> None:
    settings = _settings(chat_model, learning_rate=0.5, num_epochs=30, loss_type=["sigmoid"], loss_weights=None)
    candidate = train_candidate(
        str(chat_model), "cpu", split_pairs(_rows(48), 0.25), positive_rows(16).to_pylist(), settings
    )
    assert not candidate.promoted
    guards = [reason for reason in candidate.reasons if reason.startswith("guard ")]
    assert guards, candidate.reasons
    assert candidate.after.empty_or_truncated_rate.value > candidate.before.empty_or_truncated_rate.value
    assert candidate.comparison.dpo_reward_accuracy.value == 1.0  # what TRL reports looks perfect meanwhile


def test_honest_gain_on_too_few_prompts_lacks_evidence(chat_model: Path) -> None:
    settings = _settings(chat_model, learning_rate=5e-3, max_steps=12)
    candidate = train_candidate(
        str(chat_model), "cpu", split_pairs(_rows(48), 0.25), positive_rows(16).to_pylist(), settings
    )
    assert candidate.eval_prompts < settings.gates.min_eval_prompts
    assert not candidate.promoted
    assert candidate.reasons[0] == (
        f"not enough evidence: {candidate.eval_prompts} held-out prompts < min_eval_prompts 30"
    )
    assert not [reason for reason in candidate.reasons if reason.startswith("guard ")], candidate.reasons
    assert candidate.comparison.dpo_reward_margin.low > 0  # the preference was learned, honestly
    assert candidate.comparison.forgetting_pct is not None and candidate.before.eval_positives == 16
