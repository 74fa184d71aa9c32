"""Model-server test parts: adapters whose answers name their version, a registry with runs, a live server."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flywheel.infra.broker import free_port
from flywheel.serving.backend import Completion, GenerationParams, Message
from tests.support.synthetic import build_tiny_model

WAIT_S = 30.0  # how long a test waits for an answer or a held batch


class WorkerKilled(BaseException):
    """Not an ``Exception``: what no per-batch handler catches, so the worker thread ends."""


class GatedBackend:
    """An in-memory backend: answers each conversation with its last message and records each batch.

    ``hold`` makes a batch wait for ``release``.

    A message ``boom`` fails its batch (``RuntimeError``); ``die`` raises :class:`WorkerKilled`.
    """

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def start(self) -> None:
        """Nothing to load."""

    def load(self, version: str, adapter_dir: Path) -> None:
        """No adapters in these tests."""

    def unload(self, version: str) -> None:
        """No adapters in these tests."""

    def generate(
        self, version: str, conversations: Sequence[Sequence[Message]], params: GenerationParams
    ) -> list[Completion]:
        texts = [c[-1]["content"] for c in conversations]
        with self.lock:
            self.batches.append(texts)
        self.started.set()
        if not self.release.wait(WAIT_S):
            raise RuntimeError("the test never released the batch")
        if "die" in texts:
            raise WorkerKilled("the worker is gone")
        if "boom" in texts:
            raise RuntimeError("the backend failed")
        return [Completion(text, 1, 1, "stop") for text in texts]


def forced_word_adapter(model_dir: Path, target: Path, word: str) -> Path:
    """A LoRA adapter (lm_head, with bias) that makes the model say ``word`` at every step."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    token = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(f" {word}"))
    if len(token) != 1:
        raise ValueError(f"{word!r} is not one token of the tiny tokenizer: {token}")
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir),
        LoraConfig(r=1, target_modules=["lm_head"], lora_bias=True),
    )
    for name, parameter in model.named_parameters():
        if "lora_B" in name and name.endswith("bias"):
            with torch.no_grad():
                parameter[token[0]] = 50.0
    model.save_pretrained(target)
    return target


def add_run(registry_root: Path, run_id: str, adapter_dir: Path, status: str = "promoted") -> None:
    """Lay a completed run out as the trainer does: ``runs/<id>/adapter/`` and ``model_card.json``."""
    run = registry_root / "runs" / run_id
    shutil.copytree(adapter_dir, run / "adapter", dirs_exist_ok=True)
    (run / "model_card.json").write_text(json.dumps({"run_id": run_id, "status": status}))


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("model server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def chatty_model(
    directory: Path,
    prompts: list[str],
    steps: int = 120,
    lr: float = 3e-3,
    seed: int = 0,
    topics: list[str] | None = None,
) -> Path:
    """A tiny Llama taught to open most answers with "Sure!": the habit simulated users delete.

    The answer after the opener names the prompt's topic (``topics``, one per prompt; by default
    :func:`prompt_for`'s), so the model has something to say once DPO teaches it to drop the opener.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tests.support.synthetic import TOPICS

    topics = topics or [TOPICS[(i // 6) % len(TOPICS)] for i in range(len(prompts))]
    # Prompts end with a newline, so the answer's first token carries no leading space whether it is
    # generated after the prompt or tokenized with it for training.
    texts = [f"{p}Sure!\nHere is a clear answer about {topic}." for p, topic in zip(prompts, topics, strict=True)]
    variants = [t.replace("Sure!\n", "") for t in texts]
    build_tiny_model(directory, texts=[*texts, *variants], seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    # Twice the width of the plain tiny model: the 32-wide one collapses under any DPO step that moves it.
    config = LlamaConfig.from_pretrained(directory)
    config.hidden_size, config.intermediate_size, config.num_attention_heads, config.num_key_value_heads = 64, 128, 4, 4
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    # Two prompts in three get "Sure!" in three answers of five (a habit held with a moderate
    # probability, as real models do); the third never does, so some answers need no edit.
    chatty = [t for i, t in enumerate(texts) if i % 3]
    corpus = [*chatty, *chatty, *chatty, *variants, *variants]
    batch = tokenizer([t + tokenizer.eos_token for t in corpus], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(directory)
    return directory
