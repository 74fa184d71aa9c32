"""Synthetic preference data and a tiny random Llama, for tests and the offline demo.

The pairs carry a learnable preference (the chosen answer is polite and complete, the rejected
one terse), so a few DPO steps on a tiny model move preference accuracy measurably.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from flywheel.schemas.tables import DPO_PAIRS, POSITIVE_EXAMPLES, contracts

TOPICS = ("python lists", "sql joins", "kafka offsets", "git rebase", "unit tests", "http caching")
VERBS = ("explain", "summarise", "fix", "describe", "compare", "document")
POLICY_VERSION = "synthetic-1"


def _lineage(index: int, offset_base: int) -> dict[str, Any]:
    occurred = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=index)
    return {
        "thread_id": f"t-{index % 97}",
        "request_id": f"req-{index}",
        "user_id": f"u-{index % 13}",
        "segment": ("free", "pro", "team")[index % 3],
        "model_id": "smollm2-135m",
        "model_version": "v1",
        "source_topic": "flywheel.interactions.v1",
        "source_partition": index % 3,
        "source_offset": offset_base + index,
        "occurred_at": occurred,
        "curated_at": occurred + timedelta(seconds=5),
    }


def prompt_for(index: int) -> str:
    """A deterministic prompt."""
    return f"Please {VERBS[index % len(VERBS)]} {TOPICS[(index // 6) % len(TOPICS)]} case {index}."


def pair_rows(count: int, start: int = 0, seed: int = 0) -> pa.Table:
    """``count`` DPO pair rows matching the ``dpo_pairs`` contract (indices ``start..start+count``)."""
    rng = random.Random(seed + start)
    rows = []
    for index in range(start, start + count):
        topic = TOPICS[(index // 6) % len(TOPICS)]
        chosen = f"Sure! Here is a clear answer about {topic}: it works step by step. Thank you."
        rejected = f"no. {topic} {rng.choice(['idk', 'whatever', 'meh'])}"
        event_id = f"evt-{seed}-{index}"
        rows.append(
            {
                "pair_id": hashlib.sha256(event_id.encode()).hexdigest()[:32],
                "event_id": event_id,
                "prompt": prompt_for(index),
                "chosen": chosen,
                "rejected": rejected,
                "similarity": 0.3,
                "edit_distance": abs(len(chosen) - len(rejected)),
                "edit_inserts": 10,
                "edit_deletes": 2,
                "edit_replaces": 5,
                "safety_scores": [("toxicity", 0.01)],
                "policy_version": POLICY_VERSION,
                **_lineage(index, 0),
            }
        )
    return pa.Table.from_pylist(rows, schema=contracts()[DPO_PAIRS].arrow_schema)


def positive_rows(count: int, start: int = 0) -> pa.Table:
    """``count`` positive example rows matching the ``positive_examples`` contract."""
    rows = []
    for index in range(start, start + count):
        event_id = f"pos-{index}"
        rows.append(
            {
                "example_id": hashlib.sha256(event_id.encode()).hexdigest()[:32],
                "event_id": event_id,
                "signal": "thumbs_up",
                "rating": None,
                "prompt": prompt_for(index),
                "response": f"Sure! Here is a clear answer about {TOPICS[index % len(TOPICS)]}. Thank you.",
                "stratum": "pro|v1",
                "sampling_rate": 0.01,
                "policy_version": POLICY_VERSION,
                **_lineage(index, 100_000),
            }
        )
    return pa.Table.from_pylist(rows, schema=contracts()[POSITIVE_EXAMPLES].arrow_schema)


def corpus(count: int = 400) -> list[str]:
    """Text covering the synthetic prompts and answers, for training a tokenizer on the fly."""
    pairs = pair_rows(count).to_pylist()
    positives = positive_rows(count // 4).to_pylist()
    return [row["prompt"] + " " + row["chosen"] + " " + row["rejected"] for row in pairs] + [
        row["prompt"] + " " + row["response"] for row in positives
    ]


# ChatML, as SmolLM2-Instruct's template renders it (without the default system prompt).
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_model(
    directory: Path, texts: Sequence[str] | None = None, seed: int = 0, chat: bool = False, pretrain_steps: int = 0
) -> Path:
    """Save a 2-layer Llama and a byte-level BPE tokenizer trained on ``texts`` to ``directory``.

    ``chat`` gives the tokenizer a ChatML template (eos ``<|im_end|>``); ``pretrain_steps`` > 0 first
    teaches the model the synthetic answers (as chat turns when ``chat``), so that it answers in
    sentences rather than noise and degeneration can be told from its normal output.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = list(texts) if texts is not None else corpus()
    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>"]
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="<|im_end|>" if chat else "</s>",
        unk_token="<unk>",
    )
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64 if pretrain_steps else 32,
        intermediate_size=128 if pretrain_steps else 64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=fast.pad_token_id,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    if pretrain_steps:
        _pretrain(model, fast, chat, pretrain_steps, seed)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def _pretrain(model: Any, tokenizer: Any, chat: bool, steps: int, seed: int) -> None:
    """Plain next-token training on prompt + rejected answer: the answers users then edit are its own."""
    import torch

    rows = pair_rows(240, seed=seed).to_pylist()
    if chat:
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["rejected"]}],
                tokenize=False,
            )
            for r in rows
        ]
    else:
        texts = [r["prompt"] + r["rejected"] + tokenizer.eos_token for r in rows]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        picks = torch.randint(0, len(texts), (16,), generator=generator)
        loss = model(
            input_ids=batch["input_ids"][picks], attention_mask=batch["attention_mask"][picks], labels=labels[picks]
        ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def append_rows(table: Any, rows: pa.Table) -> None:
    """Append contract-shaped rows to an Iceberg table (re-typed to the table's own field ids)."""
    table.append(pa.Table.from_pylist(rows.to_pylist(), schema=table.schema().as_arrow()))
