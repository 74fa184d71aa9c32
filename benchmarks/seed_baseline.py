"""The seeds' reference approach, re-implemented as a baseline for ``make bench``.

Seed 000's ``FlywheelLogger``: per event, a python-Levenshtein distance check, a word-list
"safety audit", and a synchronous append of one JSON line to ``dpo_gold_v1.jsonl``
(file opened and closed for every pair). Fed from the same Kafka topic as the flow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import Levenshtein

from flywheel.infra.kafka import read_to_end
from flywheel.settings import Settings


class FlywheelLogger:
    """Seed 000's logger, as written there (minus logging calls)."""

    def __init__(self, dataset_path: Path) -> None:
        self.dataset_path = dataset_path

    def process_telemetry(self, prompt: str, original_output: str, user_edit: str) -> bool:
        distance = Levenshtein.distance(original_output, user_edit)
        similarity_ratio = 1 - (distance / max(len(original_output), len(user_edit), 1))
        if similarity_ratio > 0.95 or similarity_ratio < 0.10:
            return False
        if not self._passes_safety_audit(user_edit):
            return False
        self._append_to_data_lake({"prompt": prompt, "chosen": user_edit, "rejected": original_output})
        return True

    def _passes_safety_audit(self, text: str) -> bool:
        forbidden_words = ["hack", "bypass", "toxic_slur"]
        return not any(word in text.lower() for word in forbidden_words)

    def _append_to_data_lake(self, pair: dict[str, str]) -> None:
        with open(self.dataset_path, "a") as f:
            f.write(json.dumps(pair) + "\n")


def consume_all(settings: Settings, topic: str, handle: Callable[[bytes | None], object]) -> tuple[int, float]:
    """Read ``topic`` from the start to its end, calling ``handle(value)``; returns (count, seconds)."""
    count = 0
    started = time.perf_counter()
    for message in read_to_end(settings.kafka, topic, timeout_s=600):
        handle(message.value())
        count += 1
    return count, time.perf_counter() - started


def run_seed_baseline(settings: Settings, topic: str, output: Path) -> tuple[int, float]:
    """Events/s of the seed approach over the whole topic."""
    output.unlink(missing_ok=True)
    logger = FlywheelLogger(output)

    def handle(value: bytes | None) -> None:
        try:
            event = json.loads(value or b"")
        except (ValueError, UnicodeDecodeError):
            return
        if isinstance(event, dict) and event.get("signal") == "edit" and event.get("final_user_edit"):
            logger.process_telemetry(event["prompt"], event["response"], event["final_user_edit"])

    return consume_all(settings, topic, handle)
