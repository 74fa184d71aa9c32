"""``make run``: one whole turn of the flywheel on the embedded local stack.

local broker + gateway -> sample stream over HTTP (and some bad messages straight to Kafka)
-> curation flow until drained -> threshold trigger -> DPO + LoRA on the local model
-> evaluation before/after on held-out prompts -> promote or reject, said in words.

Two streams go in: the general sample (every curation path: unsafe edits, a spammer, bad input,
positives) and a coding assistant's users who all share one habit (they keep the code block of
an answer and delete the rest). The habit is what the model should learn; the demo's budget is
sized so that 2 CPU cores show it in a few minutes, with the trainer's default gates.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from flywheel.console import quiet_model_libraries
from flywheel.flows.runner import run_until_drained
from flywheel.infra.broker import ensure_topics, start_broker
from flywheel.liked import liked_events
from flywheel.report import print_summary
from flywheel.sample import coding_events, produce, sample_events
from flywheel.schemas.events import Signal
from flywheel.settings import Settings, local_settings

# Seed 000's webhook payload and seed 001's FeedbackSignal, exactly as the seeds show them.
SEED_TELEMETRY = {
    "prompt": "Explain quantum computing to a 5 year old.",
    "original_llm_output": "Quantum computing utilizes qubits which exist in a state of superposition...",
    "final_user_edit": "Imagine a coin spinning in the air. While it's spinning, it's both heads and tails at the "
    "same time! That's how quantum computers work.",
}
_SIGNALS = {signal.value for signal in Signal}
SEED_FEEDBACK = {
    "request_id": "req-seed-001",
    "signal_type": "edit",
    "user_query": "Write a python function",
    "ai_response": "def foo(): pass",
    "user_correction": "def calculate_tax(amount):\n    return amount * 0.2",
    "metadata": {"user_id": "user-seed"},
}


@dataclass
class DemoOptions:
    """What the demo does; defaults are sized for a laptop (a few minutes on 2 cores)."""

    events: int = 600
    coding_events: int = 600
    # Reactions to prose answers users liked as they were (flywheel/liked.py): positives no pair holds.
    liked_events: int = 200
    directory: Path = Path(".flywheel/demo")
    train: bool = True
    threshold: int = 150
    # DPO on a 135M model costs about 20-40 CPU-seconds per optimizer step of 4 pairs: the demo
    # trains 16 steps (64 pairs) at a higher learning rate instead of 2 epochs over every pair.
    max_steps: int = 16
    learning_rate: float = 2e-4


def demo_settings(bootstrap: str, options: DemoOptions) -> Settings:
    """The embedded defaults, isolated under the demo directory, with a demo-sized budget.

    Only the budget differs (16 optimizer steps at a higher learning rate instead of 2 epochs,
    shorter sequences, fewer positives, shorter generations); the loss, LoRA, beta, the split and
    every gate are the trainer's defaults.
    """
    root = options.directory
    return local_settings(
        bootstrap,
        root,
        curation={"sampling": {"default_rate": 1.0}},  # every liked answer is a positive: forgetting has evidence
        trainer={
            "threshold": options.threshold,
            "max_steps": options.max_steps,
            "learning_rate": options.learning_rate,
            "max_length": 160,
            "max_prompt_length": 96,
            "max_positives": 48,
            "eval_max_new_tokens": 64,
            "eval_batch_size": 16,
            "registry_url": str((root / "registry").resolve()),
        },
    )


def run_demo(console: Console, options: DemoOptions) -> None:
    """Run the whole loop once and print what happened at each stage."""
    # The bundled broker keeps messages in memory only, so offsets start again at 0 each
    # run: the demo's catalog must start empty too, or its ledger would skip the new data.
    shutil.rmtree(options.directory, ignore_errors=True)
    options.directory.mkdir(parents=True)
    broker = start_broker(log_file=options.directory / "broker.log")
    try:
        settings = demo_settings(broker.bootstrap_servers, options)
        console.rule("[bold]1. local stack")
        console.print(f"broker {broker.bootstrap_servers} (Tansu, memory), catalog {options.directory}/catalog.db")
        ensure_topics(settings.kafka, settings.topics)

        console.rule("[bold]2. ingest: HTTP gateway -> Kafka")
        _ingest(console, settings, options)

        console.rule("[bold]3. curate: Kafka -> Bytewax flow -> Iceberg (exactly-once)")
        print_summary(console, run_until_drained(settings.flow_config()))

        console.rule("[bold]3b. review: a reviewer's correction -> gateway -> flow -> trusted DPO pair")
        from flywheel.review_demo import review_one

        reviewed = review_one(console, settings)

        if options.train:
            console.rule("[bold]4. train: threshold trigger -> DPO + LoRA -> evaluate -> gate")
            from flywheel.trainer.loop import turn_once
            from flywheel.trainer.verdict import headline

            quiet_model_libraries()
            report = turn_once(settings.trainer_config(), show_progress=True)
            for line in report.summary_lines():
                console.print(line, markup=False, highlight=False)
            for result in report.results:
                console.print(headline(result), style="bold", markup=False, highlight=False)
            if reviewed is not None:  # is the reviewer pair in the data the run read (its tagged snapshot)?
                from flywheel.review_demo import trained_line

                last = report.results[-1] if report.results else None
                tag = last.snapshot_tag if last else None
                console.print(trained_line(settings, reviewed, last.run_id if last else None, tag), markup=False)
    finally:
        broker.stop()


def _ingest(console: Console, settings: Settings, options: DemoOptions) -> None:
    """Send the sample stream through the gateway; bad messages go straight to Kafka."""
    import httpx

    from flywheel.gateway_process import running_gateway

    key = secrets.token_urlsafe(16)
    valid: list[dict[str, Any]] = []
    broken: list[tuple[str, bytes]] = []
    stream = [
        *sample_events(options.events),
        *coding_events(options.coding_events),
        *liked_events(options.liked_events),
    ]
    for thread_id, value in stream:
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, dict) and decoded.get("signal") in _SIGNALS and isinstance(decoded.get("event_id"), str):
            valid.append(decoded)
        else:
            broken.append((thread_id, value))
    # The sample stream is dated from 2026-11-01, a backfill posted once: no age limit on it.
    log_file = options.directory / "gateway.log"
    with running_gateway(settings, {"demo": key}, log_file=log_file, max_past_s=0) as base_url:
        headers = {"X-API-Key": key}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            accepted = 0
            for start in range(0, len(valid), 200):
                response = client.post("/v1/events", json={"events": valid[start : start + 200]})
                response.raise_for_status()
                accepted += len(response.json()["event_ids"])
            seeds = [client.post("/v1/telemetry", json=SEED_TELEMETRY), client.post("/v1/feedback", json=SEED_FEEDBACK)]
            refused = client.post("/v1/events", json={"signal": "edit", "prompt": 1})
            unauthenticated = httpx.post(f"{base_url}/v1/events", json=valid[0])
    console.print(
        f"gateway {base_url}: 202 for {accepted} sample events in batches of 200 "
        f"({options.coding_events} from coding-assistant users who keep only the code of an answer, "
        f"{options.liked_events} from the same users liking prose answers about ideas as they were)"
    )
    console.print(f"seed payloads: /v1/telemetry -> {seeds[0].status_code}, /v1/feedback -> {seeds[1].status_code}")
    console.print(
        f"a malformed event -> {refused.status_code}, a request without a key -> {unauthenticated.status_code}"
    )
    produce(settings.kafka, settings.topics.interactions, iter(broken))
    console.print(f"{len(broken)} undecodable/invalid messages produced straight to Kafka (they must reach the DLQ)")
