"""The seeds' reference approach, re-implemented as a baseline for ``make bench``.

Seed 000's ``FlywheelLogger``: per event, a python-Levenshtein distance check, a word-list
"safety audit", and a synchronous append of one JSON line to ``dpo_gold_v1.jsonl``
(file opened and closed for every pair). Fed from the same Kafka topic as the flow by
``contestants.seed_logger``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import Levenshtein


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


def seed_handler(logger: FlywheelLogger) -> Callable[[bytes | None], None]:
    """The seed's per-message work: ``json.loads``, then the logger for edits with a final text."""

    def handle(value: bytes | None) -> None:
        try:
            event = json.loads(value or b"")
        except (ValueError, UnicodeDecodeError):
            return
        if isinstance(event, dict) and event.get("signal") == "edit" and event.get("final_user_edit"):
            logger.process_telemetry(event["prompt"], event["response"], event["final_user_edit"])

    return handle
